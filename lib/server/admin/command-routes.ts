// The admin API routes of plugins' own commands, as their plugin.json declares them
// (admin-commands.ts): `GET|POST /api/hosts/:host/plugins/:id/<path>`. A GET takes the command's
// arguments from the query string, a POST from a JSON object; the host checks them against the
// declaration and answers the command's result as the JSON body, unchanged. Errors are the coded
// ones (lib/errors.ts): unknown plugin, vhost or command 404, bad arguments 400, a plugin that is
// not running there 404 `unknown_command` (it says so). The token is checked by http.ts first.
import type { IncomingMessage } from 'node:http'
import { XMPPD_ERR_COMMAND_ARGS, XMPPD_ERR_COMMAND_UNKNOWN, XMPPD_ERR_PLUGIN_UNKNOWN, XMPPD_ERR_VHOST_UNKNOWN } from '../../errors.js'
import type { CatalogEntry } from '../plugins/catalog.js'
import { commandArgs } from '../plugins/command-args.js'
import type { PluginLoader } from '../plugins/loader.js'
import { sendError } from './api.js'
import { sendJson, type HttpListener } from './http.js'

export interface CommandRouteDeps {
  loader: PluginLoader
  catalog: ReadonlyMap<string, CatalogEntry>
  hosts: readonly string[]
}

/** Enough for a list of thousands of ids; more is refused rather than buffered. */
const MAX_BODY = 1024 * 1024

export function mountCommandRoutes(http: HttpListener, deps: CommandRouteDeps): void {
  for (const method of ['GET', 'POST'] as const) {
    http.mount({
      method,
      path: '/api/hosts/:host/plugins/:id/*',
      readOnly: false,
      async handle(req, res, url, params) {
        try {
          const { host, id } = params
          const path = params['*'].replace(/\/+$/, '')
          const manifest = deps.catalog.get(id)?.manifest
          if (!manifest) throw new XMPPD_ERR_PLUGIN_UNKNOWN(id)
          if (!deps.hosts.includes(host)) throw new XMPPD_ERR_VHOST_UNKNOWN(host)
          const commands = (manifest.admin_commands ?? []).filter((c) => c.http?.path === path)
          const spec = commands.find((c) => c.http!.method === method)
          if (!spec) {
            req.resume()
            if (commands.length) return sendJson(res, 405, { error: 'method_not_allowed', message: `${method} is not allowed on ${url.pathname}` })
            throw new XMPPD_ERR_COMMAND_UNKNOWN(id, path)
          }
          const raw = method === 'GET' ? queryArgs(url) : await bodyArgs(req)
          const args = commandArgs(spec, raw, Date.now())
          sendJson(res, 200, (await deps.loader.command(id, host, spec.name, args)) ?? null)
        } catch (err) {
          req.resume()
          sendError(res, err)
        }
      },
    })
  }
}

/** Repeated parameters become a list (a list argument takes them; any other refuses them). */
function queryArgs(url: URL): Record<string, string | string[]> {
  const raw: Record<string, string | string[]> = {}
  for (const name of new Set(url.searchParams.keys())) {
    const all = url.searchParams.getAll(name)
    raw[name] = all.length === 1 ? all[0] : all
  }
  return raw
}

async function bodyArgs(req: IncomingMessage): Promise<Record<string, unknown>> {
  // Read to the end even past the limit (not for await, which would destroy the socket on a
  // throw): the client then gets its 400.
  const chunks: Buffer[] = []
  let size = 0
  await new Promise<void>((resolve, reject) => {
    req.on('data', (chunk: Buffer) => {
      size += chunk.length
      if (size <= MAX_BODY) chunks.push(chunk)
    })
    req.on('end', resolve)
    req.on('error', reject)
  })
  if (size > MAX_BODY) throw new XMPPD_ERR_COMMAND_ARGS('body', `larger than ${MAX_BODY} bytes`)
  const text = Buffer.concat(chunks).toString('utf8').trim()
  if (text === '') return {}
  let body: unknown
  try {
    body = JSON.parse(text)
  } catch (err) {
    throw new XMPPD_ERR_COMMAND_ARGS('body', `not JSON: ${(err as Error).message}`)
  }
  if (typeof body !== 'object' || body === null || Array.isArray(body)) throw new XMPPD_ERR_COMMAND_ARGS('body', 'must be a JSON object of arguments')
  return body as Record<string, unknown>
}
