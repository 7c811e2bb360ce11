// The admin token for /api (and for /metrics and /dashboard from anywhere but loopback):
// listen.http.admin_token, else XMPPD_ADMIN_TOKEN, else a token generated once and kept in
// .xmppd-admin-token (mode 0600) in the server's data folder, general.data_dir (by default
// xmppd-data next to the config file; ./xmppd-data for the embedded default).
import { randomBytes, createHash, timingSafeEqual } from 'node:crypto'
import { readFileSync, writeFileSync, chmodSync } from 'node:fs'
import path from 'node:path'

export const TOKEN_FILE = '.xmppd-admin-token'

export interface AdminToken {
  /** Where it came from, for the start-up log (never the token itself). */
  source: 'config' | 'env' | 'file' | 'generated'
  file?: string
  matches(candidate: string | undefined): boolean
}

export function resolveAdminToken(configured: string | undefined, dataDir: string, env = process.env): AdminToken {
  let token: string
  let source: AdminToken['source']
  let file: string | undefined
  if (configured) {
    token = configured
    source = 'config'
  } else if (env.XMPPD_ADMIN_TOKEN) {
    token = env.XMPPD_ADMIN_TOKEN
    source = 'env'
  } else {
    file = path.join(dataDir, TOKEN_FILE)
    try {
      token = readFileSync(file, 'utf8').trim()
      source = 'file'
    } catch {
      token = ''
      source = 'generated'
    }
    if (!token) {
      token = randomBytes(24).toString('base64url')
      writeFileSync(file, `${token}\n`, { mode: 0o600 })
      chmodSync(file, 0o600)
      source = 'generated'
    }
  }
  const digest = createHash('sha256').update(token).digest()
  return {
    source,
    file,
    matches(candidate) {
      if (!candidate) return false
      return timingSafeEqual(createHash('sha256').update(candidate).digest(), digest)
    },
  }
}
