// Starts and stops plugin instances, one per (plugin, vhost), at any time: boot, enable, disable,
// reload, shutdown. The loader records every hook and admin command an instance adds and drops
// them when it stops (first the hooks, so no packet arrives while the plugin drains).
import type { AdminCommand, HttpPoolSettings, Logger, Plugin, PluginContext, Registry, Sessions } from '../contract.js'
import { ConfigError, ConfigErrors, XMPPD_ERR_PLUGIN_STATE, XMPPD_ERR_PLUGIN_UNKNOWN, XMPPD_ERR_VHOST_UNKNOWN, defineError } from '../errors.js'
import type { Config } from './config-schema.js'
import type { HookRegistry } from './hooks.js'
import type { CatalogEntry } from './plugin-catalog.js'
import { settingsKey, type PluginSettings } from './plugin-sections.js'

export const XMPPD_ERR_COMMAND_UNKNOWN = defineError('XMPPD_ERR_COMMAND_UNKNOWN', (id: string, name: string) => `plugin '${id}' has no admin command '${name}'`)

export interface LoaderDeps {
  catalog: ReadonlyMap<string, CatalogEntry>
  hooksOf(host: string): HookRegistry | undefined
  sessions: Sessions
  registry: Registry
  log: Logger
}

interface Instance {
  plugin: Plugin
  disposers: Array<() => void>
  commands: Map<string, AdminCommand>
}

export interface PluginState {
  id: string
  host: string
  version: string
  enabled: boolean
  /** Whether the state comes from the config file or a runtime toggle. */
  source: 'config' | 'runtime'
}

export class PluginLoader {
  private settings = new Map<string, PluginSettings>()
  private pools: ReadonlyMap<string, HttpPoolSettings> = new Map()
  private configDir = process.cwd()
  private readonly runtime = new Map<string, boolean>()
  private readonly instances = new Map<string, Instance>()
  /** Transitions of one (plugin, vhost) run one after another. */
  private readonly pending = new Map<string, Promise<unknown>>()

  constructor(private readonly deps: LoaderDeps) {}

  /** Takes a (validated) config; running instances are left alone until reconcile(). */
  configure(config: Readonly<Config>, configDir: string, settings: Map<string, PluginSettings>): { poolsChanged: boolean } {
    const pools = new Map<string, HttpPoolSettings>(
      Object.entries(config.http_connections).map(([name, p]) => [name, Object.freeze({ name, ...p, tls: Object.freeze({ ...p.tls }) })]),
    )
    const poolsChanged = JSON.stringify([...pools]) !== JSON.stringify([...this.pools])
    for (const [key, next] of settings) {
      const prev = this.settings.get(key)
      if (prev && prev.fingerprint !== next.fingerprint) this.runtime.delete(key) // the file now decides
    }
    this.settings = settings
    this.pools = pools
    this.configDir = configDir
    return { poolsChanged }
  }

  /** Starts what should run and stops what should not; `restartAll` restarts running ones too. */
  async reconcile(changed: (key: string) => boolean = () => false): Promise<void> {
    const errors: ConfigError[] = []
    await Promise.all(
      [...this.settings.keys()].map(async (key) => {
        const wanted = this.isEnabled(key)
        const running = this.instances.has(key)
        if (running && (!wanted || changed(key))) await this.serial(key, () => this.stopInstance(key))
        if (wanted && !this.instances.has(key)) {
          try {
            await this.serial(key, () => this.startInstance(key))
          } catch (err) {
            errors.push(...(err instanceof ConfigErrors ? err.errors : [err as ConfigError]))
          }
        }
      }),
    )
    if (errors.length) throw new ConfigErrors(errors)
  }

  fingerprint(key: string): string | undefined {
    return this.settings.get(key)?.fingerprint
  }

  isEnabled(key: string): boolean {
    return this.runtime.get(key) ?? this.settings.get(key)?.enabled ?? false
  }

  list(host?: string): PluginState[] {
    return [...this.settings.values()]
      .filter((s) => !host || s.host === host)
      .map((s) => {
        const key = settingsKey(s.id, s.host)
        return {
          id: s.id,
          host: s.host,
          version: this.deps.catalog.get(s.id)!.manifest.version,
          enabled: this.instances.has(key),
          source: this.runtime.has(key) ? 'runtime' : 'config',
        }
      })
  }

