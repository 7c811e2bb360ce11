// A PluginContext without a server: a tiny hook registry (user_send_packet and offline_message;
// the presence hooks are accepted and never fire), a prom-client Registry, a pools map,
// an admin command table, a data folder and a logger that records lines. It validates the plugin's options
// the way the host's loader does (plugin.json "options", ajv with defaults, `enabled` removed),
// so a spec mounts the plugin through the contract alone.
import { mkdirSync, readFileSync } from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { Ajv } from 'ajv'
import { Registry } from 'prom-client'
import type {
  AdminCommand,
  ConfigIssue,
  Hook,
  HttpPoolSettings,
  Logger,
  Plugin,
  PluginRole,
  PluginCheck,
  PluginContext,
  PluginFactory,
  SendPacketHandler,
} from '../../lib/contract.js'
import { ConfigError } from '../../lib/errors.js'
import type { Sent } from './stanza.js'
import { tempDir } from './temp-dir.js'

const root = fileURLToPath(new URL('../../', import.meta.url))
export const manifest = JSON.parse(readFileSync(path.join(root, 'plugin.json'), 'utf8'))
const validate = new Ajv({ allErrors: true, useDefaults: true, strict: false }).compile(manifest.options)

export interface LogLine {
  level: 'debug' | 'info' | 'warn' | 'error'
  obj: Record<string, unknown>
  msg?: string
}

export type PoolInput = Partial<Omit<HttpPoolSettings, 'tls'>> & { server: string; tls?: Partial<HttpPoolSettings['tls']> }

export interface FakeHostOptions {
  host?: string
  pools?: Record<string, PoolInput>
  /** Shared between fake hosts to play several vhosts of one server. */
  registry?: Registry
  configDir?: string
  /**
   * The server's general.data_dir; the plugin gets `<dataDir>/<plugin id>`, as from the host.
   * Pass the same folder to several fake hosts to play the vhosts of one server, or to a new one
   * to play a restart. Default: a fresh temp folder per fake host, removed when the spec's
   * process exits (not on stop, so a stopped plugin can start again on what it kept).
   */
  dataDir?: string
  /** PluginContext.role: "full" (default) or "deliver" (a delivery worker: the hooks never fire). */
  role?: PluginRole
}

/** A fresh folder to pass as `dataDir` to fake hosts that play one server (or its restart). */
export const tempDataDir = (): string => tempDir('xmppd-fake-data-')

/** Options as the loader would pass them, or a ConfigError per the first ajv error. */
export function validateOptions(raw: Record<string, unknown>): unknown {
  const { enabled: _enabled, ...section } = structuredClone(raw)
  if (!validate(section)) {
    const e = validate.errors![0]
    throw new ConfigError(e.instancePath.slice(1).replaceAll('/', '.'), e.message ?? 'invalid')
  }
  return section
}

