// Accounts from [auth.users]: "user@host" = secret: a plain password, an scrypt hash written as
// scrypt$N$r$p$<salt base64>$<hash base64> (`xmppd hash-password` prints one), or SCRAM keys
// written as scram$<iterations>$… (`xmppd hash-password --scram`, scram.ts).
import { scrypt as scryptCb, randomBytes, timingSafeEqual, createHash } from 'node:crypto'
import { promisify } from 'node:util'
import { createSlots } from './scrypt-slots.js'
import { isScramSecret, parseScramSecret, verifyPasswordScram } from './scram.js'

const scrypt = promisify(scryptCb) as (pw: string, salt: Buffer, len: number, opts: object) => Promise<Buffer>

export class Accounts {
  private secrets = new Map<string, string>()
  /** Per vhost, its accounts with an scrypt hash (they cannot do SCRAM). */
  private scryptByHost = new Map<string, string[]>()
  private readonly scryptSlot = createSlots()

  constructor(users: Readonly<Record<string, string>>) {
    this.replace(users)
  }

  /** Takes the accounts of a reloaded config (sessions already open stay open). */
  replace(users: Readonly<Record<string, string>>): void {
    this.secrets = new Map(Object.entries(users).map(([jid, secret]) => [jid.toLowerCase(), secret]))
    this.scryptByHost = new Map()
    for (const [jid, secret] of this.secrets) {
      if (!secret.startsWith('scrypt$')) continue
      const host = jid.slice(jid.indexOf('@') + 1)
      this.scryptByHost.set(host, [...(this.scryptByHost.get(host) ?? []), jid])
    }
  }

  /** The configured secret of an account (plain, scrypt$ or scram$), for SCRAM (scram-credentials.ts). */
  secretOf(bare: string): string | undefined {
    return this.secrets.get(bare)
  }

  /** The accounts of a vhost whose scrypt hash keeps SCRAM from being offered there. */
  scryptOn(host: string): readonly string[] {
    return this.scryptByHost.get(host) ?? []
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
    if (isScramSecret(secret)) {
      const credential = parseScramSecret(secret)
      return credential ? this.scryptSlot(suspect, () => verifyPasswordScram(credential, password)) : false
    }
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
