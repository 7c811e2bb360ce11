// The dashboard on the HTTP listener (read-only routes: no token from loopback):
//   GET /dashboard                    the page
//   GET /dashboard/assets/<file>      the ES modules (app.js and what it imports), style.css: a fixed allow-list read from disk
//   GET /dashboard/data               { time, hosts: [{ host, sessions, plugins: PluginStatus[] }], protection }
// The page toggles plugins through the admin API (/api, Bearer token), never through these routes.
import { readFile } from 'node:fs/promises'
import type { ServerResponse } from 'node:http'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { sendJson, type HttpListener, type RouteHandler } from './http.js'
import type { PluginStatus, PluginStatusService } from '../plugins/status.js'
import type { ProtectionData, ProtectionStatus } from '../observability/protection.js'

export interface DashboardDeps {
  status: PluginStatusService
  hosts: readonly string[]
  /** Bound client sessions on a vhost. */
  sessions(host: string): number
  /** The server's protection counters; absent in the delivery role, which has no c2s listener. */
  protection?: ProtectionStatus
}

export interface DashboardData {
  /** ms since the epoch */
  time: number
  hosts: Array<{ host: string; sessions: number; plugins: PluginStatus[] }>
  /** Server-wide (the series have no host label): connections refused, streams closed, logins throttled. Null without c2s. */
  protection: ProtectionData | null
}

// lib/server/admin/dashboard.ts under tsx and dist/server/admin/dashboard.js both sit three folders
// below the package root; the assets ship as sources in lib/server/admin/dashboard/ (package.json "files").
const ASSET_DIR = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..', 'lib', 'server', 'admin', 'dashboard')

/** The page's ES modules: app.js is the entry, the others are what it imports. */
const MODULES = [
  'app.js',
  'cards.js',
  'chart.js',
  'data.js',
  'dom.js',
  'format.js',
  'toggle.js',
  'token.js',
  'view.js',
  'deadletters.js',
  'protection.js',
] as const

/** Every file served, by request name: nothing else under the folder is reachable. */
const FILES: Record<string, { file: string; type: string }> = {
  page: { file: 'index.html', type: 'text/html; charset=utf-8' },
  ...Object.fromEntries(MODULES.map((file) => [file, { file, type: 'text/javascript; charset=utf-8' }])),
  'style.css': { file: 'style.css', type: 'text/css; charset=utf-8' },
}

// The page is plain files from this listener: no inline script or style, no third party. The
// token lives in session storage, so scripts from anywhere else must not run in the page.
const SECURITY_HEADERS = {
  'content-security-policy':
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
  'x-content-type-options': 'nosniff',
  'x-frame-options': 'DENY',
  'referrer-policy': 'no-referrer',
}

export async function dashboardData(deps: DashboardDeps): Promise<DashboardData> {
  const all = await deps.status.status()
  return {
    time: Date.now(),
    hosts: deps.hosts.map((host) => ({ host, sessions: deps.sessions(host), plugins: all.filter((p) => p.host === host) })),
    protection: deps.protection ? await deps.protection.read() : null,
  }
}

export function mountDashboard(http: HttpListener, deps: DashboardDeps): void {
  const get = (path: string, handle: RouteHandler) => http.mount({ method: 'GET', path, readOnly: true, handle })
  get('/dashboard', (_req, res) => sendFile(res, FILES.page))
  // Relative links in the page resolve against /dashboard, not /dashboard/.
  get('/dashboard/', (_req, res) => redirect(res, '../dashboard'))
  get('/dashboard/data', async (_req, res) => sendJson(res, 200, await dashboardData(deps)))
  get('/dashboard/assets/:file', (_req, res, url, { file }) =>
    file !== 'page' && Object.hasOwn(FILES, file) ? sendFile(res, FILES[file]) : notFound(res, url),
  )
  get('/dashboard/*', (_req, res, url) => notFound(res, url))
}

const notFound = (res: ServerResponse, url: URL) => sendJson(res, 404, { error: 'not_found', message: `no route ${url.pathname}` })

async function sendFile(res: ServerResponse, entry: { file: string; type: string }): Promise<void> {
  let body: Buffer
  try {
    body = await readFile(path.join(ASSET_DIR, entry.file))
  } catch {
    return sendJson(res, 500, { error: 'internal', message: `dashboard asset ${entry.file} is missing from this installation` })
  }
  res.writeHead(200, { 'content-type': entry.type, 'content-length': body.length, 'cache-control': 'no-cache', ...SECURITY_HEADERS })
  res.end(body)
}

function redirect(res: ServerResponse, location: string): void {
  res.writeHead(308, { location, 'content-length': 0 })
  res.end()
}
