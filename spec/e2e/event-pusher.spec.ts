// mod_event_pusher_http mounted on the real xmppd, driven by real XMPP clients, notifying a real
// HTTP endpoint. Each test checks accepted = sent + failed + pending for the vhosts it used.
import { test, before, after, beforeEach } from 'node:test'
import assert from 'node:assert/strict'
import { connectClient, xml, type TestClient } from '../helpers/client.js'
import { assertBalanced, hostCounts } from '../helpers/metrics.js'
import { sendxmpp } from '../helpers/sendxmpp.js'
import { closedPort, startSink, type Sink } from '../helpers/sink.js'
import { sample, startTestServer, type TestServer } from '../helpers/xmppd.js'

let sink: Sink
let other: Sink
let server: TestServer
let alice: TestClient
let bob: TestClient

before(async () => {
  sink = await startSink()
  other = await startSink()
  const deadPort = await closedPort()
  server = await startTestServer({
    hosts: ['localhost', 'b.test', 'off.test', 'dead.test'],
    users: {
      'alice@localhost': 'alice-pw',
      'bob@localhost': 'bob-pw',
      'bea@b.test': 'pw',
      'bo@b.test': 'pw',
      'olga@off.test': 'pw',
      'oscar@off.test': 'pw',
      'dan@dead.test': 'pw',
      'dee@dead.test': 'pw',
    },
    extra: `
[http_connections.http_pool]
server = "${sink.url}"
pool_size = 10
path_prefix = "/webservice"
request_timeout = 300

[http_connections.b_pool]
server = "${other.url}/"
path_prefix = "/b/"

[http_connections.dead_pool]
server = "http://127.0.0.1:${deadPort}"
request_timeout = 300

[plugins.mod_event_pusher_http]
pool_name = "http_pool"
path = "/notifications"

[host_config."b.test".plugins.mod_event_pusher_http]
pool_name = "b_pool"
path = "/events"

[host_config."off.test".plugins.mod_event_pusher_http]
enabled = false

[host_config."dead.test".plugins.mod_event_pusher_http]
pool_name = "dead_pool"
`,
  })
  alice = await connectClient(server.c2sPort, 'alice@localhost', 'alice-pw', { resource: 'phone' })
  bob = await connectClient(server.c2sPort, 'bob@localhost', 'bob-pw')
})

after(async () => {
  await Promise.all([alice.stop(), bob.stop()])
  await server.stop()
  await Promise.all([sink.close(), other.close()])
})

beforeEach(() => sink.behave({ status: 200 }))

/** Waits until bob has the message, so the hook surely ran. */
const delivered = (body: string) => bob.next((s) => s.is('message') && s.getChildText('body') === body)

test('a chat message gives exactly one POST with the exact form; metrics show it sent', async () => {
  const body = 'a&b=c+d%20 100% ünïcødé 🎉\nsecond line\r\nthird'
  const before = sink.requests.length
  await alice.chat('bob@localhost', body)
  await delivered(body)
  const [req] = (await sink.waitFor(before + 1)).slice(before)
  assert.equal(req.method, 'POST')
  assert.equal(req.url, '/webservice/notifications')
  assert.equal(req.headers['content-type'], 'application/x-www-form-urlencoded')
  // Without signing or retries too: the id the receiver deduplicates on, fixed at acceptance.
  assert.match(String(req.headers['webhook-id']), /^msg_[\w-]{16,}$/)
  assert.ok(Math.abs(Number(req.headers['webhook-timestamp']) - Date.now() / 1000) < 300, String(req.headers['webhook-timestamp']))
  assert.equal(req.headers['webhook-signature'], undefined)
  assert.deepEqual(req.fields, [
    ['author', 'alice'],
    ['server', 'localhost'],
    ['receiver', 'bob'],
    ['message', body],
  ])
  await new Promise((r) => setTimeout(r, 100))
  assert.equal(sink.requests.length, before + 1, 'exactly one')
  const text = await server.metricsText()
  assert.ok((sample(text, 'mod_http_notifications_sent_total', { host: 'localhost' }) ?? 0) >= 1)
  await assertBalanced(server.registry, 'localhost')
})

test('go-sendxmpp as the sender', async () => {
  const before = sink.requests.length
  await sendxmpp(server.c2sPort, 'alice@localhost', 'alice-pw', 'bob@localhost', 'via go-sendxmpp')
  const reqs = await sink.waitFor(before + 1)
  assert.deepEqual(reqs.at(-1)!.form, { author: 'alice', server: 'localhost', receiver: 'bob', message: 'via go-sendxmpp' })
  await assertBalanced(server.registry, 'localhost')
})

