// Issue 6 on the real xmppd with real clients and a real receiver: JSON bodies validated against
// docs/webhook-payload.schema.json, static headers, Standard Webhooks signatures with two secrets
// checked by an independent verifier, retries, statuses that are not retried, success_codes.
// Each vhost plays one configuration (x.test: JSON and signing, y.test: retries, z.test:
// success_codes; names the fixture certificate covers), so its metrics tell one story alone.
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { createHmac, timingSafeEqual } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { Ajv } from 'ajv'
import { connectClient, xml, type TestClient } from '../helpers/client.js'
import { assertBalanced, eventually, hostCounts } from '../helpers/metrics.js'
import { startSink, type Sink, type SinkRequest } from '../helpers/sink.js'
import { sample, startTestServer, type TestServer } from '../helpers/xmppd.js'

const schema = JSON.parse(readFileSync(new URL('../../docs/webhook-payload.schema.json', import.meta.url), 'utf8'))
const ajv = new Ajv({ allErrors: true, strict: true })
ajv.addFormat('date-time', (s: string) => !Number.isNaN(Date.parse(s)))
const validPayload = ajv.compile(schema)

// Two secrets during a rotation: the receiver may know either.
const OLD_SECRET = 'whsec_' + Buffer.from('the old secret of thirty-two byte').toString('base64')
const NEW_SECRET = 'whsec_' + Buffer.from('the new secret, also 32 bytes ok').toString('base64')
const TOKEN = 'Bearer e2e-static-token-4f1c'

/** The receiver's verification, written from the Standard Webhooks spec (not the plugin's code). */
function verifySignature(secret: string, req: SinkRequest): boolean {
  const id = String(req.headers['webhook-id'])
  const timestamp = String(req.headers['webhook-timestamp'])
  const key = Buffer.from(secret.slice('whsec_'.length), 'base64')
  const expected = createHmac('sha256', key).update(`${id}.${timestamp}.${req.body}`).digest()
  return String(req.headers['webhook-signature'])
    .split(' ')
    .some((entry) => {
      const [version, signature] = entry.split(',')
      const got = Buffer.from(signature ?? '', 'base64')
      return version === 'v1' && got.length === expected.length && timingSafeEqual(got, expected)
    })
}

let sink: Sink
let server: TestServer
let ann: TestClient, ben: TestClient, rita: TestClient, ray: TestClient, cody: TestClient, cleo: TestClient

before(async () => {
  sink = await startSink()
  // /retry: each message fails twice (503), then passes; /status: the message says which status.
  const attempts = new Map<string, number>()
  sink.behave((req) => {
    if (req.url === '/retry') {
      const n = (attempts.get(req.form.message) ?? 0) + 1
      attempts.set(req.form.message, n)
      return { status: n <= 2 ? 503 : 200 }
    }
    if (req.url === '/status') return { status: Number(req.form.message.split(' ')[0]) }
    return { status: 204 }
  })
  server = await startTestServer({
    hosts: ['x.test', 'y.test', 'z.test'],
    users: { 'ann@x.test': 'pw', 'ben@x.test': 'pw', 'rita@y.test': 'pw', 'ray@y.test': 'pw', 'cody@z.test': 'pw', 'cleo@z.test': 'pw' },
    extra: `
[http_connections.http_pool]
server = "${sink.url}"
request_timeout = 1000

[plugins.mod_event_pusher_http]
pool_name = "http_pool"
retry_base_delay = 5
retry_max_delay = 20
# The 503s of /retry are on purpose: keep the breaker out of this story.
breaker = { error_threshold_percentage = 100 }

[host_config."x.test".plugins.mod_event_pusher_http]
path = "/json"
format = "json"
headers = { Authorization = "${TOKEN}", "X-Tenant" = "acme" }
signing_secrets = ["${OLD_SECRET}", "${NEW_SECRET}"]

[host_config."y.test".plugins.mod_event_pusher_http]
retries = 3

[[host_config."y.test".plugins.mod_event_pusher_http.handlers]]
path = "/retry"

[[host_config."y.test".plugins.mod_event_pusher_http.handlers]]
path = "/status"

[host_config."z.test".plugins.mod_event_pusher_http]
path = "/status"
success_codes = [201]
`,
  })
  const connect = (j: string) => connectClient(server.c2sPort, j, 'pw')
  ;[ann, ben, rita, ray, cody, cleo] = await Promise.all(['ann@x.test', 'ben@x.test', 'rita@y.test', 'ray@y.test', 'cody@z.test', 'cleo@z.test'].map(connect))
})

after(async () => {
  await Promise.all([ann, ben, rita, ray, cody, cleo].map((c) => c?.stop()))
  await server.stop()
  await sink.close()
})

const at = (url: string) => sink.requests.filter((r) => r.url === url)

