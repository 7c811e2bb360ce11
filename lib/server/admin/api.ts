// The admin API under /api (always `Authorization: Bearer <token>`; http.ts checks it):
//   GET  /api/plugins[?host=H]                        plugins and their state per vhost
//   GET  /api/status[?host=H]                         every plugin's status (metrics, details)
//   GET  /api/plugins/:id/status[?host=H]             one plugin's status
//   POST /api/plugins/:id/hosts/:host/enable|disable  toggle at runtime (next packet)
//   POST /api/reload                                  re-read the config file (validated first)
// JSON in and out; errors are { error, message } with 400/401/404/409, each coded error carrying its
// own status (lib/errors.ts). The paths are a find-my-way route table (http.ts).
import type { ServerResponse } from 'node:http'
import { XMPPD_ERR_PLUGIN_UNKNOWN, XMPPD_ERR_VHOST_UNKNOWN, type CodedError } from '../../errors.js'
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

export function sendError(res: ServerResponse, err: unknown): void {
  const e = err as Partial<CodedError> & { errors?: Array<{ message: string }> }
  if (!e?.http) throw err // not an answer the API gives: http.ts logs it and answers 500
  const body: Record<string, unknown> = { error: e.http.error, message: e.message }
  if (e.errors) body.errors = e.errors.map((x) => x.message)
  sendJson(res, e.http.status, body)
}

type Params = Readonly<Record<string, string>>

export function mountAdminApi(http: HttpListener, deps: AdminDeps): void {
  const checkHost = (url: URL): string | undefined => {
    const host = url.searchParams.get('host')
    if (host === null) return undefined
    if (!deps.hosts.includes(host)) throw new XMPPD_ERR_VHOST_UNKNOWN(host)
    return host
  }
  /** A route whose answer is a 200 JSON body, or a coded error (its own status). A trailing slash is tolerated. */
  const route = (method: 'GET' | 'POST', path: string, answer: (params: Params, url: URL) => unknown) => {
    for (const p of [path, `${path}/`]) {
      http.mount({
        method,
        path: p,
        readOnly: false,
        async handle(req, res, url, params) {
          if (method === 'POST') req.resume() // no body is read; drain whatever came
          try {
            sendJson(res, 200, await answer(params, url))
          } catch (err) {
            sendError(res, err)
          }
        },
      })
    }
  }
  const toggle = (action: 'enable' | 'disable') =>
    route('POST', `/api/plugins/:id/hosts/:host/${action}`, async ({ id, host }) => {
      await deps.loader[action](id, host)
      return deps.loader.list(host).find((s) => s.id === id)
    })

  route('GET', '/api/plugins', (_p, url) => ({ plugins: deps.loader.list(checkHost(url)) }))
  route('GET', '/api/status', async (_p, url) => ({ plugins: await deps.status.status(undefined, checkHost(url)) }))
  route('GET', '/api/plugins/:id/status', async ({ id }, url) => {
    const list = await deps.status.status(id, checkHost(url))
    if (list.length === 0) throw new XMPPD_ERR_PLUGIN_UNKNOWN(id)
    return { plugins: list }
  })
  toggle('enable')
  toggle('disable')
  route('POST', '/api/reload', async () => ({ reloaded: true, ...(await deps.reload()) }))

  // Anything else under /api still needs the token first, then answers 404 naming the method.
  for (const method of ['GET', 'POST'] as const) {
    for (const path of ['/api', '/api/*']) {
      http.mount({
        method,
        path,
        readOnly: false,
        handle(req, res, url) {
          req.resume()
          sendJson(res, 404, { error: 'not_found', message: `no route ${method} ${url.pathname}` })
        },
      })
    }
  }
}
