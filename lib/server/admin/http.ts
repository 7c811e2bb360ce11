// The listen.http listener: /health, /metrics, and whatever routes other modules mount
// (the admin API, the dashboard). Read-only routes need no token from loopback; everything else,
// and any request from elsewhere, needs `Authorization: Bearer <admin token>`.
import http, { type IncomingMessage, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import type { Registry } from 'prom-client'
import type { Logger } from '../../contract.js'
import type { AdminToken } from './token.js'

export type RouteHandler = (req: IncomingMessage, res: ServerResponse, url: URL) => Promise<void> | void

export interface Route {
  method: string
  /** Exact path, or a prefix ending in '/' (matches everything under it). */
  path: string
  /** Read-only routes are open to loopback clients without a token. */
  readOnly: boolean
  handle: RouteHandler
}

export interface HttpListener {
  port: number
  mount(route: Route): void
  close(): Promise<void>
}

export function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body)
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store', 'content-length': Buffer.byteLength(text) })
  res.end(text)
}

const isLoopback = (addr: string | undefined) => addr === '127.0.0.1' || addr === '::1' || addr === '::ffff:127.0.0.1' || Boolean(addr?.startsWith('127.'))

export async function listenHttp(opts: {
  ip: string
  port: number
  registry: Registry
  token: AdminToken
  log: Logger
  health: () => { ok: boolean; [k: string]: unknown }
}): Promise<HttpListener> {
  const routes: Route[] = [
    {
      method: 'GET',
      path: '/health',
      readOnly: true,
      handle: (_req, res) => {
        const h = opts.health()
        sendJson(res, h.ok ? 200 : 503, { status: h.ok ? 'ok' : 'unavailable', ...h, ok: undefined })
      },
    },
    {
      method: 'GET',
      path: '/metrics',
      readOnly: true,
      handle: async (_req, res) => {
        const text = await opts.registry.metrics()
        res.writeHead(200, { 'content-type': opts.registry.contentType })
        res.end(text)
      },
    },
  ]

  function find(method: string, pathname: string): Route | 'method' | undefined {
    let wrongMethod = false
    for (const r of routes) {
      const hit = r.path.endsWith('/') ? pathname.startsWith(r.path) || pathname === r.path.slice(0, -1) : pathname === r.path
      if (!hit) continue
      if (r.method === method || (method === 'HEAD' && r.method === 'GET')) return r
      wrongMethod = true
    }
    return wrongMethod ? 'method' : undefined
  }

  const server = http.createServer(async (req, res) => {
    const url = new URL(req.url ?? '/', 'http://xmppd.invalid')
    const route = find(req.method ?? 'GET', url.pathname)
    if (route === undefined) return sendJson(res, 404, { error: 'not_found', message: `no route ${url.pathname}` })
    if (route === 'method') return sendJson(res, 405, { error: 'method_not_allowed', message: `${req.method} is not allowed on ${url.pathname}` })
    const open = url.pathname === '/health' || (route.readOnly && isLoopback(req.socket.remoteAddress))
    if (!open) {
      const auth = req.headers.authorization
      const token = auth?.startsWith('Bearer ') ? auth.slice(7).trim() : undefined
      if (!opts.token.matches(token)) {
        res.setHeader('www-authenticate', 'Bearer realm="xmppd"')
        return sendJson(res, 401, { error: 'unauthorized', message: 'a valid admin token is required (Authorization: Bearer <token>)' })
      }
    }
    try {
      await route.handle(req, res, url)
    } catch (err) {
      opts.log.error({ err, path: url.pathname }, 'http handler failed')
      if (!res.headersSent) sendJson(res, 500, { error: 'internal', message: 'internal error' })
      else res.destroy()
    }
  })
  server.keepAliveTimeout = 5000
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(opts.port, opts.ip, () => {
      server.off('error', reject)
      resolve()
    })
  })
  return {
    port: (server.address() as AddressInfo).port,
    mount: (route) => void routes.push(route),
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve())
        server.closeAllConnections()
      }),
  }
}
