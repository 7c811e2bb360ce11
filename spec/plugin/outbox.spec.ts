// The outbox backends against one contract: what is added is leased once, settles, waits for its
// due time, wakes when the endpoint is back, expires, and (sqlite) survives a reopen and refuses a
// second process, a corrupt file and an unusable folder with a clear error.
import { describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { chmodSync, mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { MemoryOutbox } from '../../lib/plugin/outbox/memory.js'
import type { Outbox, StoredEvent } from '../../lib/plugin/outbox/outbox.js'
import { SqliteOutbox } from '../../lib/plugin/outbox/sqlite.js'
import { openOutbox } from '../../lib/plugin/outbox/open.js'

const event = (body: string, time = 1_000): StoredEvent => ({
  event: 'message',
  from: 'alice@a.test/r',
  to: 'bob@a.test',
  type: 'chat',
  id: null,
  body,
  time,
  stanza: null,
})
const tmp = () => mkdtempSync(path.join(tmpdir(), 'outbox-'))

const backends: Array<[string, () => { outbox: Outbox; done(): void }]> = [
  ['memory', () => ({ outbox: new MemoryOutbox(), done() {} })],
  [
    'sqlite',
    () => {
      const dir = tmp()
      const outbox = new SqliteOutbox(path.join(dir, 'outbox.sqlite'))
      return { outbox, done: () => void outbox.close().then(() => rmSync(dir, { recursive: true, force: true })) }
    },
  ],
]

for (const [name, make] of backends) {
  describe(`outbox: ${name}`, () => {
    test('add → lease once → settle; a full handler refuses', async () => {
      const { outbox, done } = make()
      assert.equal(outbox.add('a.test', 'h', 'msg_1', event('one'), 2), undefined)
      assert.equal(outbox.add('a.test', 'h', 'msg_2', event('two'), 2), undefined)
      assert.equal(outbox.add('a.test', 'h', 'msg_3', event('three'), 2), 'queue_full')
      assert.equal(outbox.add('a.test', 'other', 'msg_4', event('four'), 2), undefined)
      assert.equal(outbox.pending('a.test', 'h'), 2)
      const first = await outbox.lease('a.test', 'h', 10, 5_000)
      assert.deepEqual(
        first.map((e) => [e.webhookId, e.event.body, e.attempts]),
        [
          ['msg_1', 'one', 0],
          ['msg_2', 'two', 0],
        ],
      )
      assert.deepEqual(await outbox.lease('a.test', 'h', 10, 5_000), [], 'leased entries are not leased again')
      outbox.settle(first[0])
      assert.equal(outbox.pending('a.test', 'h'), 1)
      outbox.fail(first[1], { reason: 'status', failedAt: 5_000 })
      assert.equal(outbox.pending('a.test', 'h'), 0)
      assert.deepEqual(outbox.pendingByHandler('a.test'), [{ host: 'a.test', handler: 'other', pending: 1 }])
      done()
    })

    test('retryLater waits for its due time; release gives it back at once', async () => {
      const { outbox, done } = make()
      outbox.add('a.test', 'h', 'msg_1', event('one'), 10)
      outbox.add('a.test', 'h', 'msg_2', event('two'), 10)
      const [one, two] = await outbox.lease('a.test', 'h', 10, 5_000)
      outbox.retryLater(one, { dueAt: 9_000, attempts: 1, unreachable: false })
      outbox.release(two)
      assert.deepEqual(
        (await outbox.lease('a.test', 'h', 10, 5_000)).map((e) => e.webhookId),
        ['msg_2'],
      )
      assert.equal(await outbox.nextDue('a.test', 'h'), 9_000)
      const again = await outbox.lease('a.test', 'h', 10, 9_000)
      assert.deepEqual(
        again.map((e) => [e.webhookId, e.attempts]),
        [['msg_1', 1]],
      )
      assert.equal(outbox.pending('a.test', 'h'), 2)
      done()
    })

    test('wakeUnreachable makes what could not connect due now, and only that', async () => {
      const { outbox, done } = make()
      for (const id of ['msg_1', 'msg_2']) outbox.add('a.test', 'h', id, event(id), 10)
      const [one, two] = await outbox.lease('a.test', 'h', 10, 5_000)
      outbox.retryLater(one, { dueAt: 60_000, attempts: 0, unreachable: true })
      outbox.retryLater(two, { dueAt: 60_000, attempts: 1, unreachable: false })
      outbox.wakeUnreachable('a.test', 'h', 6_000)
      assert.deepEqual(
        (await outbox.lease('a.test', 'h', 10, 6_000)).map((e) => e.webhookId),
        ['msg_1'],
      )
      done()
    })

    test('leases oldest due first: a due retry before fresher entries, a later one after them', async () => {
      const { outbox, done } = make()
      outbox.add('a.test', 'h', 'msg_1', event('one', 1_000), 10)
      outbox.add('a.test', 'h', 'msg_2', event('two', 2_000), 10)
      const [one, two] = await outbox.lease('a.test', 'h', 2, 3_000)
      outbox.retryLater(one, { dueAt: 4_000, attempts: 1, unreachable: false })
      outbox.retryLater(two, { dueAt: 90_000, attempts: 1, unreachable: false })
      outbox.add('a.test', 'h', 'msg_3', event('three', 5_000), 10)
      outbox.add('a.test', 'h', 'msg_4', event('four', 6_000), 10)
      const ids = async (max: number, now: number) => (await outbox.lease('a.test', 'h', max, now)).map((e) => e.webhookId)
      assert.deepEqual(await ids(2, 7_000), ['msg_1', 'msg_3'], 'the retry due at 4 s goes before the one accepted at 5 s')
      assert.deepEqual(await ids(10, 7_000), ['msg_4'], 'the retry due at 90 s waits')
      outbox.add('a.test', 'h', 'msg_5', event('five', 8_000), 10)
      assert.deepEqual(await ids(10, 95_000), ['msg_5', 'msg_2'], 'by due time: 8 s, then 90 s')
      done()
    })

    test('a burst beyond what a backend keeps at hand leases in order, once each', async () => {
      const { outbox, done } = make()
      for (let i = 0; i < 2_500; i++) outbox.add('a.test', 'h', `msg_${i}`, event(`m${i}`, 1_000 + i), 10_000)
      const seen: string[] = []
      for (let batch = await outbox.lease('a.test', 'h', 64, 10_000); batch.length > 0; batch = await outbox.lease('a.test', 'h', 64, 10_000)) {
        for (const e of batch) {
          seen.push(e.webhookId)
          outbox.settle(e)
        }
      }
      assert.equal(seen.length, 2_500)
      assert.deepEqual(
        seen,
        Array.from({ length: 2_500 }, (_, i) => `msg_${i}`),
      )
      assert.equal(outbox.pending('a.test', 'h'), 0)
      done()
    })

    test('expire removes what entered before the cutoff and is not leased; oldestPending follows', async () => {
      const { outbox, done } = make()
      outbox.add('a.test', 'h', 'old_1', event('x', 1_000), 10)
      outbox.add('a.test', 'h', 'old_2', event('x', 2_000), 10)
      outbox.add('a.test', 'g', 'new_1', event('x', 9_000), 10)
      assert.equal(outbox.oldestPending('a.test', 'h'), 1_000)
      const [leased] = await outbox.lease('a.test', 'h', 1, 10_000)
      const expired = await outbox.expire('a.test', 5_000)
      assert.deepEqual(
        expired.map((e) => e.webhookId),
        ['old_2'],
      )
      assert.equal(outbox.pending('a.test', 'h'), 1)
      outbox.settle(leased)
      assert.equal(outbox.oldestPending('a.test', 'h'), undefined)
      assert.equal(outbox.oldestPending('a.test', 'g'), 9_000)
      done()
    })
  })
}

describe('outbox: sqlite file', () => {
  test('what was added survives a close and a reopen, with its attempts and due time', async () => {
    const dir = tmp()
    const file = path.join(dir, 'outbox.sqlite')
    const a = new SqliteOutbox(file)
    for (let i = 0; i < 100; i++) a.add('a.test', 'h', `msg_${i}`, event(`m${i}`), 1000)
    const [first] = await a.lease('a.test', 'h', 1, 5_000)
    a.retryLater(first, { dueAt: 7_000, attempts: 2, unreachable: false })
    await a.close()
    const b = new SqliteOutbox(file)
    assert.equal(b.foundAtOpen('a.test'), 100)
    assert.equal(b.pending('a.test', 'h'), 100)
    const due = await b.lease('a.test', 'h', 1000, 5_000)
    assert.equal(due.length, 99)
    const later = await b.lease('a.test', 'h', 1000, 7_000)
    assert.deepEqual(
      later.map((e) => [e.webhookId, e.attempts, e.event.body]),
      [['msg_0', 2, 'm0']],
    )
    await b.close()
    rmSync(dir, { recursive: true, force: true })
  })

  test('a second process on the same file gets a clear error; the file is free again after a kill -9', async () => {
    const dir = tmp()
    const file = path.join(dir, 'outbox.sqlite')
    const holder = spawn(
      process.execPath,
      [
        '--import',
        'tsx',
        '-e',
        `const { SqliteOutbox } = await import(${JSON.stringify(path.resolve('lib/plugin/outbox/sqlite.ts'))}); new SqliteOutbox(${JSON.stringify(file)}); console.log('open'); setInterval(() => {}, 1000)`,
      ],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    )
    await new Promise<void>((resolve, reject) => {
      holder.stdout.on('data', (d: Buffer) => d.toString().includes('open') && resolve())
      holder.once('exit', () => reject(new Error('holder exited')))
    })
    assert.throws(
      () => new SqliteOutbox(file),
      (err: Error) => (err as Error & { code?: string }).code === 'PUSH_ERR_OUTBOX_FILE' && err.message.includes(file) && /another process/.test(err.message),
    )
    holder.kill('SIGKILL')
    await new Promise((resolve) => holder.once('exit', resolve))
    const again = new SqliteOutbox(file)
    await again.close()
    rmSync(dir, { recursive: true, force: true })
  })

  test('a corrupt file and an unwritable folder are clear errors that name the file', () => {
    const dir = tmp()
    const corrupt = path.join(dir, 'outbox.sqlite')
    writeFileSync(corrupt, 'this is not a database, just some text that is long enough to have a header'.repeat(20))
    assert.throws(
      () => new SqliteOutbox(corrupt),
      (err: Error) => err.message.includes(corrupt) && /not a usable SQLite database/.test(err.message),
    )
    const locked = path.join(dir, 'ro')
    mkdirSync(locked)
    chmodSync(locked, 0o500)
    const file = path.join(locked, 'outbox.sqlite')
    if (process.getuid?.() !== 0)
      assert.throws(
        () => new SqliteOutbox(file),
        (err: Error) => err.message.includes(file),
      )
    rmSync(dir, { recursive: true, force: true })
  })
})

describe('outbox: shared within the process', () => {
  test('two instances of a host share one outbox; leftovers count as recovered once', async () => {
    const dir = tmp()
    const seed = new SqliteOutbox(path.join(dir, 'outbox.sqlite'))
    for (let i = 0; i < 5; i++) seed.add('a.test', 'h', `msg_${i}`, event('x'), 100)
    await seed.close()
    const errors: Error[] = []
    const one = await openOutbox({ kind: 'sqlite' }, dir, 'a.test', (e) => errors.push(e))
    const two = await openOutbox({ kind: 'sqlite' }, dir, 'a.test', (e) => errors.push(e))
    assert.equal(one.outbox, two.outbox)
    assert.equal(one.claimRecovered(), 5)
    assert.equal(two.claimRecovered(), 0)
    const leased = await one.outbox.lease('a.test', 'h', 2, Date.now())
    assert.equal((await two.outbox.lease('a.test', 'h', 10, Date.now())).length, 3, 'the leases are shared too')
    for (const e of leased) one.outbox.settle(e)
    assert.deepEqual(await one.release(), [])
    assert.deepEqual(await two.release(), [])
    const three = await openOutbox({ kind: 'sqlite' }, dir, 'a.test', (e) => errors.push(e))
    assert.equal(three.outbox.pending('a.test', 'h'), 3)
    assert.equal(three.claimRecovered(), 0, 'counted once in the process life')
    await three.release()
    assert.deepEqual(errors, [])
    rmSync(dir, { recursive: true, force: true })
  })

  test('a holder that lets go wakes the others, not itself (a reload hands over what it had leased)', async () => {
    const dir = tmp()
    const woken: string[] = []
    const old = await openOutbox({ kind: 'sqlite' }, dir, 'a.test', () => undefined)
    const next = await openOutbox({ kind: 'sqlite' }, dir, 'a.test', () => undefined)
    const other = await openOutbox({ kind: 'sqlite' }, dir, 'b.test', () => undefined)
    old.onHandover(() => woken.push('old'))
    next.onHandover(() => woken.push('next'))
    other.onHandover(() => woken.push('other'))
    await old.release()
    assert.deepEqual(woken.sort(), ['next', 'other'])
    woken.length = 0
    await next.release()
    assert.deepEqual(woken, ['other'])
    await other.release()
    assert.deepEqual(woken, ['other'], 'the last holder wakes nobody')
    rmSync(dir, { recursive: true, force: true })
  })

  test('memory: the last holder gets back what is lost', async () => {
    const dir = tmp()
    const one = await openOutbox({ kind: 'memory' }, dir, 'a.test', () => undefined)
    one.outbox.add('a.test', 'h', 'msg_1', event('x'), 10)
    const two = await openOutbox({ kind: 'memory' }, dir, 'a.test', () => undefined)
    assert.deepEqual(await one.release(), [])
    assert.equal(two.outbox.pending('a.test', 'h'), 1)
    assert.deepEqual(
      (await two.release()).map((e) => e.webhookId),
      ['msg_1'],
    )
    rmSync(dir, { recursive: true, force: true })
  })
})
