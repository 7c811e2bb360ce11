import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { BoundedQueue } from '../../lib/plugin/queue.js'

describe('BoundedQueue', () => {
  it('is FIFO and refuses the newest item when full', () => {
    const q = new BoundedQueue<number>(3)
    assert.deepEqual(
      [1, 2, 3, 4].map((n) => q.push(n)),
      [true, true, true, false],
    )
    assert.equal(q.size, 3)
    assert.equal(q.take(), 1)
    assert.equal(q.push(5), true)
    assert.deepEqual([q.take(), q.take(), q.take(), q.take()], [2, 3, 5, undefined])
  })

  it('wraps around and grows past its initial slots without reordering', () => {
    const q = new BoundedQueue<number>(100)
    const out: number[] = []
    for (let i = 0; i < 10; i++) q.push(i)
    for (let i = 0; i < 5; i++) out.push(q.take()!)
    for (let i = 10; i < 60; i++) q.push(i)
    for (let v = q.take(); v !== undefined; v = q.take()) out.push(v)
    assert.deepEqual(
      out,
      Array.from({ length: 60 }, (_, i) => i),
    )
  })

  it('is idle only when empty and nothing taken is still in flight', async () => {
    const q = new BoundedQueue<string>(2)
    let idle = false
    q.push('a')
    q.push('b')
    const waiting = q.idle().then(() => (idle = true))
    q.take()
    await Promise.resolve()
    assert.equal(q.inFlight, 1)
    assert.deepEqual(q.clear(), ['b'])
    await Promise.resolve()
    assert.equal(idle, false)
    q.done()
    await waiting
    assert.equal(idle, true)
    assert.equal(q.inFlight, 0)
  })
})
