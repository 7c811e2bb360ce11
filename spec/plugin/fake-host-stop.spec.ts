// Stop (disable, reload, shutdown) through the contract: requests in flight get drain_timeout,
// then are aborted and stay pending; nothing pending fails with the sqlite outbox, and the next
// instance on the same data dir delivers it with the same webhook-id (counted recovered when a
// new process finds it); with outbox = "memory" the last stop fails what is left (shutdown).
// Handlers a reload removed keep their rows until they come back or expire. Each spec ends balanced.
import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import path from 'node:path'
import { after, afterEach, before, describe, it } from 'node:test'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { Registry } from 'prom-client'
import createEventPusherHttp from '../../lib/plugin/index.js'
import { FakeHost, tempDataDir, type FakeHostOptions } from '../helpers/fake-host.js'
import { startGate, type Gate } from '../helpers/gate.js'
import { assertBalanced, eventually, hostCounts } from '../helpers/metrics.js'
import { startSink, type Sink } from '../helpers/sink.js'
import { chat } from '../helpers/stanza.js'

const root = fileURLToPath(new URL('../../', import.meta.url))
let sink: Sink
let gate: Gate | undefined
const hosts: FakeHost[] = []
/** Set by a spec that leaves notifications pending on purpose (they are checked before the stop). */
let leftPending = false

before(async () => {
  sink = await startSink()
})
after(() => sink.close())
afterEach(async () => {
  const list = hosts.splice(0)
  try {
    for (const h of list) {
      if (h.plugin) await assertBalanced(h.registry, h.host, 3000, { pending: leftPending })
      await h.stop()
      if (!leftPending) await assertBalanced(h.registry, h.host)
    }
  } finally {
    // After a failed assertion too: nothing left running into the next spec.
    for (const h of list) await h.stop()
    leftPending = false
    await gate?.close()
    gate = undefined
    sink.requests.length = 0
    sink.behave({ status: 204 })
  }
})

function fakeHost(opts: FakeHostOptions = {}): FakeHost {
  const h = new FakeHost({ pools: { http_pool: { server: sink.url, request_timeout: 10_000 } }, ...opts })
  hosts.push(h)
  return h
}

const send = (h: FakeHost, text = 'hi') => h.send(chat(`alice@${h.host}/r`, `bob@${h.host}`, text))
const counts = (h: FakeHost) => hostCounts(h.registry, h.host)
const sentReaches = (h: FakeHost, n: number) =>
  eventually(
    () => counts(h),
    (c) => assert.equal(c.sent, n),
    5000,
  )
const ids = (reqs: Array<{ headers: Record<string, unknown> }>) => reqs.map((r) => String(r.headers['webhook-id'])).sort()

