// Dead letters through the plugin's admin commands (mounted on the fake host, a real sink): what
// failed is listed with its last answer, replayed with its webhook-id and counted replayed, and
// purged after dead_letter_retention; a stop during an expiry sweep counts what the sweep expired.
// The accounting holds: accepted + recovered + replayed = sent + failed + pending.
import assert from 'node:assert/strict'
import { after, afterEach, before, describe, it } from 'node:test'
import createEventPusherHttp from '../../lib/plugin/index.js'
import { FakeHost, tempDataDir } from '../helpers/fake-host.js'
import { assertBalanced, eventually, hostCounts } from '../helpers/metrics.js'
import { closedPort, startSink, type Sink } from '../helpers/sink.js'
import { chat } from '../helpers/stanza.js'

let sink: Sink
let host: FakeHost | undefined

before(async () => {
  sink = await startSink()
})
after(() => sink.close())
afterEach(async () => {
  await host?.stop()
  host = undefined
  sink.requests.length = 0
  sink.behave({ status: 204 })
})

async function mount(options: Record<string, unknown>): Promise<FakeHost> {
  host = new FakeHost({ pools: { http_pool: { server: sink.url, request_timeout: 10_000 } } })
  await host.start(createEventPusherHttp, { path: '/n', retries: 1, retry_base_delay: 10, retry_max_delay: 20, ...options })
  return host
}

const send = (h: FakeHost, to: string, text: string) => h.send(chat('alice@a.test/r', to, text))

