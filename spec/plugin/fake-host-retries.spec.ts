// Retries on a fake host with a real HTTP endpoint: what is retried and what is final, that an
// unreachable endpoint or an open breaker uses no attempt, Retry-After, max_queue over what
// waits for a retry, the order of due work, and what stop does to a waiting retry on each outbox.
// Each spec ends balanced.
import assert from 'node:assert/strict'
import { after, afterEach, before, describe, it } from 'node:test'
import createEventPusherHttp from '../../lib/plugin/index.js'
import { FakeHost, type PoolInput } from '../helpers/fake-host.js'
import { assertBalanced, eventually, hostCounts } from '../helpers/metrics.js'
import { startSink, type Sink } from '../helpers/sink.js'
import { chat } from '../helpers/stanza.js'
import { switchableEndpoint } from '../helpers/switchable.js'

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
  await host.start(createEventPusherHttp, { path: '/n', drain_timeout: 500, ...options })
  return host
}

const send = (text = 'hi') => host.send(chat('alice@a.test/r', 'bob@a.test', text))
const counts = () => hostCounts(host.registry, 'a.test')
const retries = async () =>
  (await host.registry.getSingleMetric('mod_http_notifications_retries_total')!.get()).values.find((v) => v.labels.host === 'a.test')?.value
const settledCount = async () => {
  const c = await counts()
  return c.sent + c.failedTotal
}
/** Waits until `n` notifications have their final outcome. */
const settled = (n: number, timeoutMs = 3000) => eventually(settledCount, (v) => assert.equal(v, n), timeoutMs)
/** Waits until the handler has `pending` notifications and none in flight (a retry waiting for its time). */
const waiting = (pending: number) =>
  eventually(
    async () => (await host.command('status')).handlers[0],
    (h) => assert.deepEqual([h.pending, h.in_flight], [pending, 0]),
  )