describe('stop', () => {
  it('lets requests in flight finish within drain_timeout; what has not started stays pending for the next start', async () => {
    sink.behave({ delay: 80, status: 204 })
    const h = fakeHost({ pools: { http_pool: { server: sink.url, pool_size: 1 } } })
    await h.start(createEventPusherHttp, { drain_timeout: 5000 })
    for (let i = 0; i < 3; i++) send(h, `m${i}`)
    await sink.waitFor(1)
    await h.stop()
    let c = await counts(h)
    assert.deepEqual([c.sent, c.failedTotal, sink.requests.length], [1, 0, 1])
    await h.start(createEventPusherHttp, { drain_timeout: 5000 })
    await sentReaches(h, 3)
    c = await counts(h)
    assert.deepEqual([c.accepted, c.recovered, c.failedTotal], [3, 0, 0])
    assert.deepEqual(
      sink.requests.map((r) => r.form.message),
      ['m0', 'm1', 'm2'],
    )
  })

  it('aborts requests in flight after drain_timeout: they stay pending, no attempt used, and the next start sends them with the same webhook-id', async () => {
    sink.behave({ hang: true })
    const h = fakeHost({ pools: { http_pool: { server: sink.url, pool_size: 2, request_timeout: 10_000 } } })
    await h.start(createEventPusherHttp, { drain_timeout: 100 })
    for (let i = 0; i < 5; i++) send(h, `m${i}`)
    const aborted = ids(await sink.waitFor(2))
    await h.stop()
    const c = await counts(h)
    assert.deepEqual([c.accepted, c.sent, c.failedTotal], [5, 0, 0], 'nothing fails at stop')
    assert.ok(h.logs.some((l) => l.level === 'warn' && /drain timed out/.test(l.msg ?? '')))
    assert.ok(!h.logs.some((l) => /breaker open/.test(l.msg ?? '')), 'aborts do not read as an outage')

    sink.requests.length = 0
    sink.behave({ status: 204 })
    await h.start(createEventPusherHttp, { drain_timeout: 100 }) // a disable/enable in this process
    await sentReaches(h, 5)
    const after = await counts(h)
    assert.deepEqual([after.recovered, after.failedTotal], [0, 0], 'counted when accepted, not again')
    const again = ids(sink.requests)
    for (const id of aborted) assert.ok(again.includes(id), `${id} sent again with its webhook-id`)
    const retries = (await h.registry.getSingleMetric('mod_http_notifications_retries_total')!.get()).values[0].value
    assert.equal(retries, 0, 'an aborted try is no attempt')
  })

  it('outbox = "memory": what is pending at the last stop fails (shutdown), aborted requests included', async () => {
    sink.behave({ hang: true })
    const h = fakeHost({ pools: { http_pool: { server: sink.url, pool_size: 2, request_timeout: 10_000 } } })
    await h.start(createEventPusherHttp, { outbox: 'memory', drain_timeout: 100 })
    for (let i = 0; i < 5; i++) send(h, `m${i}`)
    await sink.waitFor(2)
    await h.stop()
    const c = await counts(h)
    assert.deepEqual([c.accepted, c.failed.shutdown, c.failedTotal, c.sent], [5, 5, 5, 0])
  })

  for (const outbox of ['sqlite', 'memory']) {
    it(`${outbox}: a reload (the new instance starts before the old one stops) hands over what the old one had in flight: nothing fails`, async () => {
      gate = await startGate()
      const registry = new Registry()
      const dataDir = tempDataDir()
      const pools = { http_pool: { server: gate.url, request_timeout: 10_000 } }
      const options = { outbox, drain_timeout: 100 }
      const old = fakeHost({ registry, dataDir, pools })
      await old.start(createEventPusherHttp, options)
      for (let i = 0; i < 3; i++) send(old, `m${i}`)
      await gate.waitFor(3)
      const reloaded = fakeHost({ registry, dataDir, pools })
      await reloaded.start(createEventPusherHttp, options)
      gate.auto(204)
      await old.stop() // its three requests are aborted after drain_timeout: nothing new arrives for the new one
      assert.deepEqual((await counts(old)).failedTotal, 0)
      await sentReaches(reloaded, 3)
      assert.deepEqual(ids(gate.requests.slice(3)), ids(gate.requests.slice(0, 3)), 'the same notifications, the same webhook-ids')
    })
  }

  it('stops accepting at once, even from a host that still calls the handler', async () => {
    sink.behave({ delay: 50, status: 204 })
    const h = fakeHost()
    await h.start(createEventPusherHttp, {})
    send(h)
    const stopping = h.stop()
    assert.equal(h.subscribers, 0, 'unsubscribed itself')
    h.sendToEverySubscriber(chat('alice@a.test', 'bob@a.test', 'late'))
    await stopping
    h.sendToEverySubscriber(chat('alice@a.test', 'bob@a.test', 'later'))
    assert.equal((await counts(h)).accepted, 1)
    await h.start(createEventPusherHttp, {}) // what it accepted is still delivered
    await sentReaches(h, 1)
    assert.deepEqual(
      sink.requests.map((r) => r.form.message),
      ['hi'],
    )
  })

  it('drops its gauge series and keeps its counters; stop twice is harmless', async () => {
    const h = fakeHost()
    await h.start(createEventPusherHttp, {})
    send(h)
    await sentReaches(h, 1)
    await h.plugin!.stop()
    await h.plugin!.stop()
    for (const name of ['queue_depth', 'pending', 'oldest_pending_seconds', 'breaker_state']) {
      const series = (await h.registry.getSingleMetric(`mod_http_notifications_${name}`)!.get()).values
      assert.deepEqual(
        series.filter((v) => v.labels.host === h.host),
        [],
        name,
      )
    }
    assert.equal((await counts(h)).sent, 1)
  })
})

