// How each outcome is decided and counted: statuses, network errors, timeouts, the breaker and
// the bounded queue. Every spec ends with accepted = sent + failed.
import assert from 'node:assert/strict'
import { after, afterEach, before, describe, it } from 'node:test'
import createEventPusherHttp from '../../lib/plugin/index.js'
import { FakeHost, type PoolInput } from '../helpers/fake-host.js'
import { assertBalanced, eventually, hostCounts } from '../helpers/metrics.js'
import { closedPort, startSink, type Sink } from '../helpers/sink.js'
import { chat } from '../helpers/stanza.js'
import { testCert } from '../helpers/tls.js'

let sink: Sink
let host: FakeHost

before(async () => {
  sink = await startSink()
})
after(() => sink.close())
afterEach(async () => {
  await host?.stop()
  await assertBalanced(host.registry, host.host)
  sink.requests.length = 0
  sink.behave({ status: 204 })
})

async function mount(options: Record<string, unknown>, pool: Partial<PoolInput> = {}): Promise<FakeHost> {
  host = new FakeHost({ pools: { http_pool: { server: sink.url, request_timeout: 300, ...pool } as PoolInput } })
  await host.start(createEventPusherHttp, { path: '/n', drain_timeout: 100, ...options })
  return host
}

const send = (text = 'hi') => host.send(chat('alice@a.test/r', 'bob@a.test', text))
const counts = () => hostCounts(host.registry, 'a.test')
const breakerGauge = async () =>
  (await host.registry.getSingleMetric('mod_http_notifications_breaker_state')!.get()).values.find(
    (v) => v.labels.host === 'a.test' && v.labels.pool === 'http_pool',
  )?.value

/** Sends one message and waits until its outcome is counted. */
async function sendSettled(text = 'hi'): Promise<void> {
  const before = await counts()
  send(text)
  await eventually(counts, (c) => assert.equal(c.sent + c.failedTotal, before.sent + before.failedTotal + 1))
}

describe('outcomes', () => {
  it('2xx is sent and observed in response_time', async () => {
    sink.behave({ status: 200 })
    await mount({})
    await sendSettled()
    const c = await counts()
    assert.deepEqual([c.sent, c.responseCount, c.failedTotal], [1, 1, 0])
  })

  it('endpoint down → failed (connection)', async () => {
    await mount({}, { server: `http://127.0.0.1:${await closedPort()}` })
    await sendSettled()
    assert.equal((await counts()).failed.connection, 1)
  })

  it('socket destroyed mid-request → failed (connection)', async () => {
    sink.behave({ destroy: true })
    await mount({})
    await sendSettled()
    assert.equal((await counts()).failed.connection, 1)
  })

  it('500 → failed (status)', async () => {
    sink.behave({ status: 500 })
    await mount({})
    await sendSettled()
    assert.equal((await counts()).failed.status, 1)
  })

  it('302 → failed (status), the redirect not followed', async () => {
    sink.behave((req) => (req.url === '/n' ? { status: 302, headers: { location: '/elsewhere' } } : { status: 204 }))
    await mount({})
    await sendSettled()
    await new Promise((r) => setTimeout(r, 50))
    assert.deepEqual(
      sink.requests.map((r) => r.url),
      ['/n'],
    )
    assert.equal((await counts()).failed.status, 1)
  })

  it('slower than request_timeout → failed (timeout), without retry', async () => {
    sink.behave({ delay: 400, status: 204 })
    await mount({}, { request_timeout: 100 })
    const t0 = Date.now()
    await sendSettled()
    assert.ok(Date.now() - t0 < 350, 'gave up at request_timeout')
    assert.equal((await counts()).failed.timeout, 1)
    assert.equal(sink.requests.length, 1)
  })
})

