// Standard Webhooks signatures, checked by an independent verifier written here (node:crypto),
// and the secrets' config errors.
import assert from 'node:assert/strict'
import { createHmac, timingSafeEqual } from 'node:crypto'
import { describe, it } from 'node:test'
import { ConfigError } from '../../lib/errors.js'
import { newWebhookId, secretKey, Signer, webhookTimestamp } from '../../lib/plugin/signing.js'

/** The receiver's side, from the Standard Webhooks spec: any v1 signature over id.timestamp.body. */
function verify(secret: string, id: string, timestamp: string, body: string, header: string): boolean {
  const key = Buffer.from(secret.replace(/^whsec_/, ''), 'base64')
  const expected = createHmac('sha256', key).update(`${id}.${timestamp}.${body}`, 'utf8').digest()
  return header.split(' ').some((part) => {
    const [version, sig] = part.split(',')
    const got = Buffer.from(sig ?? '', 'base64')
    return version === 'v1' && got.length === expected.length && timingSafeEqual(got, expected)
  })
}

const OLD = 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw'
const NEW = 'whsec_' + Buffer.from('a brand new secret key, 32 bytes').toString('base64')

describe('Signer', () => {
  it('signs id.timestamp.body with each secret, space-separated, each verifiable on its own', () => {
    const signer = new Signer([secretKey(OLD, 's.0'), secretKey(NEW, 's.1')])
    const body = 'author=alice&server=a.test&receiver=bob&message=h%C3%A9'
    const header = signer.sign('msg_1', '1700000000', body)
    const parts = header.split(' ')
    assert.equal(parts.length, 2)
    for (const p of parts) assert.match(p, /^v1,[A-Za-z0-9+/]+=*$/)
    assert.ok(verify(OLD, 'msg_1', '1700000000', body, header), 'old secret')
    assert.ok(verify(NEW, 'msg_1', '1700000000', body, header), 'new secret')
    assert.ok(verify(NEW, 'msg_1', '1700000000', body, parts[1]), 'the second signature is the second secret')
    assert.equal(verify('whsec_' + Buffer.from('other').toString('base64'), 'msg_1', '1700000000', body, header), false)
    assert.equal(verify(OLD, 'msg_2', '1700000000', body, header), false, 'id is signed')
    assert.equal(verify(OLD, 'msg_1', '1700000001', body, header), false, 'timestamp is signed')
    assert.equal(verify(OLD, 'msg_1', '1700000000', body + 'x', header), false, 'body is signed')
  })

  it('matches the Standard Webhooks reference vector', () => {
    // From the standard-webhooks test suite (javascript/src/index.test.ts).
    const header = new Signer([secretKey('whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw', 's')]).sign(
      'msg_p5jXN8AQM9LWM0D4loKWxJek',
      '1614265330',
      '{"test": 2432232314}',
    )
    assert.equal(header, 'v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=')
  })

  it('signs Buffer bodies byte for byte', () => {
    const signer = new Signer([secretKey(OLD, 's')])
    const text = '{"m":"ünï"}'
    assert.equal(signer.sign('i', '1', Buffer.from(text)), signer.sign('i', '1', text))
  })
})

describe('secrets', () => {
  it('refuses a secret without the prefix or without a key, not quoting it', () => {
    for (const bad of ['MfKQ9r8GKYqrTwjU', 'whsec_', 'whsec_=']) {
      assert.throws(
        () => secretKey(bad, 'handlers.0.signing_secrets.1'),
        (e: ConfigError) => e.path === 'handlers.0.signing_secrets.1' && !e.message.includes(bad.slice(6) || '\0'),
      )
    }
  })
})

describe('identity', () => {
  it('makes unique msg_ ids and integer-second timestamps', () => {
    const ids = new Set(Array.from({ length: 1000 }, newWebhookId))
    assert.equal(ids.size, 1000)
    for (const id of [...ids].slice(0, 5)) assert.match(id, /^msg_[A-Za-z0-9_-]{22}$/)
    assert.equal(webhookTimestamp(1_700_000_000_999), '1700000000')
    assert.match(webhookTimestamp(), /^\d{10}$/)
  })
})
