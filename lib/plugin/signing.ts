// Standard Webhooks (https://www.standardwebhooks.com) request identity and signatures:
// webhook-id, webhook-timestamp and webhook-signature = "v1,<base64 HMAC-SHA256 of id.timestamp.body>"
// with one signature per secret, space-separated, so a receiver can rotate secrets.
import { createHmac, randomBytes } from 'node:crypto'
import { ConfigError } from '../errors.js'

const PREFIX = 'whsec_'

/** The HMAC key of a `whsec_<base64>` secret. The error never quotes the secret. */
export function secretKey(secret: string, at: string): Buffer {
  const encoded = secret.startsWith(PREFIX) ? secret.slice(PREFIX.length) : ''
  // The schema allows only base64 characters after the prefix; what is left to refuse is a key
  // too short to decode to a single byte.
  const key = Buffer.from(encoded, 'base64')
  if (key.length === 0) throw new ConfigError(at, 'must be "whsec_" followed by a base64 key')
  return key
}

export class Signer {
  constructor(private readonly keys: readonly Buffer[]) {}

  /** The webhook-signature header value for one attempt. */
  sign(id: string, timestamp: string, body: string | Buffer): string {
    let header = ''
    for (const key of this.keys) {
      const mac = createHmac('sha256', key).update(id).update('.').update(timestamp).update('.').update(body).digest('base64')
      header = header ? `${header} v1,${mac}` : `v1,${mac}`
    }
    return header
  }
}

// The hook makes one id per accepted notification: random bytes are drawn 4 KiB at a time (one
// call into the CSPRNG per 256 ids) instead of once per id.
const ID_BYTES = 16
let idPool = Buffer.alloc(0)
let idOffset = 0

/** A fresh webhook-id: "msg_" and 128 random bits, base64url. Fixed when the notification is accepted. */
export function newWebhookId(): string {
  if (idOffset + ID_BYTES > idPool.length) {
    idPool = randomBytes(4096)
    idOffset = 0
  }
  const id = `msg_${idPool.toString('base64url', idOffset, idOffset + ID_BYTES)}`
  idOffset += ID_BYTES
  return id
}

/** webhook-timestamp: integer seconds since the epoch, taken when each attempt is signed. */
export function webhookTimestamp(now = Date.now()): string {
  return String(Math.floor(now / 1000))
}
