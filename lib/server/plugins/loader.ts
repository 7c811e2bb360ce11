// Starts and stops plugin instances, one per (plugin, vhost), at any time: boot, enable, disable,
// reload, shutdown. The loader records every hook and admin command an instance adds and drops
// them when it stops (first the hooks, so no packet arrives while the plugin drains).
// Transitions run one at a time. In a delivery worker (role "deliver") the hooks an instance
// registers are kept but never reach the vhost: they cannot fire, whatever runs the registry.
import {
  HOOKS,
  type AdminCommand,
  type Hook,
  type HookHandlers,
  type HttpPoolSettings,
  type Logger,
  type Plugin,
  type PluginContext,
  type PluginRole,
  type Registry,
  type Sessions,
} from '../../contract.js'
import {
  ConfigError,
  ConfigErrors,
  XMPPD_ERR_HOOK_UNKNOWN,
  XMPPD_ERR_PLUGIN_STATE,
  XMPPD_ERR_PLUGIN_UNKNOWN,
  XMPPD_ERR_VHOST_UNKNOWN,
  XMPPD_ERR_COMMAND_UNKNOWN,
} from '../../errors.js'
import type { Config } from '../config/schema.js'
import { httpPoolSettings } from '../config/pools.js'
import { pluginDataDir, prepareDataDir } from '../config/data-dir.js'
import type { HookRegistry } from './hooks.js'
import type { CatalogEntry } from './catalog.js'
import { runChecks } from './preflight.js'
import { unique, type PluginSettings } from './sections.js'
import { PluginKeyMap, type PluginKey } from './plugin-key.js'

export interface LoaderDeps {
  catalog: ReadonlyMap<string, CatalogEntry>
  hooksOf(host: string): HookRegistry | undefined
  sessions: Sessions
  registry: Registry
  log: Logger
  /** general.data_dir as the server started with it (a reload does not change it). */
  dataDir: string
  /** PluginContext.role for every instance: "full" (xmppd) or "deliver" (xmppd deliver). */
  role: PluginRole
}

export interface PluginState {
  id: string
  host: string
  version: string
  enabled: boolean
  /** Whether the state comes from the config file or a runtime toggle. */
  source: 'config' | 'runtime'
}

interface HookReg {
  hook: Hook
  handler: HookHandlers[Hook]
  off?: () => void
  removed: boolean
}

interface Instance {
  plugin: Plugin
  settings: PluginSettings
  /** Hook registrations, attached to the vhost only once the instance is activated. */
  hooks: HookReg[]
  commands: Map<string, AdminCommand>
}

export class PluginLoader {
  private settings = new PluginKeyMap<PluginSettings>()
  private pools: ReadonlyMap<string, HttpPoolSettings> = new Map()
  private configDir = process.cwd()
  private readonly runtime = new PluginKeyMap<boolean>()
  private readonly instances = new PluginKeyMap<Instance>()
  /** enable/disable/apply run one at a time. */
  private queue: Promise<unknown> = Promise.resolve()

  /** A worker's hooks never fire (the contract's promise), so they are never attached. */
  private readonly hooksReachVhosts: boolean

  constructor(private readonly deps: LoaderDeps) {
    this.hooksReachVhosts = deps.role === 'full'
  }