test('nothing but chat with a body is notified', async () => {
  const start = await hostCounts(server.registry, 'localhost')
  const before = sink.requests.length
  await alice.send(xml('message', { to: 'bob@localhost', type: 'chat' }, xml('body', {}, '')))
  await alice.send(xml('message', { to: 'bob@localhost', type: 'chat' }, xml('composing', { xmlns: 'http://jabber.org/protocol/chatstates' })))
  await alice.send(xml('message', { to: 'bob@localhost', type: 'groupchat' }, xml('body', {}, 'group')))
  await alice.send(xml('message', { to: 'bob@localhost', type: 'headline' }, xml('body', {}, 'news')))
  await alice.send(xml('message', { to: 'bob@localhost' }, xml('body', {}, 'normal')))
  await alice.send(xml('presence', { to: 'bob@localhost' }))
  await alice.iq(xml('iq', { type: 'get', to: 'localhost' }, xml('ping', { xmlns: 'urn:xmpp:ping' })))
  await alice.chat('bob@localhost', 'the marker')
  await delivered('the marker')
  const reqs = await sink.waitFor(before + 1)
  await new Promise((r) => setTimeout(r, 100))
  assert.deepEqual(
    reqs.slice(before).map((r) => r.form.message),
    ['the marker'],
  )
  const end = await assertBalanced(server.registry, 'localhost')
  assert.equal(end.accepted - start.accepted, 1)
})

test('a failing endpoint is a counted failure; the recipient gets the message anyway', async () => {
  const start = await hostCounts(server.registry, 'localhost')
  sink.behave({ status: 500 })
  await alice.chat('bob@localhost', 'during a 500')
  await delivered('during a 500')
  sink.behave({ status: 302, headers: { location: '/elsewhere' } })
  await alice.chat('bob@localhost', 'during a 302')
  await delivered('during a 302')
  const end = await assertBalanced(server.registry, 'localhost')
  assert.equal(end.failed.status - (start.failed.status ?? 0), 2)
  assert.ok(!sink.requests.some((r) => r.url === '/elsewhere'), 'redirect not followed')
})

test('a slow endpoint times out as failed and never delays delivery', async () => {
  const start = await hostCounts(server.registry, 'localhost')
  sink.behave({ delay: 2000, status: 200 })
  await alice.chat('bob@localhost', 'slow endpoint')
  await delivered('slow endpoint')
  // Delivered while the notification is still waiting on the endpoint: routing did not wait.
  const atDelivery = await hostCounts(server.registry, 'localhost')
  assert.equal(atDelivery.accepted - atDelivery.sent - atDelivery.failedTotal, 1, 'still in flight when bob got it')
  const end = await assertBalanced(server.registry, 'localhost', 3000)
  assert.equal(end.failed.timeout - (start.failed.timeout ?? 0), 1)
})

test('endpoint down: the notification waits (pending, not failed), delivery unaffected', async () => {
  const dan = await connectClient(server.c2sPort, 'dan@dead.test', 'pw')
  const dee = await connectClient(server.c2sPort, 'dee@dead.test', 'pw')
  await dan.chat('dee@dead.test', 'nobody listens')
  await dee.next((s) => s.getChildText?.('body') === 'nobody listens')
  const c = await assertBalanced(server.registry, 'dead.test', 2000, { pending: true })
  assert.deepEqual([c.accepted, c.pending, c.failedTotal, c.sent], [1, 1, 0, 0])
  await Promise.all([dan.stop(), dee.stop()])
})

test('per-vhost pools: b.test posts to its own endpoint; a disabled vhost sends nothing', async () => {
  const bea = await connectClient(server.c2sPort, 'bea@b.test', 'pw')
  const bo = await connectClient(server.c2sPort, 'bo@b.test', 'pw')
  await bea.chat('bo@b.test', 'on b')
  const [req] = await other.waitFor(1)
  assert.equal(req.url, '/b/events')
  assert.deepEqual(req.form, { author: 'bea', server: 'b.test', receiver: 'bo', message: 'on b' })
  await assertBalanced(server.registry, 'b.test')

  const olga = await connectClient(server.c2sPort, 'olga@off.test', 'pw')
  const oscar = await connectClient(server.c2sPort, 'oscar@off.test', 'pw')
  const before = sink.requests.length + other.requests.length
  await olga.chat('oscar@off.test', 'plugin off here')
  await oscar.next((s) => s.getChildText?.('body') === 'plugin off here')
  await new Promise((r) => setTimeout(r, 100))
  assert.equal(sink.requests.length + other.requests.length, before)
  const off = await hostCounts(server.registry, 'off.test')
  assert.equal(off.accepted, 0)
  await Promise.all([bea.stop(), bo.stop(), olga.stop(), oscar.stop()])
})

test('every vhost where the plugin runs has its series from start, at 0', async () => {
  const text = await server.metricsText()
  assert.equal(sample(text, 'mod_http_notifications_sent_total', { host: 'b.test' }) !== undefined, true)
  assert.equal(sample(text, 'mod_http_notifications_failed_total', { host: 'b.test', reason: 'timeout' }), 0)
  assert.equal(sample(text, 'mod_http_notifications_response_time_seconds_count', { host: 'dead.test' }), 0)
})
