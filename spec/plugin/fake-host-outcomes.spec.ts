// How each outcome is decided and counted: statuses, network errors, timeouts, an unreachable
// endpoint (no attempt: it waits), the breaker, the bound on what is pending (max_queue) and on
// how long (max_pending_age). Every spec ends with accepted + recovered = sent + failed + pending.
import assert from 'node:assert/strict'
import { after, afterEach, before, describe, it } from 'node:test'
import createEventPusherHttp from '../../lib/plugin/index.js'
import { FakeHost, type PoolInput } from '../helpers/fake-host.js'
import { assertBalanced, eventually, hostCounts } from '../helpers/metrics.js'
import { startGate } from '../helpers/gate.js'
import { startSink, type Sink } from '../helpers/sink.js'
import { chat } from '../helpers/stanza.js'
import { switchableEndpoint } from '../helpers/switchable.js'
import { testCert } from '../helpers/tls.js'

let sink: Sink
let host: FakeHost
/** Set by a spec that leaves notifications pending on purpose (they are checked before the stop). */
let leftPending = false

before(async () => {
  sink = await startSink()
})
after(() => sink.close())
afterEach(async () => {
  try {
    if (host?.plugin) await assertBalanced(host.registry, host.host, 3000, { pending: leftPending })
    await host?.stop()
    if (!leftPending) await assertBalanced(host.registry, host.host)
  } finally {
    // After a failed assertion too: nothing left running into the next spec.
    await host?.stop()
    leftPending = false
    sink.requests.length = 0
    sink.behave({ status: 204 })
  }
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

  it('endpoint down (refused) → no attempt: it waits, nothing fails, and it is sent once the endpoint is back', async () => {
    const endpoint = await switchableEndpoint()
    await endpoint.down()
    try {
      await mount({ breaker: { reset_timeout: 100 } }, { server: endpoint.url })
      send()
      await eventually(
        async () => (await host.command('status')).handlers[0],
        (h) => assert.deepEqual([h.pending, h.in_flight], [1, 0]),
      )
      await new Promise((r) => setTimeout(r, 300)) // refused a few times meanwhile
      const c = await assertBalanced(host.registry, 'a.test', 2000, { pending: true })
      assert.deepEqual([c.pending, c.failedTotal], [1, 0])
      await endpoint.up()
      await eventually(counts, (n) => assert.equal(n.sent, 1))
      assert.equal(endpoint.received, 1)
    } finally {
      await endpoint.close()
    }
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
    await sendSettled()
    assert.equal((await counts()).failed.timeout, 1)
    assert.equal(sink.requests.length, 1)
  })
})

describe('breaker', () => {
  const breaker = { volume_threshold: 3, reset_timeout: 300, error_threshold_percentage: 50 }

  it('opens after repeated 5xx; while open nothing is sent and nothing fails; half-open: one probe; closed: what waited goes', async () => {
    const gate = await startGate()
    try {
      gate.auto(503)
      await mount({ breaker }, { server: gate.url })
      for (let i = 0; i < 3; i++) await sendSettled()
      assert.equal((await host.command('status')).pools[0].breaker, 'open')
      assert.equal(await breakerGauge(), 1)
      assert.ok(host.logs.some((l) => l.level === 'warn' && /breaker open/.test(l.msg ?? '')))

      gate.auto(undefined) // hold what comes now: the probe stays out until released
      for (let i = 0; i < 4; i++) send(`w${i}`)
      await gate.waitFor(4)
      await new Promise((r) => setTimeout(r, 150))
      const status = await host.command('status')
      assert.deepEqual(
        [gate.requests.length, gate.held, status.pools[0].breaker, status.pools[0].in_flight, status.pending],
        [4, 1, 'half-open', 1, 4],
        'one probe, the rest waits',
      )
      assert.equal(await breakerGauge(), 0.5)
      let c = await counts()
      assert.deepEqual([c.failed.status, c.failedTotal, c.sent], [3, 3, 0], 'nothing counted for what waited')

      gate.auto(204)
      gate.release()
      await gate.waitFor(7)
      c = await assertBalanced(host.registry, 'a.test')
      assert.deepEqual([c.sent, c.failedTotal], [4, 3])
      assert.equal(await breakerGauge(), 0)
      assert.equal(gate.maxHeld, 1)
    } finally {
      await host.stop()
      await gate.close()
    }
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

  it('judges only the last rolling_window: old successes do not hold a burst of failures back', async () => {
    let failing = false
    sink.behave(() => (failing ? { status: 500 } : { status: 204 }))
    await mount({ breaker: { volume_threshold: 3, error_threshold_percentage: 50, reset_timeout: 60_000, rolling_window: 300 } })
    for (let i = 0; i < 10; i++) await sendSettled()
    await new Promise((r) => setTimeout(r, 400)) // the successes leave the window
    failing = true
    for (let i = 0; i < 3; i++) await sendSettled()
    assert.equal(await breakerGauge(), 1, 'three failures are the whole window now')
    const c = await counts()
    assert.deepEqual([c.sent, c.failed.status], [10, 3])
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

describe('bounded outbox', () => {
  for (const outbox of ['sqlite', 'memory']) {
    it(`${outbox}: fails the newest with queue_full once max_queue are pending; one hanging endpoint holds the rest`, async () => {
      sink.behave({ hang: true })
      await mount({ outbox, max_queue: 2 }, { pool_size: 1, request_timeout: 5000 })
      for (let i = 0; i < 5; i++) send(`m${i}`)
      // Recording is synchronous and sending starts on a later turn: 2 pending, 3 refused.
      assert.equal((await counts()).failed.queue_full, 3)
      const [req] = await sink.waitFor(1)
      assert.equal(req.form.message, 'm0', 'the oldest went first')
      const status = await host.command('status')
      const h = status.handlers[0]
      assert.deepEqual([h.pending, h.queue_depth, h.in_flight, h.max_queue, status.pools[0].in_flight, status.pending], [2, 1, 1, 2, 1, 2])
      assert.deepEqual(status.outbox.backend, outbox)
      if (outbox === 'sqlite') {
        leftPending = true // they stay in the file (fake-host-stop.spec.ts delivers such leftovers)
        return
      }
      await host.stop()
      assert.equal((await counts()).failed.shutdown, 2, 'memory: what was pending at the last stop is lost, and counted')
    })
  }

  it('returns from the hook at once whatever the endpoint does', async () => {
    sink.behave({ hang: true })
    await mount({}, { pool_size: 2, request_timeout: 5000 })
    // The hook is synchronous and does no I/O: every packet is accepted (recorded) before any
    // request has even started. How fast it is, `npm run bench` measures.
    for (let i = 0; i < 2000; i++) send(`m${i}`)
    assert.equal(sink.requests.length, 0)
    assert.equal(host.logs.filter((l) => l.msg === 'hook handler failed').length, 0)
    assert.equal((await counts()).accepted, 2000)
    leftPending = true
  })

  it('fails what stays pending longer than max_pending_age (expired)', async () => {
    const endpoint = await switchableEndpoint()
    await endpoint.down()
    try {
      await mount({ max_pending_age: 1 }, { server: endpoint.url })
      send('a')
      send('b')
      await eventually(counts, (c) => assert.equal(c.failed.expired, 2), 5000)
      const c = await assertBalanced(host.registry, 'a.test')
      assert.deepEqual([c.failedTotal, c.sent, endpoint.received], [2, 0, 0])
      assert.ok(host.logs.some((l) => l.level === 'warn' && l.obj.reason === 'expired'))
    } finally {
      await endpoint.close()
    }
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
