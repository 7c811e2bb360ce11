// The JetStream outbox against a real nats-server -js (Debian's), without the plugin around it:
// what each outbox operation does to the streams, what happens while the engine is away, what is
// checked when the streams exist, and two outboxes (two nodes) on one stream.
import { after, afterEach, before, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { ConfigError } from '../../lib/errors.js'
import { JetStreamOutbox } from '../../lib/plugin/outbox/jetstream.js'
import type { JetStreamSettings } from '../../lib/plugin/outbox/jetstream-connect.js'
import { openOutbox } from '../../lib/plugin/outbox/open.js'
import type { OutboxEntry, StoredEvent } from '../../lib/plugin/outbox/outbox.js'
import { eventually } from '../helpers/metrics.js'
import { startNats, type NatsServer } from '../helpers/nats.js'
import { closedPort } from '../helpers/sink.js'

const H = 'a.test'
let nats: NatsServer
let n = 0
before(async () => {
  nats = await startNats()
})
after(() => nats.stop())

/** A stream of its own per test: tests do not see each other's messages. */
const settings = (over: Partial<JetStreamSettings> = {}): JetStreamSettings => ({
  servers: [nats.url],
  stream: `T${++n}_${process.pid}`,
  replicas: 1,
  ackWait: 5000,
  maxAge: 3_600_000,
  publishBuffer: 1000,
  tls: { verify: true },
  ...over,
})
/** Closed after each test, failed or not: an open connection would keep the spec's process alive. */
const opened: JetStreamOutbox[] = []
afterEach(async () => {
  await Promise.all(opened.splice(0).map((o) => o.close().catch(() => undefined)))
})
const open = async (s: JetStreamSettings) => {
  const o = await JetStreamOutbox.open(s, 'spec', () => undefined)
  opened.push(o)
  return o
}
const ev = (body: string, time = Date.now()): StoredEvent => ({
  event: 'message',
  from: 'alice@a.test/r',
  to: 'bob@a.test',
  type: 'chat',
  id: null,
  body,
  time,
  stanza: null,
})

/** Watches a handler and leases until `count` entries came (the feed pulls in the background). */
async function leaseAll(o: JetStreamOutbox, handler: string, count: number): Promise<OutboxEntry[]> {
  const got: OutboxEntry[] = []
  await eventually(
    async () => got.push(...(await o.lease(H, handler, 100))),
    () => assert.equal(got.length, count),
    10_000,
  )
  return got
}

describe('jetstream outbox', () => {
  test('nats-server unreachable at start: a ConfigError at jetstream.servers', async () => {
    const port = await closedPort()
    await assert.rejects(open(settings({ servers: [`nats://127.0.0.1:${port}`] })), (err: ConfigError) => {
      assert.ok(err instanceof ConfigError)
      assert.equal(err.path, 'jetstream.servers')
      assert.match(err.message, /cannot reach nats-server/)
      return true
    })
  })

  test('settle acks; a retry comes back later with its attempts and last status; a wait keeps its attempts; a failure is a dead letter; release gives back', async () => {
    const o = await open(settings())
    await o.prepare(H, ['h'])
    const off = o.watch(H, 'h', () => undefined)
    for (const b of ['settled', 'retried', 'waited', 'failed', 'released']) assert.equal(o.add(H, 'h', `id-${b}`, ev(b), 100), undefined)
    const byId = new Map((await leaseAll(o, 'h', 5)).map((e) => [e.webhookId, e]))
    o.settle(byId.get('id-settled')!)
    o.retryLater(byId.get('id-retried')!, { dueAt: Date.now() + 300, attempts: 1, unreachable: false, last: { at: Date.now(), reached: true, status: 503 } })
    o.retryLater(byId.get('id-waited')!, { dueAt: Date.now() + 100, attempts: 0, unreachable: true })
    o.fail(byId.get('id-failed')!, { reason: 'status', failedAt: Date.now(), attempts: 1, last: { at: Date.now(), reached: true, status: 410 } })
    o.release(byId.get('id-released')!)
    const again = new Map((await leaseAll(o, 'h', 3)).map((e) => [e.webhookId, e]))
    assert.deepEqual([...again.keys()].sort(), ['id-released', 'id-retried', 'id-waited'])
    assert.deepEqual([again.get('id-retried')!.attempts, again.get('id-retried')!.lastStatus], [1, 503])
    assert.equal(again.get('id-waited')!.attempts, 0, 'not reaching the endpoint is not an attempt')
    assert.equal(again.get('id-released')!.event.body, 'released')
    await eventually(
      () => o.deadByHandler(H),
      (d) => assert.deepEqual(d, [{ host: H, handler: 'h', dead: 1 }]),
      5000,
    )
    const [dead] = await o.deliveries(H, { state: 'failed' })
    assert.deepEqual([dead.webhookId, dead.status, dead.attempts, dead.reason, dead.event.body], ['id-failed', 410, 1, 'status', 'failed'])
    for (const e of again.values()) o.settle(e)
    await eventually(
      () => o.pendingByHandler(H),
      (p) => assert.deepEqual(p, []),
      5000,
    )
    off()
    await o.close()
  })

  test('while nats-server is away add() queues up to publish_buffer, then refuses (outbox_unavailable); back, each is published once', async () => {
    const s = settings({ publishBuffer: 3 })
    const o = await open(s)
    await o.prepare(H, ['h'])
    await nats.stop()
    try {
      const answers = ['a', 'b', 'c', 'd'].map((b) => o.add(H, 'h', `id-${b}`, ev(b), 100))
      assert.deepEqual(answers, [undefined, undefined, undefined, 'outbox_unavailable'])
      assert.equal(o.pending(H, 'h'), 3, 'what waits in memory is pending')
      assert.deepEqual(o.pendingByHandler(H), [{ host: H, handler: 'h', pending: 3 }], 'also for a handler this node does not deliver')
    } finally {
      await nats.restart()
    }
    const off = o.watch(H, 'h', () => undefined)
    const got = await leaseAll(o, 'h', 3)
    assert.deepEqual(got.map((e) => e.event.body).sort(), ['a', 'b', 'c'])
    for (const e of got) o.settle(e)
    await new Promise((r) => setTimeout(r, 300))
    assert.deepEqual(await o.lease(H, 'h', 10), [], 'no duplicate')
    off()
    await o.close()
  })

  test('what was never published by the close is handed back as lost (the last holder counts it shutdown)', async () => {
    const s = settings()
    const handle = await openOutbox({ kind: 'jetstream', settings: s }, '/nonexistent', H, () => undefined, {})
    await nats.stop()
    try {
      handle.outbox.add(H, 'h', 'id-lost', ev('lost'), 100)
      const lost = await handle.release()
      assert.deepEqual(
        lost.map((l) => [l.handler, l.webhookId, l.attempts]),
        [['h', 'id-lost', 0]],
      )
    } finally {
      await nats.restart()
    }
  })

  test('existing streams and consumers are checked: another max_age, another ack_wait, are clear errors at their option', async () => {
    const s = settings()
    const first = await open(s)
    await first.prepare(H, ['h'])
    await first.close()
    await assert.rejects(
      open({ ...s, maxAge: s.maxAge * 2 }),
      (err: ConfigError) => err.path === 'jetstream.max_age' && /keeps messages 3600 s/.test(err.message),
    )
    const same = await open(s)
    await same.prepare(H, ['h'])
    await same.close()
    const other = await open({ ...s, ackWait: 7000 })
    await assert.rejects(
      other.prepare(H, ['h']),
      (err: ConfigError) => err.path === 'jetstream.ack_wait' && /has ack_wait 5 s, this config says 7 s/.test(err.message),
    )
    await other.close()
  })

  test('two nodes on one stream: either takes the work; a replay from one is delivered to the other; a purge counts each dead letter once', async () => {
    const s = settings()
    const a = await open(s)
    const b = await open(s)
    await a.prepare(H, ['h'])
    await b.prepare(H, ['h'])
    const offB = b.watch(H, 'h', () => undefined)
    for (let i = 0; i < 10; i++) a.add(H, 'h', `id-${i}`, ev(`m${i}`), 100)
    const atB = await leaseAll(b, 'h', 10)
    assert.deepEqual(atB.map((e) => e.webhookId).sort(), [...Array(10).keys()].map((i) => `id-${i}`).sort(), 'node B takes what node A published')
    for (const e of atB.slice(0, 3))
      b.fail(e, { reason: 'status', failedAt: Date.now() - 10_000, attempts: 1, last: { at: Date.now(), reached: true, status: 500 } })
    for (const e of atB.slice(3)) b.settle(e)
    await eventually(
      () => a.deadByHandler(H),
      (d) => assert.deepEqual(d, [{ host: H, handler: 'h', dead: 3 }], 'the gauge comes from the stream: the same on every node'),
      5000,
    )
    const replayed = await a.replay(H, { ids: [atB[0].webhookId, 'unknown'] }, Date.now())
    assert.deepEqual(replayed, { replayed: 1, notFound: ['unknown'], noHandler: [] })
    const [back] = await leaseAll(b, 'h', 1)
    assert.deepEqual([back.webhookId, back.attempts], [atB[0].webhookId, 0])
    b.settle(back)
    const purged = await Promise.all([a.purgeDead(H, Date.now() + 60_000), b.purgeDead(H, Date.now() + 60_000)])
    assert.equal(purged[0] + purged[1], 2, 'each dead letter purged (and counted) once')
    offB()
    await Promise.all([a.close(), b.close()])
  })
})