test('format = "json": the body validates against the published schema; headers and two signatures verify', async () => {
  const body = 'json & "quotes" ü 🎉\nline two'
  await ann.send(xml('message', { to: 'ben@x.test', type: 'chat', id: 'e2e-1' }, xml('body', {}, body)))
  const delivered = await ben.next((s) => s.getChildText?.('body') === body)
  // The XEP-0359 id the server stamped for ben (issue 15, branch `offline`): the JSON's stanza_id.
  const sid = delivered.getChildren('stanza-id', 'urn:xmpp:sid:0').find((c: any) => c.attrs.by === 'ben@x.test')
  assert.ok(sid?.attrs.id, `a stanza-id by ben@x.test: ${delivered}`)
  const [req] = await sink.waitFor(1).then(() => at('/json'))
  assert.equal(req.headers['content-type'], 'application/json')
  const doc = JSON.parse(req.body) as Record<string, string>
  const valid = validPayload(doc)
  assert.ok(valid, JSON.stringify(validPayload.errors))
  assert.deepEqual(
    { ...doc, timestamp: undefined },
    {
      version: 1,
      event: 'message',
      host: 'x.test',
      from: ann.jid,
      to: 'ben@x.test',
      from_bare: 'ann@x.test',
      to_bare: 'ben@x.test',
      type: 'chat',
      id: 'e2e-1',
      body,
      stanza_id: sid.attrs.id,
      timestamp: undefined,
    },
  )
  assert.ok(Math.abs(Date.parse(doc.timestamp) - Date.now()) < 60_000, 'the event time, now')

  assert.equal(req.headers.authorization, TOKEN)
  assert.equal(req.headers['x-tenant'], 'acme')
  assert.match(String(req.headers['webhook-id']), /^msg_\S+$/)
  assert.ok(Math.abs(Number(req.headers['webhook-timestamp']) - Date.now() / 1000) < 60, 'webhook-timestamp in seconds')
  assert.equal(String(req.headers['webhook-signature']).split(' ').length, 2, 'one signature per secret')
  assert.ok(verifySignature(OLD_SECRET, req), 'a receiver that knows the old secret accepts it')
  assert.ok(verifySignature(NEW_SECRET, req), 'a receiver that knows the new secret accepts it')
  assert.equal(verifySignature('whsec_' + Buffer.from('a secret nobody configured').toString('base64'), req), false)
  assert.equal(verifySignature(OLD_SECRET, { ...req, body: req.body.replace('ben', 'eve') }), false, 'a changed body fails')

  await assertBalanced(server.registry, 'x.test')
  assert.equal(sample(await server.metricsText(), 'mod_http_notifications_retries_total', { host: 'x.test' }), 0, 'at 0 from start')
  const logs = JSON.stringify(server.logs)
  for (const secret of ['e2e-static-token-4f1c', OLD_SECRET.slice(6), NEW_SECRET.slice(6)]) assert.ok(!logs.includes(secret), 'never logged')
})

test('retries = 3: the third attempt succeeds; one sent, two retries counted, the same webhook-id three times', async () => {
  const start = await hostCounts(server.registry, 'y.test')
  await rita.chat('ray@y.test', '200 third time lucky')
  await ray.next((s) => s.getChildText?.('body') === '200 third time lucky')
  await eventually(
    () => at('/retry').length,
    (n) => assert.equal(n, 3),
  )
  const end = await assertBalanced(server.registry, 'y.test')
  // Two handlers: /retry (503, 503, 200) and /status (answers 200 at once).
  assert.equal(end.accepted - start.accepted, 2)
  assert.equal(end.sent - start.sent, 2)
  assert.equal(end.failedTotal - start.failedTotal, 0)
  const text = await server.metricsText()
  assert.equal(sample(text, 'mod_http_notifications_retries_total', { host: 'y.test' }), 2)
  const attempts = at('/retry')
  assert.equal(new Set(attempts.map((r) => r.headers['webhook-id'])).size, 1, 'one webhook-id')
  assert.match(String(attempts[0].headers['webhook-id']), /^msg_/)
  assert.deepEqual(
    attempts.map((r) => r.form.message),
    ['200 third time lucky', '200 third time lucky', '200 third time lucky'],
  )
  assert.equal(attempts[0].headers['webhook-signature'], undefined, 'unsigned without signing_secrets')
  assert.equal(at('/status').length, 1)
})

test('400 and 410 are not retried: one request each, failed (status)', async () => {
  const start = await hostCounts(server.registry, 'y.test')
  const before = at('/status').length
  await rita.chat('ray@y.test', '400 bad request')
  await rita.chat('ray@y.test', '410 gone')
  await ray.next((s) => s.getChildText?.('body') === '410 gone')
  await eventually(
    () => hostCounts(server.registry, 'y.test'),
    (c) => assert.equal(c.failed.status - (start.failed.status ?? 0), 2),
  )
  const end = await assertBalanced(server.registry, 'y.test')
  assert.deepEqual(
    at('/status')
      .slice(before)
      .map((r) => r.form.message),
    ['400 bad request', '410 gone'],
  )
  assert.equal(end.sent - start.sent, 2, '/retry still got them through on the third attempt')
  const text = await server.metricsText()
  assert.equal(sample(text, 'mod_http_notifications_retries_total', { host: 'y.test' }), 2 + 4, 'retries only on /retry')
})

test('success_codes = [201]: 201 is sent, 200 is failed (status)', async () => {
  await cody.chat('cleo@z.test', '201 created')
  await cody.chat('cleo@z.test', '200 fine but not listed')
  await cleo.next((s) => s.getChildText?.('body') === '200 fine but not listed')
  const c = await eventually(
    () => hostCounts(server.registry, 'z.test'),
    (v) => assert.equal(v.sent + v.failedTotal, 2),
  )
  assert.deepEqual([c.sent, c.failed.status], [1, 1])
  await assertBalanced(server.registry, 'z.test')
})
