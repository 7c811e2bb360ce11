// Dead letters in bulk and of removed handlers. The sqlite outbox searches by JID a page of rows
// per event-loop turn and replays in batches of 1,000 (a transaction each), so neither holds the
// loop for long; both backends leave a dead letter whose handler no longer runs where it is, and
// say so (noHandler) instead of counting it replayed.
import { describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { MemoryOutbox } from '../../lib/plugin/outbox/memory.js'
import type { Outbox, StoredEvent } from '../../lib/plugin/outbox/outbox.js'
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
const ids = (list: Array<{ webhookId: string }>) => list.map((d) => d.webhookId)

/** Adds `events` to a handler, leases them all and fails each (500) at `failedAt`. */
async function deadMany(outbox: Outbox, handler: string, events: Array<[id: string, event: StoredEvent]>, failedAt: number): Promise<void> {
  for (const [id, event] of events) assert.equal(outbox.add(H, handler, id, event, 1_000_000), undefined)
  for (let left = events.length; left > 0;) {
    const got = await outbox.lease(H, handler, 1000, 1e12)
    assert.ok(got.length > 0, 'everything added can be leased')
    for (const e of got) outbox.fail(e, { reason: 'status', failedAt, last: { at: failedAt, reached: true, status: 500 } })
    left -= got.length
  }
}

/** Resolves `work` and says whether a callback queued with setImmediate just after it started ran before it ended. */
async function turnsDuring<T>(work: () => Promise<T>): Promise<{ value: T; turned: boolean }> {
  let turned = false
  const pending = work()
  setImmediate(() => (turned = true))
  const value = await pending
  return { value, turned }
}

function sqlite() {
  const dir = mkdtempSync(path.join(tmpdir(), 'dead-letters-batches-'))
  const file = path.join(dir, 'outbox.sqlite')
  return { file, outbox: new SqliteOutbox(file), rm: () => rmSync(dir, { recursive: true, force: true }) }
}

describe('dead letters in bulk: sqlite', () => {
  test('a JID search reads page after page (the event loop turning) and finds the oldest match behind 5,000 others', async () => {
    const { outbox, rm } = sqlite()
    const events: Array<[string, StoredEvent]> = [['old_carol', ev('first', 1_000, 'carol@a.test/pc')]]
    for (let i = 0; i < 5_000; i++) events.push([`msg_${i}`, ev(`m${i}`, 2_000 + i)])
    events.push(['new_carol', ev('last', 9_000, 'dave@a.test/r', 'Carol@a.test')])
    await deadMany(outbox, 'h', events, 10_000)
    const { value, turned } = await turnsDuring(() => outbox.deliveries(H, { state: 'failed', jid: 'carol@a.test' }))
    assert.deepEqual(ids(value), ['new_carol', 'old_carol'], 'newest first, the oldest one found past the first pages')
    assert.ok(turned, 'the event loop turned during the search')
    assert.deepEqual(ids(await outbox.deliveries(H, { state: 'failed', jid: 'carol@a.test', limit: 1 })), ['new_carol'])
    assert.deepEqual(ids(await outbox.deliveries(H, { state: 'failed', jid: 'nobody@a.test' })), [])
    await outbox.close()
    rm()
  })

  test('replay --failed of 2,500 dead letters: batches with the event loop turning between; all pending, written to the file', async () => {
    const { file, outbox, rm } = sqlite()
    const events: Array<[string, StoredEvent]> = []
    for (let i = 0; i < 2_500; i++) events.push([`msg_${i}`, ev(`m${i}`, 1_000 + i)])
    await deadMany(outbox, 'h', events, 5_000)
    const { value, turned } = await turnsDuring(() => outbox.replay(H, { failed: true }, 6_000))
    assert.deepEqual(value, { replayed: 2_500, notFound: [], noHandler: [] })
    assert.ok(turned, 'the event loop turned during the replay')
    assert.equal(outbox.pending(H, 'h'), 2_500)
    assert.deepEqual(outbox.deadByHandler(H), [])
    await outbox.close()
    const reopened = new SqliteOutbox(file)
    assert.equal(reopened.pending(H, 'h'), 2_500)
    assert.deepEqual(reopened.deadByHandler(H), [])
    await reopened.close()
    rm()
  })

  test('replay by 1,500 ids, some repeated or unknown: each one once, the unknown ones in notFound', async () => {
    const { outbox, rm } = sqlite()
    const events: Array<[string, StoredEvent]> = []
    for (let i = 0; i < 1_500; i++) events.push([`msg_${i}`, ev(`m${i}`, 1_000 + i)])
    await deadMany(outbox, 'h', events, 5_000)
    const asked = [...events.map(([id]) => id), 'msg_0', 'msg_nope', 'msg_1499']
    assert.deepEqual(await outbox.replay(H, { ids: asked }, 6_000), { replayed: 1_500, notFound: ['msg_nope'], noHandler: [] })
    assert.equal(outbox.pending(H, 'h'), 1_500)
    await outbox.close()
    rm()
  })
})

const backends: Array<[string, () => { outbox: Outbox; done(): Promise<void> }]> = [
  ['memory', () => ({ outbox: new MemoryOutbox(), done: async () => undefined })],
  [
    'sqlite',
    () => {
      const { outbox, rm } = sqlite()
      return { outbox, done: () => outbox.close().then(rm) }
    },
  ],
]

for (const [name, make] of backends) {
  test(`${name}: a dead letter of a handler that no longer runs stays a dead letter, counted in noHandler, not replayed`, async () => {
    const { outbox, done } = make()
    await deadMany(outbox, 'kept', [['k1', ev('1', 1_000)]], 5_000)
    await deadMany(
      outbox,
      'gone',
      [
        ['g1', ev('2', 2_000)],
        ['g2', ev('3', 3_000)],
      ],
      5_000,
    )
    const live = new Set(['kept'])
    assert.deepEqual(await outbox.replay(H, { failed: true, live }, 6_000), { replayed: 1, notFound: [], noHandler: [{ handler: 'gone', count: 2 }] })
    assert.deepEqual(await outbox.replay(H, { ids: ['g1', 'nope'], live }, 6_000), {
      replayed: 0,
      notFound: ['nope'],
      noHandler: [{ handler: 'gone', count: 1 }],
    })
    assert.deepEqual(ids(await outbox.deliveries(H, { state: 'failed' })), ['g2', 'g1'], 'both still dead letters')
    assert.deepEqual(outbox.deadByHandler(H), [{ host: H, handler: 'gone', dead: 2 }])
    assert.deepEqual([outbox.pending(H, 'kept'), outbox.pending(H, 'gone')], [1, 0])
    assert.deepEqual(await outbox.replay(H, { ids: ['g1'] }, 7_000), { replayed: 1, notFound: [], noHandler: [] }, 'without live: any handler')
    await done()
  })
}
