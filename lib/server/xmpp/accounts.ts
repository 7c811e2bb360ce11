// Accounts from [auth.users]: "user@host" = secret, either a plain password or an scrypt hash
// written as scrypt$N$r$p$<salt base64>$<hash base64> (`xmppd hash-password` prints one).
import { scrypt as scryptCb, randomBytes, timingSafeEqual, createHash } from 'node:crypto'
import { promisify } from 'node:util'
import { createSlots } from './scrypt-slots.js'

const scrypt = promisify(scryptCb) as (pw: string, salt: Buffer, len: number, opts: object) => Promise<Buffer>

export class Accounts {
  private secrets = new Map<string, string>()
  private readonly scryptSlot = createSlots()

  constructor(users: Readonly<Record<string, string>>) {
    this.replace(users)
  }

  /** Takes the accounts of a reloaded config (sessions already open stay open). */
  replace(users: Readonly<Record<string, string>>): void {
    this.secrets = new Map(Object.entries(users).map(([jid, secret]) => [jid.toLowerCase(), secret]))
  }

  /** Bare JID, lower case. */
  exists(bare: string): boolean {
    return this.secrets.has(bare)
  }

  /** Every account of one vhost (the implicit shared roster). */
  onHost(host: string): string[] {
    const suffix = `@${host}`
    return [...this.secrets.keys()].filter((jid) => jid.endsWith(suffix))
  }

  /** `suspect`: recent failed logins from its IP or for its account; its scrypt work waits behind others'. */
  async verify(bare: string, password: string, suspect = false): Promise<boolean> {
    const secret = this.secrets.get(bare)
    if (secret === undefined || typeof password !== 'string') {
      equalDigests('', String(password)) // comparable cost for unknown users
      return false
    }
    if (secret.startsWith('scrypt$')) return this.scryptSlot(suspect, () => verifyScrypt(secret, password))
    return equalDigests(secret, password)
  }
}

function equalDigests(a: string, b: string): boolean {
  const da = createHash('sha256').update(a).digest()
  const db = createHash('sha256').update(b).digest()
  return timingSafeEqual(da, db)
}

async function verifyScrypt(encoded: string, password: string): Promise<boolean> {
  const [, n, r, p, salt, hash] = encoded.split('$')
  const expected = Buffer.from(hash ?? '', 'base64')
  if (!expected.length) return false
  const got = await scrypt(password, Buffer.from(salt, 'base64'), expected.length, { N: Number(n), r: Number(r), p: Number(p) })
  return timingSafeEqual(got, expected)
}

export async function hashPassword(password: string): Promise<string> {
  const N = 16384,
    r = 8,
    p = 1
  const salt = randomBytes(16)
  const hash = await scrypt(password, salt, 32, { N, r, p })
  return `scrypt$${N}$${r}$${p}$${salt.toString('base64')}$${hash.toString('base64')}`
}
