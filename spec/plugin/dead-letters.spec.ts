// Dead letters in both outbox backends: a final failure is kept with what its tries came to,
// listed with filters, replayed (same webhook-id, attempts from zero, leasable again), purged and
// counted; the sqlite file keeps them across a reopen and migrates a version 1 file.
import { describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import Database from 'better-sqlite3'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { MemoryOutbox } from '../../lib/plugin/outbox/memory.js'
import type { Outbox, OutboxEntry, StoredEvent } from '../../lib/plugin/outbox/outbox.js'
import { SqliteOutbox } from '../../lib/plugin/outbox/sqlite.js'

const H = 'a.test'
const ev = (body: string, time: number, from = 'alice@a.test/phone', to = 'bob@a.test'): StoredEvent => ({
  event: 'message',
  from,
  to,
  type: 'chat',
  id: null,
  body,
  time,
  stanza: null,
})
const tmp = () => mkdtempSync(path.join(tmpdir(), 'dead-letters-'))

const backends: Array<[string, () => { outbox: Outbox; done(): Promise<void> }]> = [
  ['memory', () => ({ outbox: new MemoryOutbox(), done: async () => undefined })],
  [
    'sqlite',
    () => {
      const dir = tmp()
      const outbox = new SqliteOutbox(path.join(dir, 'outbox.sqlite'))
      return { outbox, done: () => outbox.close().then(() => rmSync(dir, { recursive: true, force: true })) }
    },
  ],
]

/** Adds and leases one notification (the outbox's only way to hand it out). */
async function leaseOne(outbox: Outbox, handler: string, id: string, event: StoredEvent): Promise<OutboxEntry> {
  assert.equal(outbox.add(H, handler, id, event, 1000), undefined)
  const got = (await outbox.lease(H, handler, 1000, 1e12)).filter((e) => e.webhookId === id)
  assert.equal(got.length, 1, `${id} leased`)
  return got[0]
}

/** Adds, leases and fails one notification at `failedAt`. */
async function dead(outbox: Outbox, handler: string, id: string, event: StoredEvent, failedAt: number): Promise<void> {
  const e = await leaseOne(outbox, handler, id, event)
  outbox.fail(e, { reason: 'status', failedAt, last: { at: failedAt, reached: true, status: 500 } })
}

const ids = (list: Array<{ webhookId: string }>) => list.map((d) => d.webhookId)

for (const [name, make] of backends) {
  describe(`dead letters: ${name}`, () => {
    test('a retried notification that fails is listed failed with its last try, its first and last attempt times', async () => {
      const { outbox, done } = make()
      const e = await leaseOne(outbox, 'h', 'msg_1', ev('hello', 1_000))
      outbox.retryLater(e, { dueAt: 3_000, attempts: 1, unreachable: false, last: { at: 2_000, reached: true, status: 500 } })
      const [again] = await outbox.lease(H, 'h', 10, 3_000)
      assert.equal(again.webhookId, 'msg_1')
      outbox.fail(again, { reason: 'status', failedAt: 4_000, attempts: 2, last: { at: 3_900, reached: true, status: 503 } })
      assert.equal(outbox.pending(H, 'h'), 0)
      assert.deepEqual(outbox.deadByHandler(H), [{ host: H, handler: 'h', dead: 1 }])
      const [d] = await outbox.deliveries(H, { state: 'failed' })
      assert.deepEqual(d, {
        webhookId: 'msg_1',
        host: H,
        handler: 'h',
        state: 'failed',
        event: ev('hello', 1_000),
        attempts: 2,
        acceptedAt: 1_000,
        firstAttemptAt: 2_000,
        lastAttemptAt: 3_900,
        failedAt: 4_000,
        reason: 'status',
        status: 503,
        error: undefined,
      })
      await done()
    })

    test('expire makes dead letters itself; the last try (could not connect) is their error; a callback failure keeps its error', async () => {
      const { outbox, done } = make()
      const e = await leaseOne(outbox, 'h', 'msg_1', ev('x', 1_000))
      outbox.retryLater(e, { dueAt: 2_500, attempts: 1, unreachable: false, last: { at: 2_000, reached: true, status: 500 } })
      const [again] = await outbox.lease(H, 'h', 10, 2_500)
      const refused = 'ECONNREFUSED: connect ECONNREFUSED 127.0.0.1:1'
      outbox.retryLater(again, { dueAt: 90_000, attempts: 1, unreachable: true, last: { at: 2_600, reached: false, error: refused } })
      const cb = await leaseOne(outbox, 'g', 'msg_2', ev('y', 1_500))
      outbox.fail(cb, { reason: 'callback', failedAt: 1_600, error: 'TypeError: boom'.repeat(100) })
      const expired = await outbox.expire(H, 5_000, 7_000)
      assert.deepEqual(ids(expired), ['msg_1'])
      assert.equal(outbox.pending(H, 'h'), 0)
      const list = await outbox.deliveries(H, {})
      assert.deepEqual(ids(list), ['msg_2', 'msg_1'])
      const [cbDead, expiredDead] = list
      assert.equal(cbDead.reason, 'callback')
      assert.ok(cbDead.error!.startsWith('TypeError: boom') && cbDead.error!.length <= 300, 'a long error is cut short')
      assert.equal(cbDead.firstAttemptAt, undefined)
      assert.deepEqual(
        [expiredDead.reason, expiredDead.failedAt, expiredDead.attempts, expiredDead.lastAttemptAt, expiredDead.status, expiredDead.error],
        ['expired', 7_000, 1, 2_000, undefined, refused],
      )
      assert.deepEqual(
        outbox.deadByHandler(H).sort((x, y) => x.handler.localeCompare(y.handler)),
        [
          { host: H, handler: 'g', dead: 1 },
          { host: H, handler: 'h', dead: 1 },
        ],
      )
      await done()
    })

    test('deliveries: newest first, by state, since, jid (bare, full, either side, any case), handler and limit', async () => {
      const { outbox, done } = make()
      await dead(outbox, 'h', 'd_alice', ev('1', 1_000, 'alice@a.test/phone', 'bob@a.test'), 10_000)
      await dead(outbox, 'g', 'd_carol', ev('2', 2_000, 'carol@a.test/pc', 'alice@a.test/desk'), 20_000)
      await dead(outbox, 'h', 'd_alicex', ev('3', 3_000, 'alice@a.testx/r', 'bob@a.test'), 30_000)
      outbox.add(H, 'h', 'p_same_1', ev('4', 4_000, 'dave@a.test/r', 'erin@a.test'), 1000)
      outbox.add(H, 'h', 'p_same_2', ev('5', 4_000, 'dave@a.test/r', 'Alice@A.test'), 1000)
      outbox.add(H, 'g', 'p_old', ev('6', 500, 'frank@a.test/r', 'bob@a.test'), 1000)
      outbox.add('b.test', 'h', 'other_host', ev('7', 9_000, 'alice@a.test/phone', 'bob@a.test'), 1000)
      const list = (q: Parameters<Outbox['deliveries']>[1]) => outbox.deliveries(H, q).then(ids)
      assert.deepEqual(await list({}), ['p_same_2', 'p_same_1', 'd_alicex', 'd_carol', 'd_alice', 'p_old'], 'by acceptedAt, then key, newest first')
      assert.deepEqual(await list({ state: 'pending' }), ['p_same_2', 'p_same_1', 'p_old'])
      assert.deepEqual(await list({ state: 'failed' }), ['d_alicex', 'd_carol', 'd_alice'])
      assert.deepEqual(await list({ since: 2_000 }), ['p_same_2', 'p_same_1', 'd_alicex', 'd_carol', 'd_alice'], 'pending accepted, failed failed, at or after')
      assert.deepEqual(await list({ since: 20_000 }), ['d_alicex', 'd_carol'])
      assert.deepEqual(await list({ jid: 'alice@a.test' }), ['p_same_2', 'd_carol', 'd_alice'], 'bare: any resource, sender or recipient, not alice@a.testx')
      assert.deepEqual(await list({ jid: 'ALICE@a.test/Desk' }), ['d_carol'], 'full: that resource only, any case')
      assert.deepEqual(await list({ jid: 'alice@a.test/pho' }), [], 'no prefix match of a resource')
      assert.deepEqual(await list({ handler: 'g' }), ['d_carol', 'p_old'])
      assert.deepEqual(await list({ handler: 'g', state: 'failed', jid: 'carol@a.test' }), ['d_carol'])
      assert.deepEqual(await list({ limit: 2 }), ['p_same_2', 'p_same_1'])
      assert.deepEqual(await list({ jid: 'bob@a.test', limit: 1, state: 'failed' }), ['d_alicex'])
      const [pending] = await outbox.deliveries(H, { state: 'pending', limit: 1 })
      assert.deepEqual([pending.state, pending.dueAt, pending.inFlight, pending.attempts], ['pending', 4_000, undefined, 0])
      const [leased] = await outbox.lease(H, 'g', 1, 1e12)
      const [inFlight] = await outbox.deliveries(H, { handler: 'g', state: 'pending' })
      assert.deepEqual([leased.webhookId, inFlight.webhookId, inFlight.inFlight, inFlight.dueAt], ['p_old', 'p_old', true, undefined])
      await done()
    })

    test('deliveries lists 100 by default', async () => {
      const { outbox, done } = make()
      for (let i = 0; i < 130; i++) outbox.add(H, 'h', `msg_${i}`, ev(`m${i}`, 1_000 + i), 1000)
      const list = await outbox.deliveries(H, {})
      assert.equal(list.length, 100)
      assert.equal(list[0].webhookId, 'msg_129')
      assert.equal(list[99].webhookId, 'msg_30')
      await done()
    })

    test('replay by ids: back to pending with its webhook-id, attempts 0, accepted now, leased again; others are not found', async () => {
      const { outbox, done } = make()
      const e = await leaseOne(outbox, 'h', 'msg_1', ev('one', 1_000))
      outbox.retryLater(e, { dueAt: 2_000, attempts: 1, unreachable: false, last: { at: 1_500, reached: true, status: 500 } })
      const [again] = await outbox.lease(H, 'h', 10, 2_000)
      outbox.fail(again, { reason: 'status', failedAt: 2_500, attempts: 2, last: { at: 2_400, reached: true, status: 500 } })
      outbox.add(H, 'h', 'msg_2', ev('two', 3_000), 1) // pending, and the handler is at its max_queue of 1
      const result = await outbox.replay(H, { ids: ['msg_1', 'msg_2', 'msg_nope'] }, 50_000)
      assert.deepEqual(result, { replayed: 1, notFound: ['msg_2', 'msg_nope'], noHandler: [] })
      assert.equal(outbox.pending(H, 'h'), 2, 'replay ignores max_queue and counts pending')
      assert.deepEqual(outbox.deadByHandler(H), [])
      const [listed] = await outbox.deliveries(H, { state: 'pending', limit: 1 })
      assert.deepEqual([listed.webhookId, listed.acceptedAt, listed.dueAt, listed.attempts, listed.status], ['msg_1', 50_000, 50_000, 0, undefined])
      assert.deepEqual(
        await outbox.replay(H, { ids: ['msg_1'] }, 60_000),
        { replayed: 0, notFound: ['msg_1'], noHandler: [] },
        'replaying it twice changes nothing',
      )
      assert.equal(outbox.pending(H, 'h'), 2)
      const leased = await outbox.lease(H, 'h', 10, 50_000)
      assert.deepEqual(
        leased.map((l) => [l.webhookId, l.attempts, l.acceptedAt, l.event.body, l.firstAttemptAt]),
        [
          ['msg_2', 0, 3_000, 'two', undefined],
          ['msg_1', 0, 50_000, 'one', undefined],
        ],
      )
      const replayed = leased[1]
      outbox.fail(replayed, { reason: 'status', failedAt: 51_000, attempts: 1, last: { at: 51_000, reached: true, status: 400 } })
      const [failedAgain] = await outbox.deliveries(H, { state: 'failed' })
      assert.deepEqual([failedAgain.webhookId, failedAgain.attempts, failedAgain.status, failedAgain.firstAttemptAt], ['msg_1', 1, 400, 51_000])
      await done()
    })

    test('replay by filter: failed since a time, of a handler', async () => {
      const { outbox, done } = make()
      await dead(outbox, 'h', 'h_early', ev('1', 1_000), 10_000)
      await dead(outbox, 'h', 'h_late', ev('2', 2_000), 20_000)
      await dead(outbox, 'g', 'g_late', ev('3', 3_000), 30_000)
      assert.deepEqual(await outbox.replay(H, { failed: true, since: 15_000, handler: 'h' }, 40_000), { replayed: 1, notFound: [], noHandler: [] })
      assert.deepEqual(ids(await outbox.deliveries(H, { state: 'pending' })), ['h_late'])
      assert.deepEqual(await outbox.replay(H, { failed: true }, 40_000), { replayed: 2, notFound: [], noHandler: [] })
      assert.deepEqual(await outbox.deliveries(H, { state: 'failed' }), [])
      assert.equal(outbox.pending(H, 'h'), 2)
      assert.equal(outbox.pending(H, 'g'), 1)
      assert.deepEqual(ids(await outbox.lease(H, 'h', 10, 40_000)).sort(), ['h_early', 'h_late'])
      await done()
    })

    test('purgeDead removes what failed before the cutoff and says how many', async () => {
      const { outbox, done } = make()
      await dead(outbox, 'h', 'one', ev('1', 1_000), 10_000)
      await dead(outbox, 'g', 'two', ev('2', 2_000), 20_000)
      await dead(outbox, 'h', 'three', ev('3', 3_000), 30_000)
      outbox.add(H, 'h', 'pending', ev('4', 100), 1000)
      assert.equal(await outbox.purgeDead(H, 20_001), 2)
      assert.equal(await outbox.purgeDead(H, 20_001), 0)
      assert.deepEqual(ids(await outbox.deliveries(H, {})), ['three', 'pending'])
      assert.deepEqual(outbox.deadByHandler(H), [{ host: H, handler: 'h', dead: 1 }])
      assert.equal(outbox.pending(H, 'h'), 1, 'pending ones are not dead letters')
      await done()
    })
  })
}

describe('dead letters: sqlite file', () => {
  test('dead letters and their counts survive a reopen; a replay after it does not collide with what was added since', async () => {
    const dir = tmp()
    const file = path.join(dir, 'outbox.sqlite')
    const a = new SqliteOutbox(file)
    await dead(a, 'h', 'msg_1', ev('one', 1_000), 5_000)
    const settled = await leaseOne(a, 'h', 'msg_2', ev('two', 2_000))
    a.settle(settled) // the highest seq left the file: only the dead letter holds a seq now
    await a.close()
    const b = new SqliteOutbox(file)
    assert.equal(b.foundAtOpen(H), 0, 'dead letters are not recovered as pending')
    assert.deepEqual(b.deadByHandler(H), [{ host: H, handler: 'h', dead: 1 }])
    const [d] = await b.deliveries(H, { state: 'failed' })
    assert.deepEqual([d.webhookId, d.event.body, d.status, d.failedAt, d.reason], ['msg_1', 'one', 500, 5_000, 'status'])
    b.add(H, 'h', 'msg_3', ev('three', 6_000), 1000)
    assert.deepEqual(await b.replay(H, { ids: ['msg_1'] }, 7_000), { replayed: 1, notFound: [], noHandler: [] })
    assert.deepEqual(ids(await b.lease(H, 'h', 10, 7_000)).sort(), ['msg_1', 'msg_3'])
    await b.close()
    const c = new SqliteOutbox(file)
    assert.equal(c.pending(H, 'h'), 2, 'the replay was written')
    assert.deepEqual(c.deadByHandler(H), [])
    await c.close()
    rmSync(dir, { recursive: true, force: true })
  })

  test('a version 1 file opens as version 2 and keeps its pending rows, which can then fail as dead letters', async () => {
    const dir = tmp()
    const file = path.join(dir, 'outbox.sqlite')
    // The schema as version 1 wrote it.
    const v1 = new Database(file)
    v1.exec(`
      CREATE TABLE outbox (seq INTEGER PRIMARY KEY, host TEXT NOT NULL, handler TEXT NOT NULL, webhook_id TEXT NOT NULL, event TEXT NOT NULL,
        attempts INTEGER NOT NULL, due_at INTEGER NOT NULL, unreachable INTEGER NOT NULL, accepted_at INTEGER NOT NULL);
      CREATE INDEX outbox_due ON outbox (host, handler, due_at, seq);
      CREATE INDEX outbox_age ON outbox (host, handler, accepted_at);
      PRAGMA user_version = 1;
    `)
    const insert = v1.prepare('INSERT INTO outbox VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)')
    insert.run(7, H, 'h', 'msg_old', JSON.stringify(ev('kept', 1_000)), 2, 3_000, 0, 1_000)
    insert.run(8, H, 'h', 'msg_new', JSON.stringify(ev('kept too', 2_000)), 0, 2_000, 0, 2_000)
    v1.close()
    const b = new SqliteOutbox(file)
    assert.equal(b.foundAtOpen(H), 2)
    const leased = await b.lease(H, 'h', 10, 5_000)
    assert.deepEqual(
      leased.map((e) => [e.key, e.webhookId, e.attempts, e.event.body, e.lastStatus]),
      [
        [8, 'msg_new', 0, 'kept too', undefined],
        [7, 'msg_old', 2, 'kept', undefined],
      ],
    )
    b.fail(leased[1], { reason: 'status', failedAt: 6_000, attempts: 3, last: { at: 6_000, reached: true, status: 502 } })
    b.add(H, 'h', 'msg_next', ev('next', 7_000), 1000)
    await b.close()
    const check = new Database(file, { readonly: true })
    assert.equal(check.pragma('user_version', { simple: true }), 2)
    assert.deepEqual(check.prepare('SELECT seq, webhook_id, attempts, status FROM dead').all(), [{ seq: 7, webhook_id: 'msg_old', attempts: 3, status: 502 }])
    assert.deepEqual(check.prepare('SELECT seq, webhook_id FROM outbox ORDER BY seq').all(), [
      { seq: 8, webhook_id: 'msg_new' },
      { seq: 9, webhook_id: 'msg_next' },
    ])
    check.close()
    rmSync(dir, { recursive: true, force: true })
  })
})