  /**
   * Applies a config that passed preflight: first creates every instance that must (re)start,
   * with its hooks held back; if any fails, stops those and throws, leaving everything as it was.
   * Otherwise swaps in one step (old hooks off, new hooks on: no gap, no duplicate) and lets the
   * replaced instances drain. Runtime toggles survive unless the plugin's section changed.
   */
  apply(config: Readonly<Config>, configDir: string, settings: PluginKeyMap<PluginSettings>): Promise<{ started: PluginKey[]; stopped: PluginKey[] }> {
    return this.serial(async () => {
      const pools = httpPoolSettings(config)
      const poolsChanged = JSON.stringify([...pools]) !== JSON.stringify([...this.pools])
      const runtime = new PluginKeyMap(this.runtime)
      for (const [key, next] of settings) {
        const prev = this.settings.get(key)
        if (prev && prev.fingerprint !== next.fingerprint) runtime.delete(key) // the file now decides
      }
      const wanted = (key: PluginKey) => runtime.get(key) ?? settings.get(key)?.enabled ?? false
      const restart = [...settings.keys()].filter((key) => {
        const running = this.instances.get(key)
        if (!wanted(key)) return false
        return !running || poolsChanged || running.settings.fingerprint !== settings.get(key)!.fingerprint
      })
      const created = new PluginKeyMap<Instance>()
      const errors: ConfigError[] = []
      await Promise.all(
        restart.map(async (key) => {
          try {
            created.set(key, await this.create(settings.get(key)!, pools, configDir))
          } catch (err) {
            errors.push(...(err instanceof ConfigErrors ? err.errors : [err as ConfigError]))
          }
        }),
      )
      if (errors.length) {
        await Promise.all([...created.values()].map((i) => i.plugin.stop().catch(() => undefined)))
        throw new ConfigErrors(unique(errors))
      }
      // Commit.
      this.settings = settings
      this.pools = pools
      this.configDir = configDir
      this.runtime.clear()
      for (const [k, v] of runtime) this.runtime.set(k, v)
      const retiring: Instance[] = []
      const stopped: PluginKey[] = []
      for (const [key, instance] of this.instances) {
        if (created.has(key) || !wanted(key) || !settings.has(key)) {
          this.deactivate(instance)
          this.instances.delete(key)
          retiring.push(instance)
          stopped.push(key)
        }
      }
      for (const [key, instance] of created) {
        this.activate(instance)
        this.instances.set(key, instance)
      }
      await Promise.all(retiring.map((i) => this.retire(i)))
      return { started: [...created.keys()], stopped }
    })
  }

  list(host?: string): PluginState[] {
    return [...this.settings.values()]
      .filter((s) => !host || s.host === host)
      .map((s) => ({
        id: s.id,
        host: s.host,
        version: this.deps.catalog.get(s.id)!.manifest.version,
        enabled: this.instances.has(s),
        source: this.runtime.has(s) ? 'runtime' : 'config',
      }))
  }

  async enable(id: string, host: string): Promise<void> {
    const key = this.check(id, host)
    return this.serial(async () => {
      if (this.instances.has(key)) throw new XMPPD_ERR_PLUGIN_STATE(id, host, 'enabled')
      // A vhost without a section for it runs the defaults, checked only now: report every issue.
      const settings = this.settings.get(key)!
      if (!settings.options) throw new ConfigErrors(settings.errors)
      const issues = await runChecks([settings], this.deps.catalog, this.pools, this.configDir, this.deps.dataDir, this.deps.role)
      if (issues.length) throw new ConfigErrors(issues)
      const instance = await this.create(settings, this.pools, this.configDir)
      this.activate(instance)
      this.instances.set(key, instance)
      this.runtime.set(key, true)
    })
  }

  async disable(id: string, host: string): Promise<void> {
    const key = this.check(id, host)
    return this.serial(async () => {
      const instance = this.instances.get(key)
      if (!instance) throw new XMPPD_ERR_PLUGIN_STATE(id, host, 'disabled')
      this.runtime.set(key, false)
      this.deactivate(instance)
      this.instances.delete(key)
      await this.retire(instance)
    })
  }

  async command(id: string, host: string, name: string, args: Record<string, string> = {}): Promise<unknown> {
    const key = this.check(id, host)
    const instance = this.instances.get(key)
    const run = instance?.commands.get(name)
    if (!run) {
      const declared = this.deps.catalog.get(id)!.manifest.admin_commands?.some((c) => c.name === name)
      throw instance || !declared ? new XMPPD_ERR_COMMAND_UNKNOWN(id, name) : new XMPPD_ERR_COMMAND_UNKNOWN(id, name, host)
    }
    return run(args)
  }

