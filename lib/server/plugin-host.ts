// What both composition roots run, xmppd (main.ts) and the delivery worker `xmppd deliver`
// (deliver.ts): the config checked in one pass, the logger, the metrics registry, every vhost's
// plugins started in the process's role, reload, and the HTTP listener with /health, /metrics,
// the admin API and the dashboard. XMPP (accounts, sessions, c2s, XEP-0050) is main.ts's alone.
import type { DestinationStream } from 'pino'
import type { Logger, PluginRole, Sessions } from '../contract.js'
import { XMPPD_ERR_NO_CONFIG_FILE } from '../errors.js'
import { readConfigFile, type ConfigOverrides, type LoadedConfig } from './config/load.js'
import type { Config } from './config/schema.js'
import { configWarnings } from './config/warnings.js'
import { mountAdminApi, type ReloadResult } from './admin/api.js'
import { mountCommandRoutes } from './admin/command-routes.js'
import { mountDashboard } from './admin/dashboard.js'
import { ProtectionStatus } from './observability/protection.js'
import { listenHttp, type HttpListener } from './admin/http.js'
import { resolveAdminToken, type AdminToken } from './admin/token.js'
import { createLogger } from './observability/logger.js'
import { createMetrics, type ServerMetrics } from './observability/metrics.js'
import { builtinCatalog, type CatalogEntry } from './plugins/catalog.js'
import { HookRegistry } from './plugins/hooks.js'
import { PluginLoader } from './plugins/loader.js'
import { preflight } from './plugins/preflight.js'
import { PluginStatusService } from './plugins/status.js'

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
  /** Accounts made contacts of each other when roster.sqlite is created (the embedded default's demo accounts). */
  demoRoster?: readonly string[]
}

export interface PluginHostDeps {
  role: PluginRole
  /** PluginContext.sessions. */
  sessions: Sessions
  /** Bound client sessions on a vhost, for the xmppd_sessions gauge and the dashboard. */
  countSessions(host: string): number
  /** After a reload has applied a new config (main.ts takes its accounts). */
  reloaded?(config: Readonly<Config>): void
}

export interface PluginHost {
  readonly role: PluginRole
  readonly catalog: ReadonlyMap<string, CatalogEntry>
  readonly hosts: readonly string[]
  readonly dataDir: string
  readonly log: ReturnType<typeof createLogger>
  readonly metrics: ServerMetrics
  readonly loader: PluginLoader
  readonly status: PluginStatusService
  countSessions(host: string): number
  /** The running config (a reload replaces it). */
  config(): Readonly<Config>
  hooksOf(host: string): HookRegistry | undefined
  /** Re-reads the config file; a bad file changes nothing (rejects with ConfigErrors). */
  reload(): Promise<ReloadResult>
}

/**
 * Checks the config and starts its plugins, nothing listening yet; rejects with ConfigErrors
 * listing every problem of the file when it cannot run.
 */
export async function startPlugins(loaded: LoadedConfig, opts: ServerOptions, deps: PluginHostDeps): Promise<PluginHost> {
  const catalog: Map<string, CatalogEntry> = builtinCatalog()
  for (const entry of opts.extraPlugins ?? []) catalog.set(entry.manifest.id, entry)
  // First, before the logger reads general.loglevel: every problem of the file, in one report.
  // It also creates general.data_dir: the server's state folder for the life of the process.
  const settings = await preflight(loaded, catalog, undefined, deps.role)
  let config: Readonly<Config> = loaded.config
  const dataDir = config.general.data_dir
  const log = createLogger({ level: opts.logLevel ?? config.general.loglevel, destination: opts.logDestination })
  const hosts = config.general.hosts
  warnAbout(config, log)
  log.info({ data_dir: dataDir }, 'data folder')
  const vhosts = new Map(hosts.map((h) => [h, new HookRegistry(log.child({ host: h }))]))
  const hooksOf = (host: string) => vhosts.get(host)
  const metrics = createMetrics(hosts, deps.countSessions)
  const loader = new PluginLoader({ catalog, hooksOf, sessions: deps.sessions, registry: metrics.registry, log, dataDir, role: deps.role })
  await loader.apply(config, loaded.configDir, settings) // plugins start before anything listens

  async function reload(): Promise<ReloadResult> {
    if (!loaded.file) throw new XMPPD_ERR_NO_CONFIG_FILE()
    const next = readConfigFile(loaded.file, opts.overrides)
    // Every problem at once, before anything changes. Plugins are resolved for the vhosts that
    // run now; new vhosts need a restart.
    const nextSettings = await preflight(next, catalog, { hosts, dataDir }, deps.role)
    const restart_required: string[] = []
    if (JSON.stringify(next.config.general.hosts) !== JSON.stringify(hosts)) restart_required.push('general.hosts')
    if (next.config.general.data_dir !== dataDir) restart_required.push('general.data_dir')
    if (JSON.stringify(next.config.listen) !== JSON.stringify(config.listen)) restart_required.push('listen')
    const { started, stopped } = await loader.apply(next.config, next.configDir, nextSettings)
    deps.reloaded?.(next.config)
    if (!opts.logLevel) log.level = next.config.general.loglevel
    warnAbout(next.config, log)
    config = next.config
    log.info({ started, stopped, restart_required }, 'config reloaded')
    return { started, stopped, restart_required }
  }

  return {
    role: deps.role,
    catalog,
    hosts,
    dataDir,
    log,
    metrics,
    loader,
    status: new PluginStatusService(loader, metrics.registry, catalog),
    countSessions: deps.countSessions,
    config: () => config,
    hooksOf,
    reload,
  }
}

/**
 * Opens listen.http with /health, /metrics, the admin API (the same token rules in both roles)
 * and the dashboard, and starts the status sampling. `health` is /health's body.
 */
export async function serveHttp(
  host: PluginHost,
  opts: ServerOptions,
  health: () => { ok: boolean; [k: string]: unknown },
): Promise<{ http: HttpListener; adminToken: AdminToken; protection: ProtectionStatus }> {
  const { ip, port, admin_token } = host.config().listen.http
  const { loader, status, hosts, log } = host
  const adminToken = resolveAdminToken(admin_token, host.dataDir, opts.env)
  // The c2s listener's counters (refused, closed, throttled), server-wide; a delivery worker has none.
  const protection = new ProtectionStatus(host.metrics.registry)
  const http = await listenHttp({ ip, port, registry: host.metrics.registry, token: adminToken, log, health })
  try {
    mountAdminApi(http, { loader, status, hosts, reload: host.reload })
    mountCommandRoutes(http, { loader, catalog: host.catalog, hosts })
    mountDashboard(http, { status, hosts, sessions: host.countSessions, protection: host.role === 'deliver' ? undefined : protection })
  } catch (err) {
    await http.close()
    throw err
  }
  status.startSampling()
  if (host.role !== 'deliver') protection.startSampling()
  log.info({ ip, port: http.port, token_source: adminToken.source, token_file: adminToken.file }, 'http listening')
  return { http, adminToken, protection }
}

function warnAbout(config: Readonly<Config>, log: Logger): void {
  for (const w of configWarnings(config)) log.warn({ path: w.path }, `${w.path}: ${w.message}`)
}
