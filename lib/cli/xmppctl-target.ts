// Where xmppctl finds the server and its admin token, and what it says when the token is missing
// or refused: both name every place looked at and every way to pass it.
import { readFileSync } from 'node:fs'
import path from 'node:path'
import { parse as parseToml } from 'smol-toml'
import { TOKEN_FILE } from '../server/admin/token.js'
import { DEFAULT_DATA_DIR } from '../server/config/schema.js'
import { DATA_DIR } from '../server/demo/embedded-default.js'
import { UsageError } from './args.js'

export interface Target {
  url: string
  token: string | undefined
  /** Where the token came from: `--token`, `XMPPD_ADMIN_TOKEN`, `admin_token in FILE`, or a token file. */
  tokenSource?: string
  /** Every token file xmppd may have written that xmppctl looks at, in order. */
  tokenFiles: string[]
  /** The --config file, absolute. */
  config?: string
}

/** What xmppctl reads of the --config file. */
interface ConfigView {
  general?: { data_dir?: unknown }
  listen?: { http?: { ip?: string; port?: number; admin_token?: string } }
}

/**
 * The token files to look at. With --config: in its general.data_dir, resolved as xmppd does
 * (against the file's folder, default xmppd-data there), then next to the file, where servers
 * started before data_dir existed wrote it. Without: the embedded default's data folder in the
 * working directory, then the working directory itself (a config kept there).
 */
export function tokenFiles(config: string | undefined, raw: ConfigView = {}, cwd = process.cwd()): string[] {
  if (!config) return [path.join(cwd, DATA_DIR, TOKEN_FILE), path.join(cwd, TOKEN_FILE)]
  const configDir = path.dirname(path.resolve(cwd, config))
  const written = raw.general?.data_dir
  const dataDir = path.resolve(configDir, typeof written === 'string' && written !== '' ? written : DEFAULT_DATA_DIR)
  return [path.join(dataDir, TOKEN_FILE), path.join(configDir, TOKEN_FILE)]
}

export function resolveTarget(values: { url?: string; token?: string; config?: string }, env = process.env): Target {
  let url = values.url
  const config = values.config ? path.resolve(values.config) : undefined
  let raw: ConfigView = {}
  if (config) {
    try {
      raw = parseToml(readFileSync(config, 'utf8')) as ConfigView
    } catch (err) {
      if (!url) throw new UsageError(`cannot read ${config} (${(err as Error).message.split('\n')[0]}): pass --url`)
    }
  }
  const t: Target = { url: '', token: undefined, tokenFiles: tokenFiles(config, raw), config }
  if (values.token) [t.token, t.tokenSource] = [values.token, '--token']
  else if (env.XMPPD_ADMIN_TOKEN) [t.token, t.tokenSource] = [env.XMPPD_ADMIN_TOKEN, 'XMPPD_ADMIN_TOKEN']
  if (config) {
    const http = raw.listen?.http ?? {}
    if (!url && http.port === 0) throw new UsageError(`${config} listens on a port chosen at start (port = 0): pass --url`)
    if (!url) {
      const ip = !http.ip || http.ip === '0.0.0.0' || http.ip === '::' ? '127.0.0.1' : http.ip
      url = `http://${ip.includes(':') ? `[${ip}]` : ip}:${http.port ?? 5280}`
    }
    if (!t.token && http.admin_token) [t.token, t.tokenSource] = [http.admin_token, `admin_token in ${config}`]
  }
  for (const file of t.tokenFiles) {
    if (t.token) break
    try {
      const token = readFileSync(file, 'utf8').trim()
      if (token) [t.token, t.tokenSource] = [token, file]
    } catch {
      // not there: the next place, and in the end the "no admin token" message
    }
  }
  t.url = (url ?? 'http://127.0.0.1:5280').replace(/\/+$/, '')
  return t
}

/** How to pass a token, and the order xmppctl looks in (shared by both messages). */
function howTo(t: Target): string {
  const files = t.tokenFiles.join(', then ')
  return [
    `  xmppctl takes the token from --token TOKEN, else XMPPD_ADMIN_TOKEN, else admin_token in the --config FILE, else the token file xmppd wrote (${files}).`,
    `  xmppd writes that file into its data folder: [general] data_dir of its config file (default ${DEFAULT_DATA_DIR}/ next to it; pass that config with --config FILE), or ./${DATA_DIR}/ of the folder where the embedded default was started.`,
  ].join('\n')
}

export function missingTokenText(t: Target): string {
  const looked = ['--token', 'XMPPD_ADMIN_TOKEN', ...(t.config ? [`admin_token in ${t.config}`] : []), ...t.tokenFiles]
  return `no admin token found (looked at: ${looked.join(', ')})\n${howTo(t)}`
}

export function refusedTokenText(t: Target): string {
  return `the server at ${t.url} refused the admin token from ${t.tokenSource} (HTTP 401): it is not the one this server uses\n${howTo(t)}`
}
