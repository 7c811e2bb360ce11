// The composition root: config → logger → metrics → vhosts → plugin loader → C2S listener →
// HTTP listener. Only this module knows every other one.
import type { DestinationStream } from 'pino'
import type { JID } from '@xmpp/jid'
import type { Logger } from '../contract.js'
import { XMPPD_ERR_NO_CONFIG_FILE } from '../errors.js'
import { Accounts } from './xmpp/accounts.js'
import { resolveAdminToken, type AdminToken } from './admin/token.js'
import { createC2SHandlers } from './xmpp/c2s.js'
import { readConfigFile, type ConfigOverrides, type LoadedConfig } from './config/load.js'
import type { Config } from './config/schema.js'
import { configWarnings } from './config/warnings.js'
import { mountAdminApi, type ReloadResult } from './admin/api.js'
import { mountDashboard } from './admin/dashboard.js'
import { mountCommandRoutes } from './admin/command-routes.js'
import { PluginStatusService } from './plugins/status.js'
import { createAdhoc, NS_COMMANDS } from './admin/adhoc.js'
import { HookRegistry } from './plugins/hooks.js'
import { listenHttp, type HttpListener } from './admin/http.js'
import { createLogger } from './observability/logger.js'
import { createMetrics } from './observability/metrics.js'
import { builtinCatalog, type CatalogEntry } from './plugins/catalog.js'
import { PluginLoader } from './plugins/loader.js'
import { preflight } from './plugins/preflight.js'
import { createPresence } from './xmpp/presence.js'
import { createRouter } from './xmpp/router.js'
import { createServerIq } from './xmpp/server-iq.js'
import { SessionRegistry } from './xmpp/sessions.js'
import { generateCredentials, loadCredentials, type TlsCredentials } from './xmpp/tls-cert.js'
import { listenC2S, type C2SListener } from './xmpp/transport.js'

export interface ServerOptions {
  /** Log destination (default stdout); specs collect lines. */
  logDestination?: DestinationStream
  /** Overrides general.loglevel. */
  logLevel?: string
  /** Command-line port overrides, applied again on reload. */
  overrides?: ConfigOverrides
  env?: NodeJS.ProcessEnv
  /** Plugins beside the built-in ones, by manifest (specs mount small ones to exercise the host). */
  extraPlugins?: CatalogEntry[]
}

export interface XmppServer {
  readonly c2sPort: number
  readonly httpPort: number
  readonly hosts: readonly string[]
  readonly tls: TlsCredentials
  readonly loader: PluginLoader
  readonly sessions: SessionRegistry
  readonly registry: import('prom-client').Registry
  readonly log: Logger
  readonly adminToken: AdminToken
  readonly http: HttpListener
  readonly status: PluginStatusService
  /** Re-reads the config file; a bad file changes nothing (rejects with ConfigErrors). */
  reload(): Promise<ReloadResult>
  hooksOf(host: string): HookRegistry | undefined
  /** Graceful stop: stop accepting, stop plugins (they drain), close streams, close listeners. */
  stop(): Promise<void>
}

/**
 * Starts xmppd; rejects with ConfigErrors (nothing started, nothing listening) listing every
 * problem of the config when it cannot run.
 */
