// Whatever the endpoint does, the server stays healthy, delivery never waits, and every
// notification is counted once: the real server, real clients, real endpoints we control. An
// endpoint that cannot be reached (refused, the open breaker) is waited for, never a failure.
import { test, afterEach } from 'node:test'
import assert from 'node:assert/strict'
import v8 from 'node:v8'
import vm from 'node:vm'
import { connectClient, type TestClient } from '../helpers/client.js'
import { assertBalanced, eventually, hostCounts } from '../helpers/metrics.js'
import { RawXmpp } from '../helpers/raw-xmpp.js'
import { startSink, type Sink } from '../helpers/sink.js'
import { switchableEndpoint } from '../helpers/switchable.js'
import { sample, startTestServer, startTestServerAt, type TestServer } from '../helpers/xmppd.js'

// A real collection before each heap reading: the test runner starts spec files without
// --expose-gc, and uncollected garbage (more of it while other spec files load the machine)
// would be read as growth.
v8.setFlagsFromString('--expose-gc')
const gc = vm.runInNewContext('gc') as () => void

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

test('refusing connections: nothing fails; the breaker opens; everything waits and goes out once the port listens', async () => {
  const ep = await switchableEndpoint()
  cleanups.push(() => ep.close())
  await ep.down()
  const r = await rig(ep.url)
  for (let i = 0; i < 8; i++) await r.chat(`refused ${i}`)
  await eventually(r.breaker, (v) => assert.equal(v, 1))
  const waiting = await assertBalanced(r.server.registry, 'localhost', 2000, { pending: true })
  assert.deepEqual([waiting.pending, waiting.failedTotal, waiting.sent], [8, 0, 0], 'refused is not an attempt: all 8 wait')
  await ep.up()
  await eventually(
    () => ep.received,
    (n) => assert.equal(n, 8),
    5000,
  )
  const c = await assertBalanced(r.server.registry, 'localhost')
  assert.deepEqual([c.accepted, c.sent, c.failedTotal], [8, 8, 0])
  assert.equal(await r.breaker(), 0)
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

test('500 and 429 open the breaker, what waits behind it goes out when the endpoint recovers; 404 and 3xx fail without opening it', async () => {
  for (const [status, opens] of [
    [500, true],
    [429, true],
    [404, false],
    [301, false],
  ] as const) {
    const s = await sink()
    let answer: number = status
    const answered = new Map<number, number>()
    s.behave(() => {
      answered.set(answer, (answered.get(answer) ?? 0) + 1)
      return { status: answer, headers: answer === 301 ? { location: '/moved' } : undefined }
    })
    const r = await rig(s.url)
    for (let i = 0; i < 8; i++) await r.chat(`${status} ${i}`)
    if (opens) {
      await eventually(r.breaker, (v) => assert.equal(v, 1), 3000)
      // Sent while it is open: they wait (its one probe every reset_timeout may take one).
      for (let i = 8; i < 12; i++) await r.chat(`${status} ${i}`)
      answer = 204
    }
    const c = await assertBalanced(r.server.registry, 'localhost', 5000)
    const total = opens ? 12 : 8
    // retries = 0: each answer is the one attempt of one notification.
    assert.equal(s.requests.length, total, `${status}: one request per notification`)
    assert.equal(new Set(s.requests.map((q) => q.form.message)).size, total)
    assert.equal(c.failed.status, answered.get(status), `${status}: ${JSON.stringify(c.failed)}`)
    assert.equal(c.sent, answered.get(204) ?? 0)
    assert.equal(c.failedTotal, c.failed.status)
    if (opens) assert.ok(c.sent > 0, `${status}: what waited behind the open breaker was sent once it recovered`)
    assert.equal(await r.breaker(), 0, `${status}: closed at the end`)
    assert.ok(!s.requests.some((q) => q.url === '/moved'), 'redirects are not followed')
    for (const c of cleanups.splice(0).reverse()) await c()
  }
})

test('sockets closed mid-request: failed (connection) after a fresh connect; the next requests go through', async () => {
  const s = await sink()
  s.behave((_req, i) => (i % 2 === 0 ? { destroy: true } : { status: 200 }))
  const r = await rig(s.url)
  for (let i = 0; i < 6; i++) await r.chat(`reset ${i}`)
  const c = await assertBalanced(r.server.registry, 'localhost', 3000)
  assert.equal(c.sent + c.failedTotal, 6)
  assert.ok(c.failed.connection >= 1 && c.sent >= 1, JSON.stringify(c))
})

test('an outage and the way back: the breaker opens, half-opens and closes; what waited is delivered, without a restart or a new message', async () => {
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
  // After reset_timeout one probe goes through and closes the breaker; the rest follows at once.
  await eventually(
    () => ep.received,
    (n) => assert.equal(n, 7),
    5000,
  )
  await eventually(r.breaker, (v) => assert.equal(v, 0))
  await r.chat('steady again')
  await eventually(
    () => ep.received,
    (got) => assert.equal(got, 8),
  )
  const c = await assertBalanced(r.server.registry, 'localhost')
  assert.deepEqual([c.accepted, c.sent, c.failedTotal], [8, 8, 0])
})

test('flapping up and down: nothing is lost and nothing is pending at the end', async () => {
  const ep = await switchableEndpoint()
  cleanups.push(() => ep.close())
  const r = await rig(ep.url)
  for (let round = 0; round < 4; round++) {
    for (let i = 0; i < 5; i++) await r.chat(`flap ${round}.${i}`)
    // Up: wait until they are sent, so nothing is in flight at the flip. Down: they wait.
    const c = await assertBalanced(r.server.registry, 'localhost', 5000, { pending: round % 2 === 1 })
    if (round % 2 === 1) assert.equal(c.pending, 5)
    if (round % 2 === 0) await ep.down()
    else await ep.up()
  }
  await ep.up()
  const c = await assertBalanced(r.server.registry, 'localhost', 5000)
  assert.deepEqual([c.accepted, c.sent, c.failedTotal], [20, 20, 0])
  assert.equal(ep.received, 20, 'sent means the endpoint got it')
})

/** alice blasts `n` messages over one raw stream; resolves once bob has the last. */
async function blast(r: Rig, n: number, tag: string): Promise<void> {
  const raw = await RawXmpp.connect(r.server.c2sPort)
  await raw.login('alice', 'alice-pw', `blast-${tag}`)
  raw.onText(() => undefined)
  cleanups.push(async () => raw.close())
  let batch = ''
  for (let i = 0; i < n; i++) batch += `<message to='bob@localhost' type='chat'><body>${tag} ${i}</body></message>`
  raw.send(batch)
  await r.bob.next((st) => st.getChildText?.('body') === `${tag} ${n - 1}`, 15000)
}

test('backpressure: thousands of messages to a hanging endpoint wait on disk, none fails, memory stays flat', async () => {
  const s = await sink()
  s.behave({ hang: true })
  const r = await rig(s.url, { pool_size: 4, request_timeout: 60000 })
  await blast(r, 2000, 'warm')
  gc()
  const heapAfterFirst = process.memoryUsage().heapUsed
  await blast(r, 3000, 'more')
  const c = await assertBalanced(r.server.registry, 'localhost', 2000, { pending: true })
  assert.deepEqual([c.accepted, c.pending, c.failedTotal], [5000, 5000, 0], 'the default max_queue (sqlite) holds them all')
  const queued = sample(await r.server.metricsText(), 'mod_http_notifications_queue_depth', { host: 'localhost', handler: 'http_pool/n' })
  assert.equal(queued, 5000 - 4, 'pending less the 4 in flight')
  assert.equal(s.requests.length, 4, 'pool_size requests hang; nothing more is sent')
  gc()
  const growth = process.memoryUsage().heapUsed - heapAfterFirst
  // The backlog is in the file: 3000 more add nothing that stays (a generous bound: no
  // per-message retention, which would be several MB here).
  assert.ok(growth < 20 * 1024 * 1024, `heap grew ${(growth / 1048576).toFixed(1)} MB`)
})

test('max_queue bounds what is pending per handler: past it the newest fail at once (queue_full)', async () => {
  const s = await sink()
  s.behave({ hang: true })
  const r = await rig(s.url, { pool_size: 4, request_timeout: 60000 }, { max_queue: 200 })
  await blast(r, 500, 'over')
  const c = await assertBalanced(r.server.registry, 'localhost', 2000, { pending: true })
  assert.deepEqual([c.accepted, c.pending, c.failed.queue_full, c.failedTotal], [500, 200, 300, 300])
  const queued = sample(await r.server.metricsText(), 'mod_http_notifications_queue_depth', { host: 'localhost', handler: 'http_pool/n' })
  assert.equal(queued, 200 - 4)
})

test('shutdown under load: in flight finishes within drain_timeout, the rest stays pending and is delivered after a restart', async () => {
  const s = await sink()
  s.behave({ delay: 50, status: 200 })
  const r = await rig(s.url, { pool_size: 2, request_timeout: 5000 })
  const messages = Array.from({ length: 100 }, (_, i) => `load ${i}`)
  for (const m of messages) await r.alice.chat('bob@localhost', m)
  await r.bob.next((st) => st.getChildText?.('body') === 'load 99')
  const registry = r.server.registry
  await r.server.stop() // drain_timeout = 1000: the two in flight (50 ms each) finish, nothing new starts
  const first = await hostCounts(registry, 'localhost')
  assert.deepEqual([first.accepted, first.failedTotal], [100, 0], JSON.stringify(first))
  // The pending series goes with the instance; what is left is what was accepted and not sent.
  const left = first.accepted - first.sent
  assert.ok(first.sent > 0 && left > 0, JSON.stringify(first))
  assert.equal(first.sent, s.requests.length, 'sent means the endpoint got it')

  const again = await startTestServerAt(r.server.configFile)
  cleanups.push(() => again.stop())
  await s.waitFor(100, 10_000)
  const c = await assertBalanced(again.registry, 'localhost', 5000)
  assert.deepEqual([c.accepted, c.recovered, c.sent, c.failedTotal], [0, left, left, 0])
  assert.deepEqual(s.requests.map((q) => q.form.message).sort(), [...messages].sort(), 'each once, none lost')
})
