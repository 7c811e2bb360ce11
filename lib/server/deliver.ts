// The composition root of a delivery worker (`xmppd deliver --config FILE`): the plugin host of
// plugin-host.ts with role "deliver", and the HTTP listener. No XMPP: no c2s listener, no TLS,
// no accounts, no sessions (PluginContext.sessions.isOnline is always false), and the loader
// never attaches a hook, so none fires. What a plugin does here is the work that outlives its
// hooks: delivering what a shared outbox holds.
import type { Logger } from '../contract.js'
import type { LoadedConfig } from './config/load.js'
import type { ReloadResult } from './admin/api.js'
import type { HttpListener } from './admin/http.js'
import type { AdminToken } from './admin/token.js'
import type { PluginLoader } from './plugins/loader.js'
import type { PluginStatusService } from './plugins/status.js'
import { serveHttp, startPlugins, type ServerOptions } from './plugin-host.js'

export interface DeliveryWorker {
  readonly role: 'deliver'
  readonly httpPort: number
  readonly hosts: readonly string[]
  readonly loader: PluginLoader
  readonly registry: import('prom-client').Registry
  readonly log: Logger
  readonly adminToken: AdminToken
  readonly http: HttpListener
  readonly status: PluginStatusService
  /** Re-reads the config file, as xmppd's reload does; a bad file changes nothing. */
  reload(): Promise<ReloadResult>
  /** Graceful stop: stop the plugins (they drain), then close the HTTP listener. */
  stop(): Promise<void>
}

/**
 * Starts a delivery worker on a config checked exactly as xmppd checks it; rejects with
 * ConfigErrors (nothing started, nothing listening) listing every problem when it cannot run.
 */
export async function startDeliveryWorker(loaded: LoadedConfig, opts: ServerOptions = {}): Promise<DeliveryWorker> {
  const host = await startPlugins(loaded, opts, {
    role: 'deliver',
    sessions: { isOnline: () => false },
    countSessions: () => 0,
  })
  const { loader, log, hosts, status, metrics, reload } = host
  let stopping = false
  let served: Awaited<ReturnType<typeof serveHttp>>
  try {
    served = await serveHttp(host, opts, () => ({ ok: !stopping, role: 'deliver', hosts, sessions: 0 }))
  } catch (err) {
    await loader.stopAll()
    throw err
  }
  const { http, adminToken } = served
  log.info({ role: 'deliver', hosts }, 'delivery worker: the plugins deliver for these vhosts (no c2s listener, no hooks)')
  return {
    role: 'deliver',
    httpPort: http.port,
    hosts,
    loader,
    registry: metrics.registry,
    log,
    adminToken,
    http,
    status,
    reload,
    async stop() {
      if (stopping) return
      stopping = true
      log.info({}, 'shutting down')
      status.stopSampling()
      await loader.stopAll()
      await http.close()
      log.info({}, 'stopped')
      log.flush?.()
    },
  }
}
