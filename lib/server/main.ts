// The composition root of xmppd: the plugin host (plugin-host.ts: config → logger → metrics →
// vhosts → plugin loader, with role "full") → C2S listener → HTTP listener. Only this module and
// deliver.ts (the delivery worker, no XMPP) wire the rooms.
import path from 'node:path'
import type { JID } from '@xmpp/jid'
import type { Logger } from '../contract.js'
import { Accounts } from './xmpp/accounts.js'
import { createAuthThrottle } from './xmpp/auth-throttle.js'
import type { AdminToken } from './admin/token.js'
import { createC2SHandlers } from './xmpp/c2s.js'
import type { LoadedConfig } from './config/load.js'
import type { ReloadResult } from './admin/api.js'
import type { PluginStatusService } from './plugins/status.js'
import { createAdhoc, NS_COMMANDS } from './admin/adhoc.js'
import type { HookRegistry } from './plugins/hooks.js'
import type { HttpListener } from './admin/http.js'
import type { PluginLoader } from './plugins/loader.js'
import { createOfflineMetrics } from './xmpp/offline/metrics.js'
import { createOffline } from './xmpp/offline/offline.js'
import { openOfflineStore } from './xmpp/offline/store.js'
import { NS_SID } from './xmpp/stanza-id.js'
import { createPresence } from './xmpp/presence.js'
import { createRosterService, type RosterService } from './xmpp/roster/service.js'
import { createBlocking, NS_BLOCKING } from './xmpp/blocking/blocking.js'
import { openBlockingStore } from './xmpp/blocking/store.js'
import { createCarbons, NS_CARBONS } from './xmpp/carbons.js'
import { createRouter } from './xmpp/router.js'
import { createScramCredentials, logScramHolders, scramHandlers } from './xmpp/scram-credentials.js'
import { loadScramSecret } from './xmpp/scram-secret.js'
import { createServerIq } from './xmpp/server-iq.js'
import { openPrivateStore, type PrivateStore } from './xmpp/private/store.js'
import { createPrivate } from './xmpp/private/private.js'
import { createVersion, NS_VERSION } from './xmpp/version.js'
import { createLast, mayQueryLast, NS_LAST, recordingLogouts } from './xmpp/last.js'
import { createUnacked } from './xmpp/unacked.js'
import { createSmMetrics } from './observability/sm-metrics.js'
import { SessionRegistry } from './xmpp/sessions.js'
import { generateCredentials, loadCredentials, type TlsCredentials } from './xmpp/tls-cert.js'
import { listenC2S, NS_SM, type C2SListener } from './xmpp/transport.js'
import { effectiveMaxConnections, openFilesLimit } from './xmpp/open-files.js'
import { serveHttp, startPlugins, type ServerOptions } from './plugin-host.js'

