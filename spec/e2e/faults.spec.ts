// Whatever the endpoint does, the server stays healthy, delivery never waits, and every
// notification is counted once: the real server, real clients, real endpoints we control.
import { test, afterEach } from 'node:test'
import assert from 'node:assert/strict'
import { connectClient, type TestClient } from '../helpers/client.js'
import { assertBalanced, eventually, hostCounts } from '../helpers/metrics.js'
import { RawXmpp } from '../helpers/raw-xmpp.js'
import { closedPort, startSink, type Sink } from '../helpers/sink.js'
import { switchableEndpoint } from '../helpers/switchable.js'
import { sample, startTestServer, type TestServer } from '../helpers/xmppd.js'

interface Rig {
  server: TestServer
  alice: TestClient
  bob: TestClient
  /** Sends a chat message alice → bob and waits until bob has it. */
  chat(body: string): Promise<void>
  breaker(): Promise<number | undefined>
}

const cleanups: Array<() => Promise<unknown>> = []
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c()
})

const toml = (o: Record<string, number>) =>
  Object.entries(o)
    .map(([k, v]) => `${k} = ${v}`)
    .join('\n')

async function rig(serverUrl: string, pool: Record<string, number> = {}, plugin: Record<string, number> = {}): Promise<Rig> {
  const server = await startTestServer({
    extra: `
[http_connections.http_pool]
server = "${serverUrl}"
${toml({ request_timeout: 200, ...pool })}

[plugins.mod_event_pusher_http]
pool_name = "http_pool"
path = "/n"
breaker = { volume_threshold = 4, error_threshold_percentage = 50, reset_timeout = 400 }
${toml({ drain_timeout: 1000, ...plugin })}
`,
  })
  const alice = await connectClient(server.c2sPort, 'alice@localhost', 'alice-pw')
  const bob = await connectClient(server.c2sPort, 'bob@localhost', 'bob-pw')
  cleanups.push(
    () => server.stop(),
    () => alice.stop(),
    () => bob.stop(),
  )
  return {
    server,
    alice,
    bob,
    async chat(body) {
      await alice.chat('bob@localhost', body)
      await bob.next((s) => s.is('message') && s.getChildText('body') === body)
    },
    breaker: async () => sample(await server.metricsText(), 'mod_http_notifications_breaker_state', { host: 'localhost', pool: 'http_pool' }),
  }
}

async function sink(): Promise<Sink> {
  const s = await startSink()
  cleanups.push(() => s.close())
  return s
}

test('refusing connections: failed (connection), then the breaker opens and fails fast', async () => {
  const r = await rig(`http://127.0.0.1:${await closedPort()}`)
  for (let i = 0; i < 8; i++) await r.chat(`refused ${i}`)
  const c = await assertBalanced(r.server.registry, 'localhost')
  assert.ok(c.failed.connection >= 4, JSON.stringify(c.failed))
  assert.ok(c.failed.breaker_open >= 1, 'the breaker opened and failed the rest fast')
  assert.equal(await r.breaker(), 1)
})

test('hanging (accepts, never answers): each one times out; delivery does not wait', async () => {
  const s = await sink()
  s.behave({ hang: true })
  const r = await rig(s.url)
  for (let i = 0; i < 3; i++) await r.chat(`hang ${i}`) // delivered while the requests hang
  const c = await assertBalanced(r.server.registry, 'localhost', 3000)
  assert.equal(c.failed.timeout, 3)
})

test('answering slowly but within request_timeout: sent', async () => {
  const s = await sink()
  s.behave({ delay: 80, status: 200 })
  const r = await rig(s.url)
  for (let i = 0; i < 3; i++) await r.chat(`slow ${i}`)
  const c = await assertBalanced(r.server.registry, 'localhost', 3000)
  assert.equal(c.sent, 3)
})

test('500 and 429 open the breaker; 404 and 3xx fail without opening it', async () => {
  for (const [status, opens] of [
    [500, true],
    [429, true],
    [404, false],
    [301, false],
  ] as const) {
    const s = await sink()
    s.behave({ status, headers: status === 301 ? { location: '/moved' } : undefined })
    const r = await rig(s.url)
    for (let i = 0; i < 8; i++) await r.chat(`${status} ${i}`)
    const c = await assertBalanced(r.server.registry, 'localhost')
    assert.equal(c.failed.status + (c.failed.breaker_open ?? 0), 8, `${status}: ${JSON.stringify(c.failed)}`)
    assert.equal((c.failed.breaker_open ?? 0) > 0, opens, `${status}: breaker ${opens ? 'opens' : 'stays closed'}`)
    assert.equal(await r.breaker(), opens ? 1 : 0)
    assert.ok(!s.requests.some((q) => q.url === '/moved'), 'redirects are not followed')
    for (const c of cleanups.splice(0).reverse()) await c()
  }
})