  async enable(id: string, host: string): Promise<void> {
    const key = this.check(id, host)
    await this.serial(key, async () => {
      if (this.instances.has(key)) throw new XMPPD_ERR_PLUGIN_STATE(id, host, 'enabled')
      await this.startInstance(key)
      this.runtime.set(key, true)
    })
  }

  async disable(id: string, host: string): Promise<void> {
    const key = this.check(id, host)
    await this.serial(key, async () => {
      if (!this.instances.has(key)) throw new XMPPD_ERR_PLUGIN_STATE(id, host, 'disabled')
      this.runtime.set(key, false)
      await this.stopInstance(key)
    })
  }

  async command(id: string, host: string, name: string, args: Record<string, string> = {}): Promise<unknown> {
    const key = this.check(id, host)
    const run = this.instances.get(key)?.commands.get(name)
    if (!run) throw new XMPPD_ERR_COMMAND_UNKNOWN(id, name)
    return run(args)
  }

  async stopAll(): Promise<void> {
    await Promise.all([...this.instances.keys()].map((key) => this.serial(key, () => this.stopInstance(key))))
  }

  private check(id: string, host: string): string {
    if (!this.deps.catalog.has(id)) throw new XMPPD_ERR_PLUGIN_UNKNOWN(id)
    const key = settingsKey(id, host)
    if (!this.settings.has(key)) throw new XMPPD_ERR_VHOST_UNKNOWN(host)
    return key
  }

  private serial<T>(key: string, run: () => Promise<T>): Promise<T> {
    const prev = this.pending.get(key) ?? Promise.resolve()
    const next = prev.then(run, run)
    const settled = next.catch(() => undefined)
    this.pending.set(key, settled)
    void settled.then(() => this.pending.get(key) === settled && this.pending.delete(key))
    return next
  }

  private async startInstance(key: string): Promise<void> {
    const settings = this.settings.get(key)!
    if (!settings.options) throw new ConfigErrors(settings.errors)
    const hooks = this.deps.hooksOf(settings.host)!
    const instance: Instance = { plugin: undefined as unknown as Plugin, disposers: [], commands: new Map() }
    const log = this.deps.log.child({ plugin: settings.id, host: settings.host })
    const ctx: PluginContext = {
      host: settings.host,
      options: settings.options,
      hooks: {
        on: (hook, handler) => {
          const off = hooks.on(hook, handler)
          instance.disposers.push(off)
          return off
        },
      },
      httpPools: this.pools,
      sessions: this.deps.sessions,
      metrics: this.deps.registry,
      admin: { command: (name, run) => void instance.commands.set(name, run) },
      log,
      configDir: this.configDir,
    }
    try {
      const factory = await this.deps.catalog.get(settings.id)!.load()
      instance.plugin = factory()
      await instance.plugin.start(ctx)
    } catch (err) {
      for (const off of instance.disposers.splice(0).reverse()) off()
      await instance.plugin?.stop().catch(() => undefined)
      throw asConfigError(err, settings)
    }
    this.instances.set(key, instance)
    log.info({}, 'plugin started')
  }

  private async stopInstance(key: string): Promise<void> {
    const instance = this.instances.get(key)
    if (!instance) return
    this.instances.delete(key)
    for (const off of instance.disposers.splice(0).reverse()) off()
    instance.commands.clear()
    const settings = this.settings.get(key)
    try {
      await instance.plugin.stop()
    } catch (err) {
      this.deps.log.error({ err, plugin: settings?.id, host: settings?.host }, 'plugin stop failed')
    }
    this.deps.log.info({ plugin: settings?.id, host: settings?.host }, 'plugin stopped')
  }
}

function asConfigError(err: unknown, settings: PluginSettings): ConfigError {
  const e = err as { code?: string; path?: unknown; reason?: unknown; message?: string }
  if (e?.code === 'XMPPD_ERR_CONFIG' && typeof e.path === 'string' && typeof e.reason === 'string') {
    return new ConfigError(settings.locate(e.path), e.reason, { cause: err })
  }
  return new ConfigError(settings.locate(''), `failed to start: ${e?.message ?? String(err)}`, { cause: err })
}
