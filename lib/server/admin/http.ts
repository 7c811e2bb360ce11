// The listen.http listener: /health, /metrics, and whatever routes other modules mount
// (the admin API, the dashboard). Read-only routes need no token from loopback; everything else,
// and any request from elsewhere, needs `Authorization: Bearer <admin token>`. Paths are matched by
// find-my-way (Fastify's router): static segments, `:name` parameters and a trailing `*`. Matching
// is exact (a trailing slash is another path) so that the dashboard serves its fixed files only.
import http, { type IncomingMessage, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import createRouter, { type HTTPMethod } from 'find-my-way'
import type { Registry } from 'prom-client'
import type { Logger } from '../../contract.js'
import type { AdminToken } from './token.js'

/** `params` holds the route's `:name` parameters, percent-decoded. */
export type RouteHandler = (req: IncomingMessage, res: ServerResponse, url: URL, params: Readonly<Record<string, string>>) => Promise<void> | void

export interface Route {
  method: 'GET' | 'POST'
  /** A find-my-way path: `/api/plugins/:id/status`, or a prefix ending in `*` (`/dashboard/*`). */
  path: string
  /** Read-only routes are open to loopback clients without a token. */
  readOnly: boolean
  /** Open to anyone without a token (/health). */
  open?: boolean
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
  const builtin: Route[] = [
    {
      method: 'GET',
      path: '/health',
      readOnly: true,
      open: true,
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

  const router = createRouter()
  const methods = new Set<HTTPMethod>()
  const mount = (route: Route) => {
    router.on(route.method, route.path, () => undefined, route)
    methods.add(route.method)
  }
  for (const route of builtin) mount(route)

  /** The route and its parameters; 'method' when the path exists under another method only. */
  function find(method: string, pathname: string): { route: Route; params: Record<string, string> } | 'method' | undefined {
    // HEAD is answered by the GET route (node drops the body).
    for (const m of method === 'HEAD' ? ['HEAD', 'GET'] : [method]) {
      const hit = methods.has(m as HTTPMethod) ? router.find(m as HTTPMethod, pathname) : null
      if (hit) return { route: hit.store as Route, params: hit.params as Record<string, string> }
    }
    return [...methods].some((m) => router.find(m, pathname)) ? 'method' : undefined
  }

  const server = http.createServer(async (req, res) => {
    const url = new URL(req.url ?? '/', 'http://xmppd.invalid')
    const found = find(req.method ?? 'GET', url.pathname)
    if (found === undefined) return sendJson(res, 404, { error: 'not_found', message: `no route ${url.pathname}` })
    if (found === 'method') return sendJson(res, 405, { error: 'method_not_allowed', message: `${req.method} is not allowed on ${url.pathname}` })
    const { route, params } = found
    const open = route.open || (route.readOnly && isLoopback(req.socket.remoteAddress))
    if (!open) {
      const auth = req.headers.authorization
      const token = auth?.startsWith('Bearer ') ? auth.slice(7).trim() : undefined
      if (!opts.token.matches(token)) {
        res.setHeader('www-authenticate', 'Bearer realm="xmppd"')
        return sendJson(res, 401, { error: 'unauthorized', message: 'a valid admin token is required (Authorization: Bearer <token>)' })
      }
    }
    try {
      await route.handle(req, res, url, params)
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
    mount,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve())
        server.closeAllConnections()
      }),
  }
}