describe('recovery', () => {
  it('a new process on the same data dir sends what the last one left, with the same webhook-ids, counted recovered once', async () => {
    const dataDir = tempDataDir()
    const run = await promisify(execFile)(process.execPath, ['--import', 'tsx', path.join(root, 'spec/fixtures/previous-run.ts'), dataDir, '5'], { cwd: root })
    const left: string[] = JSON.parse(run.stdout)
    assert.equal(new Set(left).size, 5)
    const h = fakeHost({ dataDir })
    await h.start(createEventPusherHttp, {})
    await sentReaches(h, 5)
    const c = await assertBalanced(h.registry, h.host)
    assert.deepEqual([c.accepted, c.recovered, c.sent, c.failedTotal], [0, 5, 5, 0])
    assert.deepEqual(ids(sink.requests), [...left].sort())
    assert.deepEqual(sink.requests.map((r) => r.form.message).sort(), ['m0', 'm1', 'm2', 'm3', 'm4'])
    const started = h.logs.find((l) => l.msg === 'mod_event_pusher_http started')!.obj
    assert.deepEqual([started.outbox, started.file, started.pending], ['sqlite', path.join(dataDir, 'mod_event_pusher_http', 'outbox.sqlite'), 5])
    await h.stop()
    await h.start(createEventPusherHttp, {})
    assert.equal((await counts(h)).recovered, 5, 'once per host in the process life')
  })

  it("keeps a removed handler's rows pending (orphans) and sends them when a handler of that name comes back", async () => {
    gate = await startGate()
    const h = fakeHost({ pools: { http_pool: { server: gate.url, request_timeout: 10_000 } } })
    const both = {
      drain_timeout: 50,
      handlers: [
        { name: 'kept', path: '/k' },
        { name: 'gone', path: '/g' },
      ],
    }
    await h.start(createEventPusherHttp, both)
    send(h, 'x')
    send(h, 'y')
    await gate.waitFor(4)
    const gone = ids(gate.requests.filter((r) => r.url === '/g'))
    await h.stop()
    gate.auto(204)
    await h.start(createEventPusherHttp, { drain_timeout: 50, handlers: [{ name: 'kept', path: '/k' }] })
    await sentReaches(h, 2)
    assert.deepEqual((await h.command('status')).orphans, [{ name: 'gone', pending: 2, dead_letters: 0 }])
    const c = await assertBalanced(h.registry, h.host, 2000, { pending: true })
    assert.deepEqual([c.pending, c.failedTotal], [2, 0])
    await h.stop()
    await h.start(createEventPusherHttp, both)
    await sentReaches(h, 4)
    assert.deepEqual(ids(gate.requests.slice(4).filter((r) => r.url === '/g')), gone)
    assert.deepEqual((await h.command('status')).orphans, [])
  })

  it("expires a removed handler's rows after max_pending_age when it never comes back", async () => {
    gate = await startGate()
    const h = fakeHost({ pools: { http_pool: { server: gate.url, request_timeout: 10_000 } } })
    await h.start(createEventPusherHttp, { drain_timeout: 50, handlers: [{ name: 'gone', path: '/g' }] })
    send(h)
    await gate.waitFor(1)
    await h.stop()
    await h.start(createEventPusherHttp, { max_pending_age: 1, handlers: [{ name: 'renamed', path: '/g' }] })
    await eventually(
      () => counts(h),
      (c) => assert.equal(c.failed.expired, 1),
      5000,
    )
    assert.equal(gate.requests.length, 1, 'no handler of that name: never sent again')
  })
})