describe('dead letters', () => {
  it('lists what failed with its last answer, replays it with the same webhook-id, and counts it', async () => {
    sink.behave({ status: 500 })
    const h = await mount({})
    for (let i = 0; i < 3; i++) send(h, 'bob@a.test', `m${i}`)
    send(h, 'carol@a.test/phone', 'for carol')
    await eventually(
      () => hostCounts(h.registry, h.host),
      (c) => assert.equal(c.failedTotal, 4),
      5000,
    )
    assert.equal(sink.requests.length, 8, 'two attempts each (retries = 1)')

    const { items } = await h.command('deliveries', { state: 'failed' })
    assert.equal(items.length, 4)
    for (const d of items) {
      assert.deepEqual([d.state, d.status, d.attempts, d.reason], ['failed', 500, 2, 'status'])
      assert.ok(d.firstAttemptAt && d.lastAttemptAt && d.failedAt && d.lastAttemptAt >= d.firstAttemptAt)
    }
    assert.deepEqual(
      items.map((d: { event: { body: string } }) => d.event.body),
      ['for carol', 'm2', 'm1', 'm0'],
      'newest first',
    )
    const carol = await h.command('deliveries', { jid: 'carol@a.test' })
    assert.deepEqual(
      carol.items.map((d: { event: { body: string } }) => d.event.body),
      ['for carol'],
      'a bare JID matches any resource',
    )
    assert.equal((await h.command('deliveries', { state: 'failed', limit: '2' })).items.length, 2)
    assert.equal((await h.command('status')).dead_letters, 4)

    sink.behave({ status: 204 })
    const idsBefore = new Map(items.map((d: { event: { body: string }; webhookId: string }) => [d.event.body, d.webhookId]))
    const replay = await h.command('deliveries-replay', { ids: `${items[0].webhookId} msg_unknown` })
    assert.deepEqual(replay, { replayed: 1, notFound: ['msg_unknown'], noHandler: [] })
    await sink.waitFor(9)
    const rest = await h.command('deliveries-replay', { failed: 'true' })
    assert.deepEqual(rest, { replayed: 3, notFound: [], noHandler: [] })
    await sink.waitFor(12)
    const delivered = sink.requests.slice(8)
    for (const r of delivered) assert.equal(r.headers['webhook-id'], idsBefore.get(r.form.message), `${r.form.message}: the same webhook-id`)
    const c = await assertBalanced(h.registry, h.host)
    assert.deepEqual([c.accepted, c.replayed, c.sent, c.failedTotal], [4, 4, 4, 4])
    assert.deepEqual((await h.command('deliveries', { state: 'failed' })).items, [])
  })

  it('refuses a replay with both ids and failed, or neither', async () => {
    const h = await mount({})
    await assert.rejects(
      h.command('deliveries-replay', { ids: 'msg_x', failed: 'true' }),
      (e: Error & { code?: string }) => e.code === 'XMPPD_ERR_COMMAND_ARGS',
    )
    await assert.rejects(h.command('deliveries-replay', {}), (e: Error & { code?: string }) => e.code === 'XMPPD_ERR_COMMAND_ARGS')
  })

  it('purges dead letters after dead_letter_retention and counts them', async () => {
    sink.behave({ status: 410 })
    const h = await mount({ dead_letter_retention: 1 })
    send(h, 'bob@a.test', 'gone')
    await eventually(
      () => h.command('status'),
      (s) => assert.equal(s.dead_letters, 1),
      3000,
    )
    const s = await eventually(
      () => h.command('status'),
      (st) => assert.deepEqual([st.dead_letters, st.dead_letters_purged], [0, 1]),
      5000,
    )
    assert.equal(s.failed.total, 1, 'a purge changes no outcome')
    await assertBalanced(h.registry, h.host)
  })

  it("a removed handler's dead letters: an orphan with dead letters only; a replay leaves them (noHandler) and counts only what it put back", async () => {
    sink.behave({ status: 500 })
    const dataDir = tempDataDir()
    const pools = { http_pool: { server: sink.url, request_timeout: 10_000 } }
    const both = {
      retries: 0,
      handlers: [
        { name: 'kept', path: '/k' },
        { name: 'gone', path: '/g' },
      ],
    }
    host = new FakeHost({ dataDir, pools })
    const h = host
    await h.start(createEventPusherHttp, both)
    send(h, 'bob@a.test', 'x')
    await eventually(
      () => hostCounts(h.registry, h.host),
      (c) => assert.equal(c.failedTotal, 2),
      5000,
    )
    await h.stop()
    sink.behave({ status: 204 })
    await h.start(createEventPusherHttp, { ...both, handlers: [{ name: 'kept', path: '/k' }] })
    assert.deepEqual((await h.command('status')).orphans, [{ name: 'gone', pending: 0, dead_letters: 1 }])
    const replay = await h.command('deliveries-replay', { failed: 'true' })
    assert.deepEqual(replay, { replayed: 1, notFound: [], noHandler: [{ handler: 'gone', count: 1 }] })
    await sink.waitFor(3)
    const c = await assertBalanced(h.registry, h.host)
    assert.deepEqual([c.accepted, c.replayed, c.sent, c.failedTotal], [2, 1, 1, 2])
    const left = await h.command('deliveries', { state: 'failed' })
    assert.deepEqual(
      left.items.map((d: { handler: string }) => d.handler),
      ['gone'],
      'still a dead letter, replayable once a handler of that name runs',
    )
  })

  it('a stop during an expiry sweep: each notification the sweep made a dead letter is counted failed expired; the rest stays pending', async () => {
    // More than one of the sqlite outbox's expiry batches (10,000), waiting for an endpoint that
    // refuses connections (not an attempt). A second vhost holds the file open across the stop.
    const n = 12_000
    const dataDir = tempDataDir()
    const pools = { http_pool: { server: `http://127.0.0.1:${await closedPort()}` } }
    const other = new FakeHost({ host: 'b.test', dataDir, pools })
    const h = new FakeHost({ dataDir, pools })
    const options = { path: '/n', drain_timeout: 50 }
    try {
      await other.start(createEventPusherHttp, options)
      await h.start(createEventPusherHttp, options)
      for (let i = 0; i < n; i++) send(h, 'bob@a.test', `m${i}`)
      await h.stop()
      await new Promise((resolve) => setTimeout(resolve, 1100))
      // Its first sweep expires them in batches, the event loop turning between two; the stop
      // comes while it waits after the first. Then the stopped instance's sweep does what it still does.
      await h.start(createEventPusherHttp, { ...options, max_pending_age: 1 })
      await h.stop()
      await new Promise((resolve) => setTimeout(resolve, 200))
      await h.start(createEventPusherHttp, options)
      const c = await assertBalanced(h.registry, h.host, 2000, { pending: true })
      const status = await h.command('status')
      assert.equal(c.accepted, n)
      assert.ok(c.failed.expired > 0, 'the first batch expired')
      assert.equal(status.dead_letters, c.failed.expired, 'each dead letter counted failed once')
      assert.equal(c.pending, n - c.failed.expired)
    } finally {
      await h.stop()
      await other.stop()
    }
  })
})
