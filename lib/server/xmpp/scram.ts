// SCRAM's arithmetic (RFC 5802 §3, RFC 7677): SaltedPassword = Hi(password, salt, i) (PBKDF2),
// ClientKey/StoredKey/ServerKey, the client proof check and the server signature; and the stored
// credential `xmppd hash-password --scram` prints:
//   scram$<iterations>$<salt b64>$<sha1 StoredKey>$<sha1 ServerKey>$<sha256 StoredKey>$<sha256 ServerKey>
// (keys base64). No SASLprep: passwords are taken as their UTF-8 bytes (docs/server.md).
import { createHash, createHmac, pbkdf2 as pbkdf2Cb, randomBytes, timingSafeEqual } from 'node:crypto'
import { promisify } from 'node:util'

const pbkdf2 = promisify(pbkdf2Cb)

export type ScramHash = 'sha1' | 'sha256'
export const SCRAM_HASHES: readonly ScramHash[] = ['sha256', 'sha1']
/** The iteration count of new hashes and of derived keys (RFC 7677 §4 recommends at least 4096). */
export const DEFAULT_ITERATIONS = 4096
export const HASH_BYTES: Record<ScramHash, number> = { sha1: 20, sha256: 32 }

export const mechanismName = (hash: ScramHash): string => (hash === 'sha1' ? 'SCRAM-SHA-1' : 'SCRAM-SHA-256')

export interface ScramKeys {
  storedKey: Buffer
  serverKey: Buffer
}

/** What an account's SCRAM logins are checked against: one salt and iteration count, keys per hash. */
export interface ScramCredential {
  iterations: number
  salt: Buffer
  keys: Record<ScramHash, ScramKeys>
}

const hmac = (hash: ScramHash, key: Buffer, data: string): Buffer => createHmac(hash, key).update(data).digest()
const h = (hash: ScramHash, data: Buffer): Buffer => createHash(hash).update(data).digest()

/** StoredKey and ServerKey from a password (PBKDF2 on libuv's threads). */
export async function deriveKeys(hash: ScramHash, password: string, salt: Buffer, iterations: number): Promise<ScramKeys> {
  const salted = await pbkdf2(Buffer.from(password, 'utf8'), salt, iterations, HASH_BYTES[hash], hash)
  return { storedKey: h(hash, hmac(hash, salted, 'Client Key')), serverKey: hmac(hash, salted, 'Server Key') }
}

export async function deriveCredential(password: string, salt: Buffer, iterations: number): Promise<ScramCredential> {
  const [sha1, sha256] = await Promise.all([deriveKeys('sha1', password, salt, iterations), deriveKeys('sha256', password, salt, iterations)])
  return { iterations, salt, keys: { sha1, sha256 } }
}

/** ClientKey = proof XOR HMAC(StoredKey, AuthMessage); valid when H(ClientKey) = StoredKey (constant time). */
export function verifyProof(hash: ScramHash, keys: ScramKeys, authMessage: string, proof: Buffer): boolean {
  const signature = hmac(hash, keys.storedKey, authMessage)
  if (proof.length !== signature.length || keys.storedKey.length !== signature.length) return false
  const clientKey = Buffer.alloc(signature.length)
  for (let i = 0; i < signature.length; i++) clientKey[i] = proof[i] ^ signature[i]
  return timingSafeEqual(h(hash, clientKey), keys.storedKey)
}

export const serverSignature = (hash: ScramHash, keys: ScramKeys, authMessage: string): Buffer => hmac(hash, keys.serverKey, authMessage)

/** What a client computes: for specs and for PLAIN against a stored credential. */
export function clientProof(hash: ScramHash, saltedPassword: Buffer, authMessage: string): Buffer {
  const clientKey = hmac(hash, saltedPassword, 'Client Key')
  const signature = hmac(hash, h(hash, clientKey), authMessage)
  return Buffer.from(clientKey.map((b, i) => b ^ signature[i]))
}

export const isScramSecret = (secret: string): boolean => secret.startsWith('scram$')

/** Parses a `scram$…` secret; null when malformed (the config check reports it). */
export function parseScramSecret(secret: string): ScramCredential | null {
  const parts = secret.split('$')
  if (parts.length !== 7 || parts[0] !== 'scram' || !/^\d+$/.test(parts[1])) return null
  const iterations = Number(parts[1])
  const [salt, s1, k1, s256, k256] = parts.slice(2).map((p) => Buffer.from(p, 'base64'))
  if (iterations < 1 || salt.length < 8 || s1.length !== 20 || k1.length !== 20 || s256.length !== 32 || k256.length !== 32) return null
  return { iterations, salt, keys: { sha1: { storedKey: s1, serverKey: k1 }, sha256: { storedKey: s256, serverKey: k256 } } }
}

/** `xmppd hash-password --scram`: a fresh salt, keys for both hashes. */
export async function hashScram(password: string, iterations = DEFAULT_ITERATIONS): Promise<string> {
  const c = await deriveCredential(password, randomBytes(16), iterations)
  const b64 = (b: Buffer) => b.toString('base64')
  return [
    'scram',
    iterations,
    b64(c.salt),
    b64(c.keys.sha1.storedKey),
    b64(c.keys.sha1.serverKey),
    b64(c.keys.sha256.storedKey),
    b64(c.keys.sha256.serverKey),
  ].join('$')
}

/** PLAIN against a stored SCRAM credential: the password's StoredKey (SHA-256) compared. */
export async function verifyPasswordScram(credential: ScramCredential, password: string): Promise<boolean> {
  const got = await deriveKeys('sha256', password, credential.salt, credential.iterations)
  return timingSafeEqual(got.storedKey, credential.keys.sha256.storedKey)
}