describe('retries', () => {
  it('succeeds on the third attempt: sent once, two retries counted, the same webhook-id three times', async () => {
    sink.behave((_req, i) => (i < 2 ? { status: 503 } : { status: 200 }))
    await mount({ retries: 3, retry_base_delay: 5, retry_max_delay: 20 })
    send('third time lucky')
    await settled(1)
    const c = await counts()
    assert.deepEqual([c.accepted, c.sent, c.failedTotal, await retries()], [1, 1, 0, 2])
    assert.equal(sink.requests.length, 3)
    const ids = sink.requests.map((r) => r.headers['webhook-id'])
    assert.match(String(ids[0]), /^msg_/)
    assert.deepEqual(new Set(ids).size, 1)
    for (const r of sink.requests) assert.match(String(r.headers['webhook-timestamp']), /^\d+$/)
    assert.deepEqual(new Set(sink.requests.map((r) => r.form.message)), new Set(['third time lucky']))
  })

  it('gives up after the last attempt: failed once, with the last reason', async () => {
    sink.behave({ status: 500 })
    await mount({ retries: 2, retry_base_delay: 1, retry_max_delay: 5 })
    send()
    await settled(1)
    const c = await counts()
    assert.deepEqual([c.sent, c.failed.status, c.failedTotal, await retries(), sink.requests.length], [0, 1, 1, 2, 3])
    assert.equal(host.logs.filter((l) => l.msg === 'notification failed').length, 1)
    assert.equal(host.logs.find((l) => l.msg === 'notification failed')!.obj.attempts, 3)
  })

  it('does not retry 400 or 410 (nor any answer but 408, 429 and 5xx)', async () => {
    const next = [400, 410, 404, 302]
    sink.behave(() => ({ status: next.shift() ?? 204 }))
    await mount({ retries: 3, retry_base_delay: 1 })
    for (let i = 0; i < 4; i++) send(`m${i}`)
    await settled(4)
    await new Promise((r) => setTimeout(r, 30))
    assert.equal(sink.requests.length, 4)
    const c = await counts()
    assert.deepEqual([c.failed.status, await retries()], [4, 0])
  })

  it('retries a reset after connecting, a timeout and 408', async () => {
    let i = 0
    sink.behave(() => [{ destroy: true }, { delay: 200, status: 204 }, { status: 408 }][i++] ?? { status: 204 })
    await mount({ retries: 3, retry_base_delay: 1, retry_max_delay: 5 }, { request_timeout: 50 })
    send()
    await settled(1)
    assert.deepEqual([(await counts()).sent, await retries(), sink.requests.length], [1, 3, 4])
  })

  it('an unreachable endpoint uses no attempt: the notification waits, nothing fails, and it goes once the endpoint is back', async () => {
    const endpoint = await switchableEndpoint()
    await endpoint.down()
    try {
      // Refused every breaker.reset_timeout (100 ms) meanwhile: far more tries than retries = 1.
      await mount({ retries: 1, breaker: { reset_timeout: 100 } }, { server: endpoint.url })
      send()
      await new Promise((r) => setTimeout(r, 500))
      const c = await assertBalanced(host.registry, 'a.test', 2000, { pending: true })
      assert.deepEqual([c.pending, c.failedTotal, await retries()], [1, 0, 0])
      await endpoint.up()
      await settled(1)
      assert.deepEqual([(await counts()).sent, await retries(), endpoint.received], [1, 0, 1])
    } finally {
      await endpoint.close()
    }
  })

  it('honours Retry-After on 429 over its own backoff, capped at retry_max_delay', async () => {
    // Without Retry-After, the backoff from a one-hour base would not retry within this spec.
    let i = 0
    sink.behave(() => [{ status: 429, headers: { 'retry-after': '0' } }][i++] ?? { status: 204 })
    await mount({ retries: 1, retry_base_delay: 3_600_000, retry_max_delay: 3_600_000 })
    send()
    await settled(1)
    assert.deepEqual([(await counts()).sent, await retries(), sink.requests.length], [1, 1, 2])
    await assertBalanced(host.registry, host.host)
    await host.stop()

    i = 0
    sink.requests.length = 0
    sink.behave(() => [{ status: 429, headers: { 'retry-after': '86400' } }][i++] ?? { status: 204 })
    await mount({ retries: 1, retry_base_delay: 10, retry_max_delay: 20 })
    send()
    await settled(1)
    assert.deepEqual([(await counts()).sent, sink.requests.length], [1, 2])
  })

  it('a retry that finds the breaker open waits for it without using an attempt: the probe delivers it', async () => {
    sink.behave((_req, i) => (i === 0 ? { status: 503 } : { status: 204 }))
    // Due a millisecond after the 503, which opened the breaker for 300 ms.
    await mount({ retries: 1, retry_base_delay: 1, retry_max_delay: 1, breaker: { volume_threshold: 1, error_threshold_percentage: 1, reset_timeout: 300 } })
    send()
    await settled(1)
    const c = await counts()
    assert.deepEqual([c.sent, c.failedTotal, await retries(), sink.requests.length], [1, 0, 1, 2])
    assert.deepEqual(
      host.logs.filter((l) => /^breaker/.test(l.msg ?? '')).map((l) => l.msg),
      ['breaker open: notifications wait in the outbox', 'breaker half-open: one probe request every reset_timeout until one succeeds', 'breaker closed'],
    )
  })

  it('max_queue counts what waits for a retry: past it the newest fails queue_full at once', async () => {
    sink.behave({ status: 503 })
    await mount({ retries: 5, retry_base_delay: 3_600_000, retry_max_delay: 3_600_000, max_queue: 2 })
    send('a')
    send('b')
    await sink.waitFor(2)
    await waiting(2)
    send('c')
    send('d')
    const c = await counts()
    assert.deepEqual([c.failed.queue_full, c.failed.status, c.failedTotal], [2, 0, 2])
    const status = await host.command('status')
    assert.deepEqual([status.handlers[0].pending, status.handlers[0].queue_depth, status.handlers[0].max_queue, status.pending], [2, 2, 2, 2])
    assert.deepEqual(
      sink.requests.map((r) => r.form.message),
      ['a', 'b'],
    )
    assert.equal(host.logs.filter((l) => l.obj.reason === 'queue_full').length, 1, 'rate-limited')
    leftPending = true
  })

  it('a waiting retry never holds up the notifications due before it', async () => {
    sink.behave((_req, i) => (i === 0 ? { status: 500 } : { status: 204 }))
    await mount({ retries: 1, retry_base_delay: 1, retry_max_delay: 2 }, { pool_size: 1 })
    send('flaky')
    for (let i = 0; i < 5; i++) send(`m${i}`)
    await settled(6)
    assert.deepEqual([(await counts()).sent, await retries()], [6, 1])
    assert.deepEqual(
      sink.requests.map((r) => r.form.message),
      ['flaky', 'm0', 'm1', 'm2', 'm3', 'm4', 'flaky'],
    )
  })

  it('at stop a waiting retry stays pending; the next instance sends it when due, with its webhook-id', async () => {
    sink.behave((_req, i) => (i === 0 ? { status: 500 } : { status: 204 }))
    const options = { path: '/n', retries: 3, retry_schedule: [1] }
    await mount(options)
    send()
    await sink.waitFor(1)
    await waiting(1)
    await host.stop()
    assert.deepEqual([(await counts()).failedTotal, sink.requests.length], [0, 1])
    await host.start(createEventPusherHttp, options) // the same data dir and registry: a disable/enable
    await settled(1)
    assert.deepEqual([(await counts()).sent, await retries(), (await counts()).recovered], [1, 1, 0])
    assert.equal(sink.requests[1].headers['webhook-id'], sink.requests[0].headers['webhook-id'])
  })

  it('outbox = "memory": a waiting retry is failed (shutdown) at the last stop', async () => {
    sink.behave({ status: 500 })
    await mount({ outbox: 'memory', retries: 3, retry_base_delay: 3_600_000, retry_max_delay: 3_600_000 })
    send()
    await sink.waitFor(1)
    await waiting(1)
    await host.stop()
    const c = await counts()
    assert.deepEqual([c.failed.shutdown, c.failed.status, c.failedTotal, await retries(), sink.requests.length], [1, 0, 1, 0, 1])
  })
})
