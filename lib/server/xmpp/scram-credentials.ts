// What SCRAM needs of the accounts: the mechanisms a vhost offers (no SCRAM where an account has
// an scrypt hash: mechanisms are offered before the name is known, and clients do not fall back
// from a failed SCRAM to PLAIN), each account's salt and iteration count, and its keys.
// - scram$ secrets carry their own salt, iterations and keys;
// - plain secrets get the salt HMAC(server secret, name) and DEFAULT_ITERATIONS, their keys derived
//   once per secret (at the account's first SCRAM login, then kept; a reload re-derives changed ones);
// - unknown names get the same kind of salt and keys that match no proof: they fail like a wrong
//   password, and the exchange does not tell whether the account exists.
import { createHmac, randomBytes } from 'node:crypto'
import type { Logger } from '../../contract.js'
import type { Accounts } from './accounts.js'
import type { AuthThrottle } from './auth-throttle.js'
import {
  DEFAULT_ITERATIONS,
  HASH_BYTES,
  deriveCredential,
  isScramSecret,
  mechanismName,
  parseScramSecret,
  type ScramCredential,
  type ScramHash,
  type ScramKeys,
} from './scram.js'

const ALL = [mechanismName('sha256'), mechanismName('sha1'), 'PLAIN']
const PLAIN_ONLY = ['PLAIN']

export interface ScramCredentials {
  /** SASL mechanisms to offer on a vhost, best first. */
  mechanisms(host: string): readonly string[]
  /** The salt and iteration count to send for a name (lower case bare JID; any name gets one). */
  saltOf(bare: string): { salt: Buffer; iterations: number }
  /** The keys to check the proof against (for an unknown name: keys no proof matches). */
  keys(bare: string, hash: ScramHash): Promise<ScramKeys>
}

export function createScramCredentials(accounts: Accounts, serverSecret: Buffer): ScramCredentials {
  // Derived keys of plain secrets, by account; dropped when its secret changes.
  const derived = new Map<string, { secret: string; credential: Promise<ScramCredential> }>()
  const hmacSalt = (bare: string) => createHmac('sha256', serverSecret).update(`xmppd-scram-salt\0${bare}`).digest().subarray(0, 16)
  const unknownKeys = (hash: ScramHash): ScramKeys => ({ storedKey: randomBytes(HASH_BYTES[hash]), serverKey: randomBytes(HASH_BYTES[hash]) })

  return {
    mechanisms: (host) => (accounts.scryptOn(host).length ? PLAIN_ONLY : ALL),

    saltOf(bare) {
      const secret = accounts.secretOf(bare)
      const stored = secret !== undefined && isScramSecret(secret) ? parseScramSecret(secret) : null
      return stored ? { salt: stored.salt, iterations: stored.iterations } : { salt: hmacSalt(bare), iterations: DEFAULT_ITERATIONS }
    },

    async keys(bare, hash) {
      const secret = accounts.secretOf(bare)
      if (secret === undefined || secret.startsWith('scrypt$')) return unknownKeys(hash)
      if (isScramSecret(secret)) return parseScramSecret(secret)?.keys[hash] ?? unknownKeys(hash)
      let entry = derived.get(bare)
      if (!entry || entry.secret !== secret) {
        entry = { secret, credential: deriveCredential(secret, hmacSalt(bare), DEFAULT_ITERATIONS) }
        derived.set(bare, entry)
      }
      return (await entry.credential).keys[hash]
    },
  }
}

/** The start-up (and reload) log line naming the accounts that keep SCRAM off their vhost. */
export function logScramHolders(accounts: Accounts, hosts: readonly string[], log: Logger): void {
  for (const host of hosts) {
    const held = accounts.scryptOn(host)
    if (held.length) {
      log.warn(
        { host, accounts: held },
        'SCRAM is not offered on this vhost (PLAIN only): these accounts have scrypt hashes; re-hash them with `xmppd hash-password --scram` (docs/server.md)',
      )
    }
  }
}

/** The listener's SCRAM handlers (transport.ts C2SHandlers), failures throttled like PLAIN's. */
export function scramHandlers(creds: ScramCredentials, throttle: AuthThrottle) {
  return {
    mechanisms: (domain: string) => creds.mechanisms(domain),
    scramSalt: (local: string, domain: string) => creds.saltOf(`${local}@${domain}`),
    authenticateScram: (local: string, domain: string, hash: ScramHash, ip: string, check: (keys: ScramKeys) => boolean) =>
      throttle.attempt(ip, `${local}@${domain}`, async () => check(await creds.keys(`${local}@${domain}`, hash))),
  }
}