describe('breaker', () => {
  const breaker = { volume_threshold: 3, reset_timeout: 300, error_threshold_percentage: 50 }

  it('opens after repeated 5xx, fails fast without reaching the endpoint, closes after reset_timeout', async () => {
    sink.behave({ status: 503 })
    await mount({ breaker })
    for (let i = 0; i < 3; i++) await sendSettled()
    assert.equal((await host.command('status')).pools[0].breaker, 'open')
    assert.equal(await breakerGauge(), 1)
    assert.ok(host.logs.some((l) => l.level === 'warn' && /breaker open/.test(l.msg ?? '')))

    for (let i = 0; i < 4; i++) await sendSettled()
    let c = await counts()
    assert.deepEqual([c.failed.status, c.failed.breaker_open], [3, 4])
    assert.equal(sink.requests.length, 3, 'nothing reached the endpoint while open')

    sink.behave({ status: 204 })
    await eventually(breakerGauge, (v) => assert.equal(v, 0.5), 1000)
    assert.equal((await host.command('status')).pools[0].breaker, 'half-open')
    await sendSettled('trial')
    assert.equal(await breakerGauge(), 0)
    await sendSettled('after')
    c = await counts()
    assert.deepEqual([c.sent, sink.requests.length], [2, 5])
  })

  it('stays open when the half-open trial fails', async () => {
    sink.behave({ status: 500 })
    await mount({ breaker })
    for (let i = 0; i < 3; i++) await sendSettled()
    await eventually(breakerGauge, (v) => assert.equal(v, 0.5), 1000)
    await sendSettled('trial')
    assert.equal(await breakerGauge(), 1)
    assert.equal(sink.requests.length, 4)
  })

  it('counts timeouts, 408 and 429 toward opening', async () => {
    let i = 0
    sink.behave(() => [{ status: 408 }, { status: 429 }, { delay: 300, status: 204 }][i++ % 3])
    await mount({ breaker }, { request_timeout: 80 })
    for (let n = 0; n < 3; n++) await sendSettled()
    assert.equal(await breakerGauge(), 1)
    const c = await counts()
    assert.deepEqual([c.failed.status, c.failed.timeout], [2, 1])
  })

  it('never opens on 404s (the endpoint is up)', async () => {
    sink.behave({ status: 404 })
    await mount({ breaker })
    for (let i = 0; i < 10; i++) await sendSettled()
    assert.equal(await breakerGauge(), 0)
    assert.equal(sink.requests.length, 10)
    assert.equal((await counts()).failed.status, 10)
  })

  it('does not open on one early error (volume threshold)', async () => {
    let first = true
    sink.behave(() => (first ? ((first = false), { status: 500 }) : { status: 204 }))
    await mount({}) // default volume_threshold: 10
    await sendSettled()
    await sendSettled()
    assert.equal(await breakerGauge(), 0)
    assert.equal((await counts()).sent, 1)
  })
})

describe('bounded queue', () => {
  it('fails the newest with queue_full when full; one hanging endpoint holds the rest', async () => {
    sink.behave({ hang: true })
    await mount({ max_queue: 2 }, { pool_size: 1, request_timeout: 5000 })
    for (let i = 0; i < 5; i++) send(`m${i}`)
    // Enqueueing is synchronous and sending starts on a later turn: 2 queued, 3 refused.
    assert.equal((await counts()).failed.queue_full, 3)
    const [req] = await sink.waitFor(1)
    assert.equal(req.form.message, 'm0', 'the oldest went first')
    const status = await host.command('status')
    assert.deepEqual([status.handlers[0].queue_depth, status.handlers[0].in_flight, status.pools[0].in_flight], [1, 1, 1])
  })

  it('returns from the hook at once whatever the endpoint does', async () => {
    sink.behave({ hang: true })
    await mount({}, { pool_size: 2, request_timeout: 5000 })
    // The hook is synchronous and does no I/O: every packet is accepted (queued) before any
    // request has even started. How fast it is, `npm run bench` measures.
    for (let i = 0; i < 2000; i++) send(`m${i}`)
    assert.equal(sink.requests.length, 0)
    assert.equal(host.logs.filter((l) => l.msg === 'hook handler failed').length, 0)
    assert.equal((await counts()).accepted, 2000)
  })
})

describe('https pools', () => {
  const cert = testCert()
  let tlsSink: Sink
  before(async () => {
    tlsSink = await startSink({ tls: cert })
  })
  after(() => tlsSink.close())

  it('trusts tls.cacertfile, refuses an unknown CA, and skips checks with tls.verify = false', async () => {
    await mount({}, { server: tlsSink.url, tls: { verify: true, cacertfile: cert.certFile } })
    await sendSettled()
    assert.equal((await counts()).sent, 1)
    await host.stop()

    await mount({}, { server: tlsSink.url })
    await sendSettled()
    assert.equal((await counts()).failed.connection, 1)
    await host.stop()

    await mount({}, { server: tlsSink.url, tls: { verify: false } })
    await sendSettled()
    assert.equal((await counts()).sent, 1)
    assert.ok(host.logs.some((l) => l.level === 'warn' && /tls.verify is off/.test(l.msg ?? '')))
    assert.equal(tlsSink.requests.length, 2)
  })
})
