// The JetStream outbox on the real server with a real nats-server -js (Debian's): notifications
// go through the stream to the endpoint; a retry is republished with its attempts; a failure is a
// dead letter in the dead-letter stream, listed and replayed with its webhook-id.
import { test, afterEach } from 'node:test'
import assert from 'node:assert/strict'
import { bodies, chatSender } from '../helpers/chat-load.js'
import { assertBalanced, eventually, hostCounts } from '../helpers/metrics.js'
import { startNats } from '../helpers/nats.js'
import { webhookRecorder } from '../helpers/webhook-recorder.js'
import { ADMIN_TOKEN, configToml, startTestServer, xmppctlOn } from '../helpers/xmppd.js'

const cleanups: Array<() => Promise<unknown>> = []
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c().catch(() => undefined)
})

const plugin = (endpoint: string, nats: string, extra = '') => `
[http_connections.http_pool]
server = "${endpoint}"
request_timeout = 2000

[plugins.mod_event_pusher_http]
pool_name = "http_pool"
path = "/n"
outbox = "jetstream"
retries = 2
retry_schedule = [0.05, 0.05]
${extra}

[plugins.mod_event_pusher_http.jetstream]
servers = ["${nats}"]
ack_wait = 5
`

test('one node: delivered through the stream; a 500 is retried with its attempts; what fails is a dead letter, replayed with its webhook-id', async () => {
  const nats = await startNats()
  const rec = await webhookRecorder()
  cleanups.push(
    () => nats.stop(),
    () => rec.close(),
  )
  const server = await startTestServer(configToml({ extra: plugin(rec.url, nats.url) }))
  cleanups.push(() => server.stop())
  const alice = await chatSender(server.c2sPort, 'alice', 'alice-pw')
  cleanups.push(async () => alice.close())

  const first = bodies('js', 50)
  for (const m of first) await alice.send('bob@localhost', [m])
  await rec.waitForAll(first, 15_000)
  await assertBalanced(server.registry, 'localhost', 5000)

  rec.answer(500)
  const failing = bodies('fail', 5)
  for (const m of failing) await alice.send('bob@localhost', [m])
  await eventually(
    () => hostCounts(server.registry, 'localhost'),
    (c) => assert.equal(c.failed.status, 5),
    15_000,
  )
  assert.equal(rec.deliveries.filter((d) => d.status === 500).length, 15, 'three attempts each')
  const ids = new Map(rec.deliveries.filter((d) => d.status === 500).map((d) => [d.message, d.id]))
  rec.answer(204)
  const res = await fetch(`http://127.0.0.1:${server.httpPort}/api/hosts/localhost/plugins/mod_event_pusher_http/deliveries/replay`, {
    method: 'POST',
    headers: { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json' },
    body: JSON.stringify({ failed: true }),
  })
  assert.deepEqual(await res.json(), { replayed: 5, notFound: [], noHandler: [] })
  await rec.waitForAll(failing, 15_000)
  for (const d of rec.deliveries.filter((x) => x.status === 204 && failing.includes(x.message))) assert.equal(d.id, ids.get(d.message))
  const c = await assertBalanced(server.registry, 'localhost', 5000)
  assert.deepEqual([c.accepted, c.replayed, c.sent, c.failedTotal], [55, 5, 55, 5])
})

test('the status says whether nats-server is reachable; what users send meanwhile waits in memory and is delivered once it is back', async () => {
  const nats = await startNats()
  const rec = await webhookRecorder()
  cleanups.push(
    () => nats.stop(),
    () => rec.close(),
  )
  const server = await startTestServer(configToml({ extra: plugin(rec.url, nats.url) }))
  cleanups.push(() => server.stop())
  const status = async () => {
    const r = await xmppctlOn(server, 'plugin', 'status', '--host', 'localhost')
    assert.equal(r.code, 0, r.stderr)
    return r.stdout
  }
  assert.match(await status(), new RegExp(`outbox: jetstream, ${nats.url} stream XMPPD_NOTIFICATIONS, reachable`))
  await nats.stop()
  await eventually(status, (out) => assert.match(out, /outbox: jetstream, .* UNREACHABLE \(disconnected from /), 10_000)
  const alice = await chatSender(server.c2sPort, 'alice', 'alice-pw')
  cleanups.push(async () => alice.close())
  const during = bodies('away', 20)
  for (const m of during) await alice.send('bob@localhost', [m])
  await eventually(
    () => hostCounts(server.registry, 'localhost'),
    (c) => assert.deepEqual([c.accepted, c.pending, c.failedTotal], [20, 20, 0], 'waiting in memory, counted pending'),
    10_000,
  )
  await nats.restart()
  await rec.waitForAll(during, 20_000)
  assert.match(await status(), /, reachable/)
  const c = await assertBalanced(server.registry, 'localhost', 10_000)
  assert.deepEqual([c.accepted, c.sent, c.failedTotal], [20, 20, 0])
})
