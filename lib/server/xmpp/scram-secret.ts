// The server secret behind the SCRAM salts of accounts without a stored one (plain secrets and
// unknown names: HMAC(secret, name), stable across restarts, so a salt tells nothing about which
// accounts exist). Kept in .xmppd-scram-secret (mode 0600) in general.data_dir, created at first
// start, like the admin token (admin/token.ts).
import { randomBytes } from 'node:crypto'
import { chmodSync, readFileSync, writeFileSync } from 'node:fs'
import path from 'node:path'

export const SCRAM_SECRET_FILE = '.xmppd-scram-secret'

export function loadScramSecret(dataDir: string): Buffer {
  const file = path.join(dataDir, SCRAM_SECRET_FILE)
  let text = ''
  try {
    text = readFileSync(file, 'utf8').trim()
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err
  }
  if (/^[0-9a-f]{64}$/.test(text)) return Buffer.from(text, 'hex')
  // Missing (first start) or not ours: a new one (salts derived from it change, nothing else).
  const secret = randomBytes(32)
  writeFileSync(file, `${secret.toString('hex')}\n`, { mode: 0o600 })
  chmodSync(file, 0o600)
  return secret
}