test('keep-alive sockets closed mid-request: failed (connection); the next requests go through', async () => {
  const s = await sink()
  s.behave((_req, i) => (i % 2 === 0 ? { destroy: true } : { status: 200 }))
  const r = await rig(s.url)
  for (let i = 0; i < 6; i++) await r.chat(`reset ${i}`)
  const c = await assertBalanced(r.server.registry, 'localhost', 3000)
  assert.equal(c.sent + c.failedTotal, 6)
  assert.ok(c.failed.connection >= 1 && c.sent >= 1, JSON.stringify(c))
})

test('an outage and the way back: the breaker opens, half-opens and closes; delivery resumes without a restart', async () => {
  const ep = await switchableEndpoint()
  cleanups.push(() => ep.close())
  const r = await rig(ep.url)
  await r.chat('before the outage')
  await eventually(
    () => ep.received,
    (n) => assert.equal(n, 1),
  )
  await ep.down()
  for (let i = 0; i < 6; i++) await r.chat(`during ${i}`)
  await eventually(r.breaker, (v) => assert.equal(v, 1))
  await ep.up()
  // After reset_timeout a trial request goes through and closes the breaker.
  let n = 0
  await eventually(
    async () => {
      await r.chat(`after ${n++}`)
      return r.breaker()
    },
    (v) => assert.equal(v, 0),
    5000,
  )
  const before = ep.received
  await r.chat('steady again')
  await eventually(
    () => ep.received,
    (got) => assert.equal(got, before + 1),
  )
  await assertBalanced(r.server.registry, 'localhost')
})

test('flapping up and down: every notification ends as sent or failed, once', async () => {
  const ep = await switchableEndpoint()
  cleanups.push(() => ep.close())
  const r = await rig(ep.url)
  for (let round = 0; round < 4; round++) {
    for (let i = 0; i < 5; i++) await r.chat(`flap ${round}.${i}`)
    await assertBalanced(r.server.registry, 'localhost', 3000) // settle before the next flip
    if (round % 2 === 0) await ep.down()
    else await ep.up()
  }
  const c = await assertBalanced(r.server.registry, 'localhost', 3000)
  assert.equal(c.accepted, 20)
  assert.ok(c.sent >= 5 && c.failedTotal >= 1, JSON.stringify(c))
  assert.equal(c.sent, ep.received, 'sent means the endpoint got it')
})

test('backpressure: thousands of messages to a hanging endpoint stay within max_queue, overflow is counted, memory stays flat', async () => {
  const s = await sink()
  s.behave({ hang: true })
  const r = await rig(s.url, { pool_size: 4, request_timeout: 60000 }, { max_queue: 200 })
  const raw = await RawXmpp.connect(r.server.c2sPort)
  await raw.login('alice', 'alice-pw', 'blast')
  cleanups.push(async () => raw.close())
  const blast = async (n: number, tag: string) => {
    let batch = ''
    for (let i = 0; i < n; i++) batch += `<message to='bob@localhost' type='chat'><body>${tag} ${i}</body></message>`
    raw.send(batch)
    await r.bob.next((st) => st.getChildText?.('body') === `${tag} ${n - 1}`, 15000)
  }
  await blast(2000, 'warm')
  global.gc?.()
  const heapAfterFirst = process.memoryUsage().heapUsed
  await blast(3000, 'more')
  const c = await hostCounts(r.server.registry, 'localhost')
  assert.equal(c.accepted, 5000)
  const queued = sample(await r.server.metricsText(), 'mod_http_notifications_queue_depth', { host: 'localhost', handler: 'http_pool/n' })
  assert.equal(queued, 200, 'the queue is full, not larger')
  assert.equal(c.failed.queue_full, 5000 - 200 - 4, 'all but the queue and the 4 in flight failed as queue_full')
  global.gc?.()
  const growth = process.memoryUsage().heapUsed - heapAfterFirst
  // The first 2000 filled the queue; 3000 more add nothing that stays (a generous bound: no
  // per-message retention, which would be several MB here).
  assert.ok(growth < 20 * 1024 * 1024, `heap grew ${(growth / 1048576).toFixed(1)} MB`)
})

test('shutdown under load: queued notifications are sent within drain_timeout, the rest counted failed', async () => {
  const s = await sink()
  s.behave({ delay: 30, status: 200 })
  const r = await rig(s.url, { pool_size: 2, request_timeout: 5000 })
  for (let i = 0; i < 100; i++) await r.alice.chat('bob@localhost', `load ${i}`)
  await r.bob.next((st) => st.getChildText?.('body') === 'load 99')
  const registry = r.server.registry
  await r.server.stop() // drain_timeout = 1000: at most 2 × 1000 / 30 of the 100 can be sent
  const c = await hostCounts(registry, 'localhost')
  assert.equal(c.accepted, 100)
  assert.equal(c.sent + c.failedTotal, 100, JSON.stringify(c))
  assert.ok(c.sent > 0, 'the queue drained while it could')
  assert.ok(c.failed.shutdown > 0, 'what could not be sent in time counts as failed (shutdown)')
  assert.ok(c.sent <= s.requests.length, 'sent means the endpoint got it')
})
