// A SCRAM client for specs (RFC 5802, RFC 7677), written on node:crypto alone, independent of the
// server's code: runs one exchange on a RawXmpp stream (after STARTTLS) and reports what it saw.
import { createHash, createHmac, pbkdf2Sync, randomBytes } from 'node:crypto'
import type { RawXmpp } from './raw-xmpp.js'

export interface ScramOutcome {
  /** The server's last answer: `<success …>` or `<failure …>`. */
  answer: string
  ok: boolean
  /** From server-first (absent when the server failed at once). */
  salt?: string
  iterations?: number
  /** On success: the server's v= matched its ServerSignature (the server knows the keys). */
  serverVerified?: boolean
}

export interface ScramOptions {
  /** gs2 header, default "n,," ("y,,", "p=tls-unique,," …). */
  gs2?: string
  /** Replaces the combined nonce in client-final (a tampered one). */
  nonce?: string
}

const b64 = (s: string | Buffer) => Buffer.from(s).toString('base64')
const ANSWER = /<challenge[^>]*>([^<]*)<\/challenge>|<success[^>]*\/>|<success[^>]*>[^<]*<\/success>|<failure[\s\S]*?<\/failure>/

export async function scramAuth(
  raw: RawXmpp,
  user: string,
  password: string,
  mechanism: 'SCRAM-SHA-1' | 'SCRAM-SHA-256',
  opts: ScramOptions = {},
): Promise<ScramOutcome> {
  const hash = mechanism === 'SCRAM-SHA-1' ? 'sha1' : 'sha256'
  const gs2 = opts.gs2 ?? 'n,,'
  const bare = `n=${user.replace(/=/g, '=3D').replace(/,/g, '=2C')},r=${randomBytes(18).toString('base64')}`
  raw.received = ''
  raw.send(`<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='${mechanism}'>${b64(gs2 + bare)}</auth>`)
  const first = await raw.waitFor(ANSWER)
  if (first[1] === undefined) return { answer: first[0], ok: false }
  const serverFirst = Buffer.from(first[1], 'base64').toString('utf8')
  const attrs = Object.fromEntries(serverFirst.split(',').map((kv) => [kv.slice(0, 1), kv.slice(2)]))
  const salt = Buffer.from(attrs.s, 'base64')
  const iterations = Number(attrs.i)
  if (!attrs.r.startsWith(bare.split(',r=')[1])) throw new Error(`server nonce does not extend ours: ${serverFirst}`)

  const salted = pbkdf2Sync(password, salt, iterations, hash === 'sha1' ? 20 : 32, hash)
  const clientKey = createHmac(hash, salted).update('Client Key').digest()
  const storedKey = createHash(hash).update(clientKey).digest()
  const withoutProof = `c=${b64(gs2)},r=${opts.nonce ?? attrs.r}`
  const authMessage = `${bare},${serverFirst},${withoutProof}`
  const signature = createHmac(hash, storedKey).update(authMessage).digest()
  const proof = Buffer.from(clientKey.map((b, i) => b ^ signature[i]))
  raw.received = ''
  raw.send(`<response xmlns='urn:ietf:params:xml:ns:xmpp-sasl'>${b64(`${withoutProof},p=${proof.toString('base64')}`)}</response>`)
  const final = await raw.waitFor(ANSWER)
  const ok = final[0].startsWith('<success')
  let serverVerified: boolean | undefined
  if (ok) {
    const data = /<success[^>]*>([^<]*)<\/success>/.exec(final[0])?.[1] ?? ''
    const serverKey = createHmac(hash, salted).update('Server Key').digest()
    const expected = `v=${createHmac(hash, serverKey).update(authMessage).digest('base64')}`
    serverVerified = Buffer.from(data, 'base64').toString('utf8') === expected
  }
  return { answer: final[0], ok, salt: attrs.s, iterations, serverVerified }
}

/** The SASL mechanisms offered in the last stream features RawXmpp received. */
export function offeredMechanisms(raw: RawXmpp): string[] {
  return [...raw.received.matchAll(/<mechanism>([^<]+)<\/mechanism>/g)].map((m) => m[1])
}
