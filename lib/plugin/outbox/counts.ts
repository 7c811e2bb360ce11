// Counts per host and handler kept in memory beside the stored entries (pending ones, dead
// letters), so that gauges and max_queue never read the store.
export class Counts {
  private readonly byHost = new Map<string, Map<string, number>>()

  get(host: string, handler: string): number {
    return this.byHost.get(host)?.get(handler) ?? 0
  }

  bump(host: string, handler: string, by: number): void {
    let byHandler = this.byHost.get(host)
    if (!byHandler) this.byHost.set(host, (byHandler = new Map()))
    byHandler.set(handler, (byHandler.get(handler) ?? 0) + by)
  }

  /** The handlers of a host with a count above 0. */
  nonZero(host: string): Array<[string, number]> {
    return [...(this.byHost.get(host) ?? [])].filter(([, n]) => n > 0)
  }

  total(host: string): number {
    let n = 0
    for (const c of this.byHost.get(host)?.values() ?? []) n += c
    return n
  }

  forget(host: string): void {
    this.byHost.delete(host)
  }
}
