// The plugin contract (DESIGN.md): the only module both the host (lib/server) and plugins
// (lib/plugin) import. Types only, plus the closed list of hook names.
//
// A plugin's life per vhost: the host validates its section against plugin.json's schema, runs
// the entry module's `check` (if exported) for every vhost, and only when nothing anywhere in
// the file is wrong creates instances (`default()`) and calls `start`; `stop` ends them.
import type { JID } from '@xmpp/jid'
import type { Registry } from 'prom-client'

export type { JID }
export type { Registry }

/** A stanza as the host hands it over: an ltx element (structural type, so plugins need no ltx). */
export interface Element {
  name: string
  attrs: Record<string, string | undefined>
  children: Array<Element | string>
  parent?: Element | null
  is(name: string, xmlns?: string): boolean
  getChild(name: string, xmlns?: string): Element | undefined
  getChildren(name: string, xmlns?: string): Element[]
  getChildText(name: string, xmlns?: string): string | null
  getText(): string
  toString(): string
}

export const HOOKS = ['user_send_packet', 'user_available', 'user_unavailable', 'offline_message'] as const
export type Hook = (typeof HOOKS)[number]

/**
 * user_send_packet: every stanza an authenticated user sends, after the server has set `from`
 * and, on a message, stamped its XEP-0359 `<stanza-id xmlns='urn:xmpp:sid:0' by='<recipient bare
 * JID>' id='…'/>` (when the message is to a local account), before routing. Synchronous; cannot
 * veto or change routing; a throwing handler is logged and skipped. `to` defaults to the sender's
 * vhost when the stanza has no `to`.
 *
 * offline_message: on the recipient's vhost, a message was kept for an account that could not
 * get it live (no available resource, or left unacknowledged by a stream-management session that
 * was not resumed): stored in offline storage. Fires once per message kept, and only then, never
 * for a bounced or refused one. Same signature and rules as user_send_packet; `to` is the
 * recipient (bare, or full as addressed).
 */
export type SendPacketHandler = (packet: Element, from: JID, to: JID) => void
// The packet and both JIDs are shared (the server reuses parsed JIDs): read them, never modify.
/** A resource came online (user_available) or went offline (user_unavailable). */
export type PresenceHandler = (jid: JID) => void

export interface HookHandlers {
  user_send_packet: SendPacketHandler
  offline_message: SendPacketHandler
  user_available: PresenceHandler
  user_unavailable: PresenceHandler
}

export interface Hooks {
  /** Registers a handler on this vhost; returns its unsubscribe. */
  on<H extends Hook>(hook: H, handler: HookHandlers[H]): () => void
}

/**
 * One `[http_connections.<name>]` section, resolved (defaults applied, paths absolute). The host
 * checks at compile time that this matches its config schema (lib/server/config/pools.ts).
 */
export interface HttpPoolSettings {
  name: string
  server: string
  pool_size: number
  path_prefix: string
  request_timeout: number
  tls: { verify: boolean; cacertfile?: string }
}

export interface Sessions {
  /** Bare JID: true when a message to it would be delivered live: a resource of the account is
   *  available (initial presence sent) and attached (not a stream-management session waiting to
   *  be resumed). */
  isOnline(jid: JID): boolean
}

export type AdminCommand = (args: Record<string, string>) => Promise<unknown>

export interface Admin {
  /** Registers an admin command for this plugin instance (dropped when the instance stops). */
  command(name: string, run: AdminCommand): void
}

/** Structured logger (pino-compatible subset); secrets are redacted by the host. */
export interface Logger {
  debug(obj: object, msg?: string): void
  info(obj: object, msg?: string): void
  warn(obj: object, msg?: string): void
  error(obj: object, msg?: string): void
  child(bindings: Record<string, unknown>): Logger
}

export interface PluginContext {
  /** The vhost this instance serves. */
  host: string
  /** Its validated section of the config (defaults applied, per-vhost overrides merged). */
  options: unknown
  hooks: Hooks
  httpPools: ReadonlyMap<string, HttpPoolSettings>
  sessions: Sessions
  /** The server's one registry. */
  metrics: Registry
  admin: Admin
  log: Logger
  /** Relative paths in options resolve against it. */
  configDir: string
  /**
   * The plugin's own folder for state, absolute: `<general.data_dir>/<plugin id>` (for example
   * `/etc/xmppd/xmppd-data/mod_event_pusher_http`). One folder per plugin, the same for its
   * instances on every vhost: files that belong to one vhost carry its name. The host has
   * checked at start that general.data_dir can be written, and creates this folder (recursively,
   * mode 0700 when new) before every `start`; it never empties or removes it. It stays the same
   * for the life of the process: a changed data_dir takes effect at the next restart.
   */
  dataDir: string
  /**
   * How the host runs: `"full"`, an XMPP node (`xmppd`), whose hooks fire for its users; or
   * `"deliver"`, a delivery worker (`xmppd deliver`): no c2s listener, no sessions, and the hooks
   * never fire. A plugin whose work outlives the hook (a shared outbox) does that work in both.
   */
  role: PluginRole
}

export type PluginRole = 'full' | 'deliver'

export interface Plugin {
  start(ctx: PluginContext): Promise<void> | void
  stop(): Promise<void>
}

/** A plugin entry module's default export: one call per (vhost, start). */
export type PluginFactory = () => Plugin

/**
 * What a check sees of a would-be instance: its options and what they may refer to. `dataDir`
 * is the folder `start` will get; it may not exist yet (the host creates it after the checks),
 * and a check only reads there (a file it would open, a lock held by another process).
 */
export type CheckContext = Pick<PluginContext, 'host' | 'options' | 'httpPools' | 'configDir' | 'dataDir' | 'role'>

/**
 * A problem a check found. `path` is relative to the plugin's section (`pool_name`,
 * `handlers.1.callback_module`; '' for the section itself): the host places it in the file, in
 * the default section or the vhost's override, whichever holds the value. (`ConfigError` from
 * lib/errors.ts is one.)
 */
export interface ConfigIssue {
  path: string
  reason: string
}

/**
 * The optional `check` export of a plugin's entry module: the cross-checks its schema cannot
 * express (a pool that must exist, a module that must load), every one of them, not just the
 * first. The host calls it for every vhost before it starts anything, at start, reload and
 * enable, and reports all issues of all plugins with the schema errors in one run. It must
 * leave nothing behind: no hooks, sockets, timers or metrics. `start` may still throw a
 * ConfigError for what changed since (a file removed in between).
 */
export type PluginCheck = (ctx: CheckContext) => Promise<ConfigIssue[]>

/** A plugin's entry module, as the host import()s it. */
export interface PluginModule {
  default: PluginFactory
  check?: PluginCheck
}