export function recordingLogger(lines: LogLine[], bindings: Record<string, unknown> = {}): Logger {
  const at = (level: LogLine['level']) => (obj: object, msg?: string) => {
    lines.push({ level, obj: { ...bindings, ...obj }, msg })
  }
  return { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error'), child: (b) => recordingLogger(lines, { ...bindings, ...b }) }
}

export class FakeHost {
  readonly host: string
  readonly registry: Registry
  readonly logs: LogLine[] = []
  readonly commands = new Map<string, AdminCommand>()
  readonly httpPools: Map<string, HttpPoolSettings>
  readonly configDir: string
  /** The plugin's folder, PluginContext.dataDir: `<data_dir>/<plugin id>`. */
  readonly dataDir: string
  readonly role: PluginRole
  private handlers: SendPacketHandler[] = []
  private offlineHandlers: SendPacketHandler[] = []
  private everSubscribed: SendPacketHandler[] = []
  plugin: Plugin | undefined

  constructor(opts: FakeHostOptions = {}) {
    this.host = opts.host ?? 'a.test'
    this.role = opts.role ?? 'full'
    this.registry = opts.registry ?? new Registry()
    this.configDir = opts.configDir ?? path.join(root, 'spec', 'fixtures')
    this.dataDir = path.join(opts.dataDir ?? tempDir('xmppd-fake-data-'), manifest.id)
    this.httpPools = new Map(
      Object.entries(opts.pools ?? {}).map(([name, p]) => [
        name,
        { name, pool_size: 50, path_prefix: '', request_timeout: 2000, ...p, tls: { verify: true, ...p.tls } },
      ]),
    )
  }

  /** The context `start` gets; like the host, it creates the plugin's data folder first. */
  context(options: unknown): PluginContext {
    mkdirSync(this.dataDir, { recursive: true, mode: 0o700 })
    return {
      host: this.host,
      options,
      hooks: {
        on: (hook: Hook, handler: unknown) => {
          const h = handler as SendPacketHandler
          if (hook === 'offline_message') {
            this.offlineHandlers = [...this.offlineHandlers, h]
            return () => {
              this.offlineHandlers = this.offlineHandlers.filter((x) => x !== h)
            }
          }
          if (hook !== 'user_send_packet') return () => {}
          this.handlers = [...this.handlers, h]
          this.everSubscribed.push(h)
          return () => {
            this.handlers = this.handlers.filter((x) => x !== h)
          }
        },
      },
      httpPools: this.httpPools,
      sessions: { isOnline: () => true },
      metrics: this.registry,
      admin: { command: (name, run) => void this.commands.set(name, run) },
      log: recordingLogger(this.logs, { host: this.host }),
      configDir: this.configDir,
      dataDir: this.dataDir,
      role: this.role,
    }
  }

  /** Validates `rawOptions` like the loader, then starts a fresh instance. */
  async start(factory: PluginFactory, rawOptions: Record<string, unknown>): Promise<Plugin> {
    const plugin = factory()
    await plugin.start(this.context(validateOptions(rawOptions)))
    this.plugin = plugin
    return plugin
  }

  /** Validates `rawOptions` like the loader, then runs the plugin's check for this vhost. */
  check(check: PluginCheck, rawOptions: Record<string, unknown>): Promise<ConfigIssue[]> {
    return check({
      host: this.host,
      options: validateOptions(rawOptions),
      httpPools: this.httpPools,
      configDir: this.configDir,
      dataDir: this.dataDir,
      role: this.role,
    })
  }

  /** Like the host: drops the hook subscriptions and admin commands after stop(). */
  async stop(): Promise<void> {
    const plugin = this.plugin
    this.plugin = undefined
    await plugin?.stop()
    this.handlers = []
    this.offlineHandlers = []
    this.commands.clear()
  }

  /** user_send_packet subscribers. */
  get subscribers(): number {
    return this.handlers.length
  }

  get offlineSubscribers(): number {
    return this.offlineHandlers.length
  }

  /** Runs user_send_packet like the host: synchronously, a throwing handler logged and skipped. */
  send(sent: Sent): void {
    this.run('user_send_packet', this.handlers, sent)
  }

  /** Runs offline_message like the host when it keeps a message for an account with no available resource. */
  keepOffline(sent: Sent): void {
    this.run('offline_message', this.offlineHandlers, sent)
  }

  private run(hook: Hook, handlers: readonly SendPacketHandler[], { packet, from, to }: Sent): void {
    for (const h of handlers) {
      try {
        h(packet, from, to)
      } catch (err) {
        this.logs.push({ level: 'warn', obj: { err, hook }, msg: 'hook handler failed' })
      }
    }
  }

  /** Calls every handler ever subscribed, even unsubscribed ones (a host racing a stop). */
  sendToEverySubscriber({ packet, from, to }: Sent): void {
    for (const h of this.everSubscribed) h(packet, from, to)
  }

  async command(name: string, args: Record<string, string> = {}): Promise<any> {
    const run = this.commands.get(name)
    if (!run) throw new Error(`no admin command ${name}`)
    return run(args)
  }
}