  stopAll(): Promise<void> {
    return this.serial(async () => {
      const all = [...this.instances.values()]
      this.instances.clear()
      for (const i of all) this.deactivate(i)
      await Promise.all(all.map((i) => this.retire(i)))
    })
  }

  private check(id: string, host: string): PluginKey {
    if (!this.deps.catalog.has(id)) throw new XMPPD_ERR_PLUGIN_UNKNOWN(id)
    const key: PluginKey = { id, host }
    if (!this.settings.has(key)) throw new XMPPD_ERR_VHOST_UNKNOWN(host)
    return key
  }

  private serial<T>(run: () => Promise<T>): Promise<T> {
    const next = this.queue.then(run, run)
    this.queue = next.catch(() => undefined)
    return next
  }

  /** Starts a plugin instance with its hooks held back. */
  private async create(settings: PluginSettings, pools: ReadonlyMap<string, HttpPoolSettings>, configDir: string): Promise<Instance> {
    if (!settings.options) throw new ConfigErrors(settings.errors)
    const instance: Instance = { plugin: undefined as unknown as Plugin, settings, hooks: [], commands: new Map() }
    const log = this.deps.log.child({ plugin: settings.id, host: settings.host })
    const hooks = this.deps.hooksOf(settings.host)!
    // Made again before every start: it may have been removed since the server started.
    const dataDir = pluginDataDir(this.deps.dataDir, settings.id)
    const unusable = prepareDataDir(dataDir)
    if (unusable) throw new ConfigErrors([new ConfigError('general.data_dir', unusable)])
    const ctx: PluginContext = {
      host: settings.host,
      role: this.deps.role,
      options: settings.options,
      hooks: {
        on: (hook, handler) => {
          const reg: HookReg = { hook, handler: handler as HookHandlers[Hook], removed: false }
          if (!HOOKS.includes(hook)) throw new XMPPD_ERR_HOOK_UNKNOWN(String(hook))
          instance.hooks.push(reg)
          if (this.instances.get(settings) === instance && this.hooksReachVhosts) reg.off = hooks.on(hook, handler)
          return () => {
            reg.removed = true
            reg.off?.()
          }
        },
      },
      httpPools: pools,
      sessions: this.deps.sessions,
      metrics: this.deps.registry,
      admin: { command: (name, run) => void instance.commands.set(name, run) },
      log,
      configDir,
      dataDir,
    }
    try {
      const { default: factory } = await this.deps.catalog.get(settings.id)!.load()
      instance.plugin = factory()
      await instance.plugin.start(ctx)
    } catch (err) {
      await instance.plugin?.stop().catch(() => undefined)
      throw asConfigError(err, settings)
    }
    return instance
  }

  private activate(instance: Instance): void {
    const hooks = this.deps.hooksOf(instance.settings.host)!
    if (this.hooksReachVhosts) for (const reg of instance.hooks) if (!reg.removed && !reg.off) reg.off = hooks.on(reg.hook, reg.handler)
    this.deps.log.info({ plugin: instance.settings.id, host: instance.settings.host }, 'plugin started')
  }

  private deactivate(instance: Instance): void {
    for (const reg of instance.hooks.splice(0).reverse()) reg.off?.()
    instance.commands.clear()
  }

  /** Lets a deactivated instance drain and stop. */
  private async retire(instance: Instance): Promise<void> {
    const { id, host } = instance.settings
    try {
      await instance.plugin.stop()
    } catch (err) {
      this.deps.log.error({ err, plugin: id, host }, 'plugin stop failed')
    }
    this.deps.log.info({ plugin: id, host }, 'plugin stopped')
  }
}

function asConfigError(err: unknown, settings: PluginSettings): ConfigError {
  const e = err as { code?: string; path?: unknown; reason?: unknown; message?: string }
  if (e?.code === 'XMPPD_ERR_CONFIG' && typeof e.path === 'string' && typeof e.reason === 'string') {
    return new ConfigError(settings.locate(e.path), e.reason, { cause: err })
  }
  return new ConfigError(settings.locate(''), `failed to start: ${e?.message ?? String(err)}`, { cause: err })
}