export type { ServerOptions }

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
  const sessions = new SessionRegistry()
  // Its users are taken once the file has passed the checks, and again on every reload.
  const accounts = new Accounts({})
  const host = await startPlugins(loaded, opts, {
    role: 'full',
    sessions: { isOnline: (j: JID) => sessions.isOnline(j) },
    countSessions: (h) => [...sessions.onHost(h)].length,
    reloaded: (next) => {
      accounts.replace(next.auth.users)
      logScramHolders(accounts, host.hosts, host.log)
    },
  })
  const { loader, log, hosts, hooksOf, status, catalog, metrics, reload } = host
  const config = host.config()
  accounts.replace(config.auth.users)
  logScramHolders(accounts, hosts, log)
  const vhosts = new Set(hosts)
  const isVhost = (domain: string) => vhosts.has(domain)

  const tls =
    config.listen.c2s.certfile && config.listen.c2s.keyfile
      ? loadCredentials(config.listen.c2s.certfile, config.listen.c2s.keyfile)
      : generateCredentials(hosts)
  if (tls.selfSigned) log.warn({ hosts, fingerprint: tls.fingerprint }, 'no certfile/keyfile: using a self-signed certificate generated at start')

  // The server's own files in data_dir (created by the preflight): offline storage, blocking lists,
  // XEP-0049 private XML with XEP-0012 last logouts, the stored roster. A file that cannot serve
  // stops the start; those already open are closed.
  const files: Array<{ close(): void }> = []
  const open = async <T extends { close(): void }>(make: () => T): Promise<T> => {
    try {
      const file = make()
      files.push(file)
      return file
    } catch (err) {
      for (const f of files.reverse()) f.close()
      await loader.stopAll()
      throw err
    }
  }
  const store = await open(() => openOfflineStore(path.join(host.dataDir, 'offline.sqlite')))
  const blockStore = await open(() => openBlockingStore(path.join(host.dataDir, 'blocking.sqlite')))
  const privateStore: PrivateStore = await open(() => openPrivateStore(path.join(host.dataDir, 'private.sqlite')))
  // The stored roster (general.roster, or the vhost's host_config override, of the running config).
  const stored = (h: string) => (host.config().host_config[h]?.roster ?? host.config().general.roster) === 'stored'
  const roster: RosterService = await open(() =>
    createRosterService({ file: path.join(host.dataDir, 'roster.sqlite'), sessions, accounts, stored, seed: opts.demoRoster, registry: metrics.registry, log }),
  )
  const offlineMetrics = createOfflineMetrics(metrics.registry, hosts, (h) => store.countOnHost(h))
  const offline = createOffline({ store, metrics: offlineMetrics, hooksOf, maxPerAccount: () => host.config().general.max_offline_messages, log })
  // XEP-0191 §3.3: presence is created below; a change is only ever made once the server runs.
  const changed = (account: string, blocked: string[], unblocked: string[]) => presence.blockChanged(account, blocked, unblocked)
  const blocking = createBlocking({ store: blockStore, sessions, isVhost, hosts, registry: metrics.registry, log, changed })
  const carbons = createCarbons({ sessions })
  const serverIq = createServerIq({
    roster: roster.iq,
    features: () => [NS_COMMANDS, ...(offline.enabled() ? ['msgoffline'] : []), NS_SID, NS_SM, NS_CARBONS, NS_BLOCKING, NS_VERSION, NS_LAST],
    accountFeatures: () => [NS_LAST],
  })
  const mayQuery = (from: string, to: string) =>
    from === to || (stored(to.slice(to.indexOf('@') + 1)) ? roster.subscriptions.mayProbe(from, to) : mayQueryLast(from, to))
  const last = createLast({ store: privateStore, sessions, log, mayQuery })
  const router = createRouter({ isVhost, accounts, sessions, serverIq: serverIq.handle, offline, delivered: carbons.copy })
  const presence = recordingLogouts(
    createPresence({
      isVhost,
      accounts,
      sessions,
      hooksOf,
      bounce: router.bounce,
      flushOffline: offline.flush,
      stored,
      subscriptions: roster.subscriptions,
      blocks: blocking.blocks,
    }),
    last,
  )
  // The running config's delays: a reload may change them.
  const throttle = createAuthThrottle(() => host.config().auth, metrics.authThrottled)
  const smMetrics = createSmMetrics(metrics.registry)
  const reroute = createUnacked({ router, sessions, metrics: smMetrics })
  const scram = scramHandlers(createScramCredentials(accounts, loadScramSecret(host.dataDir)), throttle)
  const handlers = {
    ...createC2SHandlers({
      ...{ isVhost, accounts, sessions, hooksOf, router, presence, metrics, throttle, log, reroute, flushOffline: offline.flush },
      blocked: blocking.stops,
    }),
    ...scram,
  }
  // The running config's admins: a reload may change them.
  const isAdmin = (bare: string) => host.config().general.admins.some((a) => a.toLowerCase() === bare)
  serverIq.use(createAdhoc({ loader, catalog, status, hosts, isAdmin, reload: () => reload() }))
  serverIq.use(carbons.iq)
  serverIq.use(blocking.iq)
  for (const ext of [createPrivate({ store: privateStore, log }), createVersion(), last.extension]) serverIq.use(ext)

  let c2s: C2SListener | undefined
  let http: HttpListener | undefined
  let stopping = false
  try {
    const { c2s: c2sConfig } = config.listen
    const poolSockets = Object.values(config.http_connections).reduce((n, p) => n + p.pool_size, 0)
    const maxConnections = effectiveMaxConnections(c2sConfig.max_connections, poolSockets)
    const limits = {
      handshakeTimeout: c2sConfig.handshake_timeout,
      idleTimeout: c2sConfig.idle_timeout,
      pingTimeout: c2sConfig.ping_timeout,
      maxConnections,
      maxConnectionsPerIp: c2sConfig.max_connections_per_ip,
      maxSendBuffer: c2sConfig.max_send_buffer,
    }
    if (maxConnections < c2sConfig.max_connections) {
      log.warn(
        { configured: c2sConfig.max_connections, effective: maxConnections, open_files_limit: openFilesLimit() },
        'listen.c2s.max_connections capped below the open-files limit',
      )
    }
    const counters = { refused: metrics.connectionRefused, closed: metrics.sessionClosed }
    // npm run bench's A/B of what the limits cost; never a config option (docs/performance.md).
    const limitsOff = process.env.XMPPD_BENCH_LIMITS === 'off'
    if (limitsOff) log.warn({}, 'XMPPD_BENCH_LIMITS=off: input limits, timeouts and connection limits are OFF (benchmarks only)')
    c2s = await listenC2S({
      ip: c2sConfig.ip,
      port: c2sConfig.port,
      maxStanzaSize: c2sConfig.max_stanza_size,
      maxDepth: c2sConfig.max_depth,
      limits,
      limitsOff,
      counters,
      tls,
      sm: { resumeTimeout: c2sConfig.resume_timeout, maxUnacked: c2sConfig.max_unacked_stanzas, counters: smMetrics },
      log,
      handlers,
    })
    log.info({ ip: c2sConfig.ip, port: c2s.port, hosts, max_connections: maxConnections, open_files_limit: openFilesLimit() }, 'c2s listening')
    const served = await serveHttp(host, opts, () => ({ ok: !stopping, role: 'full', hosts, sessions: sessions.size }))
    http = served.http
    const protection = served.protection
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
      adminToken: served.adminToken,
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
        protection.stopSampling()
        await loader.stopAll()
        await closeSessions(sessions)
        c2sListener.destroyAll()
        await httpListener.close()
        offline.close()
        roster.close()
        blocking.close()
        privateStore.close()
        log.info({}, 'stopped')
        log.flush?.()
      },
    }
  } catch (err) {
    c2s?.stopAccepting()
    c2s?.destroyAll()
    await http?.close()
    await loader.stopAll()
    offline.close()
    roster.close()
    blocking.close()
    privateStore.close()
    throw err
  }
}

/** Ends every stream with <system-shutdown/> and waits (briefly) for the sockets to close. */
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
  for (const s of all) s.raw.close('system-shutdown', 'the server is shutting down')
  await gone
}