export async function startServer(loaded: LoadedConfig, opts: ServerOptions = {}): Promise<XmppServer> {
  const { configDir } = loaded
  const catalog: Map<string, CatalogEntry> = builtinCatalog()
  for (const entry of opts.extraPlugins ?? []) catalog.set(entry.manifest.id, entry)
  // First, before the logger reads general.loglevel: every problem of the file, in one report.
  // It also creates general.data_dir: the server's state folder for the life of the process.
  const settings = await preflight(loaded, catalog)
  let config: Readonly<Config> = loaded.config
  const dataDir = config.general.data_dir
  const log = createLogger({ level: opts.logLevel ?? config.general.loglevel, destination: opts.logDestination })
  const hosts = config.general.hosts
  warnAbout(config, log)
  log.info({ data_dir: dataDir }, 'data folder')
  const vhosts = new Map(hosts.map((h) => [h, new HookRegistry(log.child({ host: h }))]))
  const isVhost = (domain: string) => vhosts.has(domain)
  const hooksOf = (host: string) => vhosts.get(host)

  const accounts = new Accounts(config.auth.users)
  const sessions = new SessionRegistry()
  const metrics = createMetrics(hosts, (host) => [...sessions.onHost(host)].length)
  const loader = new PluginLoader({ catalog, hooksOf, sessions: { isOnline: (j: JID) => sessions.isOnline(j) }, registry: metrics.registry, log, dataDir })
  await loader.apply(config, configDir, settings) // plugins start before anything listens

  const tls =
    config.listen.c2s.certfile && config.listen.c2s.keyfile
      ? loadCredentials(config.listen.c2s.certfile, config.listen.c2s.keyfile)
      : generateCredentials(hosts)
  if (tls.selfSigned) log.warn({ hosts, fingerprint: tls.fingerprint }, 'no certfile/keyfile: using a self-signed certificate generated at start')

  const serverIq = createServerIq({ accounts, features: () => [NS_COMMANDS] })
  const router = createRouter({ isVhost, accounts, sessions, serverIq: serverIq.handle })
  const presence = createPresence({ isVhost, accounts, sessions, hooksOf, bounce: router.bounce })
  const handlers = createC2SHandlers({ isVhost, accounts, sessions, hooksOf, router, presence, metrics, log })
  const status = new PluginStatusService(loader, metrics.registry, catalog)
  const isAdmin = (bare: string) => config.general.admins.some((a) => a.toLowerCase() === bare)
  serverIq.use(createAdhoc({ loader, catalog, status, hosts, isAdmin, reload: () => reload() }))

  async function reload(): Promise<ReloadResult> {
    if (!loaded.file) throw new XMPPD_ERR_NO_CONFIG_FILE()
    const next = readConfigFile(loaded.file, opts.overrides)
    // Every problem at once, before anything changes. Plugins are resolved for the vhosts that
    // run now; new vhosts need a restart.
    const nextSettings = await preflight(next, catalog, { hosts, dataDir })
    const restart_required: string[] = []
    if (JSON.stringify(next.config.general.hosts) !== JSON.stringify(hosts)) restart_required.push('general.hosts')
    if (next.config.general.data_dir !== dataDir) restart_required.push('general.data_dir')
    if (JSON.stringify(next.config.listen) !== JSON.stringify(config.listen)) restart_required.push('listen')
    const { started, stopped } = await loader.apply(next.config, next.configDir, nextSettings)
    accounts.replace(next.config.auth.users)
    if (!opts.logLevel) log.level = next.config.general.loglevel
    warnAbout(next.config, log)
    config = next.config
    log.info({ started, stopped, restart_required }, 'config reloaded')
    return { started, stopped, restart_required }
  }

  let c2s: C2SListener | undefined
  let http: HttpListener | undefined
  let stopping = false
  try {
    const adminToken = resolveAdminToken(config.listen.http.admin_token, dataDir, opts.env)
    c2s = await listenC2S({ ip: config.listen.c2s.ip, port: config.listen.c2s.port, maxStanzaSize: config.listen.c2s.max_stanza_size, tls, log, handlers })
    http = await listenHttp({
      ip: config.listen.http.ip,
      port: config.listen.http.port,
      registry: metrics.registry,
      token: adminToken,
      log,
      health: () => ({ ok: !stopping, hosts, sessions: sessions.size }),
    })
    mountAdminApi(http, { loader, status, hosts, reload })
    mountCommandRoutes(http, { loader, catalog, hosts })
    mountDashboard(http, { status, hosts, sessions: (host) => [...sessions.onHost(host)].length })
    status.startSampling()
    log.info({ ip: config.listen.c2s.ip, port: c2s.port, hosts }, 'c2s listening')
    log.info({ ip: config.listen.http.ip, port: http.port, token_source: adminToken.source, token_file: adminToken.file }, 'http listening')
    const c2sListener = c2s
    const httpListener = http
    return {
      c2sPort: c2s.port,
      httpPort: http.port,
      hosts,
      tls,
      loader,
      sessions,
      registry: metrics.registry,
      log,
      adminToken,
      http,
      status,
      reload,
      hooksOf,
      async stop() {
        if (stopping) return
        stopping = true
        log.info({}, 'shutting down')
        c2sListener.stopAccepting()
        status.stopSampling()
        await loader.stopAll()
        await closeSessions(sessions)
        c2sListener.destroyAll()
        await httpListener.close()
        log.info({}, 'stopped')
        log.flush?.()
      },
    }
  } catch (err) {
    c2s?.stopAccepting()
    c2s?.destroyAll()
    await http?.close()
    await loader.stopAll()
    throw err
  }
}

function warnAbout(config: Readonly<Config>, log: Logger): void {
  for (const w of configWarnings(config)) log.warn({ path: w.path }, `${w.path}: ${w.message}`)
}

/** Ends every stream with </stream:stream> and waits (briefly) for the sockets to close. */
async function closeSessions(sessions: SessionRegistry, graceMs = 1000): Promise<void> {
  const all = [...sessions.all()]
  if (all.length === 0) return
  const gone = new Promise<void>((resolve) => {
    const check = setInterval(() => {
      if (sessions.size === 0) {
        clearInterval(check)
        resolve()
      }
    }, 10)
    setTimeout(() => {
      clearInterval(check)
      resolve()
    }, graceMs).unref()
  })
  for (const s of all) s.raw.close()
  await gone
}
