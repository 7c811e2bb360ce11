// The admin API under /api (always `Authorization: Bearer <token>`; http.ts checks it):
//   GET  /api/plugins[?host=H]                        plugins and their state per vhost
//   GET  /api/status[?host=H]                         every plugin's status (metrics, details)
//   GET  /api/plugins/:id/status[?host=H]             one plugin's status
//   POST /api/plugins/:id/hosts/:host/enable|disable  toggle at runtime (next packet)
//   POST /api/reload                                  re-read the config file (validated first)
// JSON in and out; errors are { error, message } with 400/401/404/409.
import type { ServerResponse } from 'node:http'
import { XMPPD_ERR_PLUGIN_UNKNOWN, XMPPD_ERR_VHOST_UNKNOWN } from '../../errors.js'
import { sendJson, type HttpListener } from './http.js'
import type { PluginLoader } from '../plugins/loader.js'
import type { PluginStatusService } from '../plugins/status.js'

export interface ReloadResult {
  /** Plugin instances (re)started and stopped by the reload. */
  started: Array<{ id: string; host: string }>
  stopped: Array<{ id: string; host: string }>
  /** Sections that changed but only take effect after a restart (listeners, hosts). */
  restart_required: string[]
}

export interface AdminDeps {
  loader: PluginLoader
  status: PluginStatusService
  hosts: readonly string[]
  reload(): Promise<ReloadResult>
}

const CODES: Record<string, [number, string]> = {
  XMPPD_ERR_PLUGIN_UNKNOWN: [404, 'unknown_plugin'],
  XMPPD_ERR_VHOST_UNKNOWN: [404, 'unknown_host'],
  XMPPD_ERR_PLUGIN_STATE: [409, 'already_in_state'],
  XMPPD_ERR_COMMAND_UNKNOWN: [404, 'unknown_command'],
  XMPPD_ERR_NO_CONFIG_FILE: [409, 'no_config_file'],
  XMPPD_ERR_CONFIG: [400, 'invalid_config'],
}

export function sendError(res: ServerResponse, err: unknown): void {
  const e = err as { code?: string; message?: string; errors?: Array<{ message: string }> }
  const known = e?.code ? CODES[e.code] : undefined
  if (!known) throw err
  const body: Record<string, unknown> = { error: known[1], message: e.message }
  if (e.errors) body.errors = e.errors.map((x) => x.message)
  sendJson(res, known[0], body)
}

export function mountAdminApi(http: HttpListener, deps: AdminDeps): void {
  const checkHost = (host: string | null): string | undefined => {
    if (host === null) return undefined
    if (!deps.hosts.includes(host)) throw new XMPPD_ERR_VHOST_UNKNOWN(host)
    return host
  }

  http.mount({
    method: 'GET',
    path: '/api/',
    readOnly: false,
    async handle(_req, res, url) {
      try {
        const host = checkHost(url.searchParams.get('host'))
        const parts = url.pathname.split('/').filter(Boolean).map(decodeURIComponent) // ['api', ...]
        if (parts.length === 2 && parts[1] === 'plugins') return sendJson(res, 200, { plugins: deps.loader.list(host) })
        if (parts.length === 2 && parts[1] === 'status') return sendJson(res, 200, { plugins: await deps.status.status(undefined, host) })
        if (parts.length === 4 && parts[1] === 'plugins' && parts[3] === 'status') {
          const list = await deps.status.status(parts[2], host)
          if (list.length === 0) throw new XMPPD_ERR_PLUGIN_UNKNOWN(parts[2])
          return sendJson(res, 200, { plugins: list })
        }
        sendJson(res, 404, { error: 'not_found', message: `no route GET ${url.pathname}` })
      } catch (err) {
        sendError(res, err)
      }
    },
  })

  http.mount({
    method: 'POST',
    path: '/api/',
    readOnly: false,
    async handle(req, res, url) {
      req.resume() // no body is read; drain whatever came
      try {
        const parts = url.pathname.split('/').filter(Boolean).map(decodeURIComponent)
        if (parts.length === 2 && parts[1] === 'reload') return sendJson(res, 200, { reloaded: true, ...(await deps.reload()) })
        if (parts.length === 6 && parts[1] === 'plugins' && parts[3] === 'hosts' && (parts[5] === 'enable' || parts[5] === 'disable')) {
          const [, , id, , host, action] = parts
          if (action === 'enable') await deps.loader.enable(id, host)
          else await deps.loader.disable(id, host)
          const state = deps.loader.list(host).find((s) => s.id === id)
          return sendJson(res, 200, state)
        }
        sendJson(res, 404, { error: 'not_found', message: `no route POST ${url.pathname}` })
      } catch (err) {
        sendError(res, err)
      }
    },
  })
}
