// One plugin on one vhost: the key of everything the host keeps per plugin instance (settings,
// runtime toggles, running instances, chart history). Kept as a typed pair in nested maps, so no
// key is ever built by joining strings and split apart again.
// The fields are named as on PluginSettings and PluginState (`id`, `host`), so either is a key as
// it stands, and a list of keys is the admin API's `{ id, host }` shape (ReloadResult).

export interface PluginKey {
  readonly id: string
  readonly host: string
}

export class PluginKeyMap<V> implements Iterable<[PluginKey, V]> {
  private readonly byId = new Map<string, Map<string, V>>()

  constructor(entries: Iterable<[PluginKey, V]> = []) {
    for (const [key, value] of entries) this.set(key, value)
  }

  get size(): number {
    let n = 0
    for (const hosts of this.byId.values()) n += hosts.size
    return n
  }

  get({ id, host }: PluginKey): V | undefined {
    return this.byId.get(id)?.get(host)
  }

  has({ id, host }: PluginKey): boolean {
    return this.byId.get(id)?.has(host) ?? false
  }

  set({ id, host }: PluginKey, value: V): this {
    let hosts = this.byId.get(id)
    if (!hosts) this.byId.set(id, (hosts = new Map()))
    hosts.set(host, value)
    return this
  }

  delete({ id, host }: PluginKey): boolean {
    const hosts = this.byId.get(id)
    if (!hosts?.delete(host)) return false
    if (hosts.size === 0) this.byId.delete(id)
    return true
  }

  clear(): void {
    this.byId.clear()
  }

  /** In insertion order of the plugin, then of the vhost. */
  *entries(): IterableIterator<[PluginKey, V]> {
    for (const [id, hosts] of this.byId) for (const [host, value] of hosts) yield [{ id, host }, value]
  }

  *keys(): IterableIterator<PluginKey> {
    for (const [key] of this.entries()) yield key
  }

  *values(): IterableIterator<V> {
    for (const hosts of this.byId.values()) yield* hosts.values()
  }

  [Symbol.iterator](): IterableIterator<[PluginKey, V]> {
    return this.entries()
  }
}
