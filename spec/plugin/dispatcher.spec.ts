import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import CircuitBreaker from 'opossum'
import { PUSH_ERR_UPSTREAM } from '../../lib/errors.js'
import { classify } from '../../lib/plugin/dispatcher.js'
import { LatencyReservoir } from '../../lib/plugin/latency.js'
import { countsTowardBreaker } from '../../lib/plugin/pool.js'

const running = { aborted: false }

async function opossumError(prepare: (b: CircuitBreaker) => void): Promise<unknown> {
  const b = new CircuitBreaker(async () => 1, { timeout: false })
  prepare(b)
  try {
    await b.fire()
  } catch (err) {
    return err
  } finally {
    b.shutdown()
  }
  throw new Error('fired')
}

describe('classify', () => {
  it('maps endpoint errors to reasons', () => {
    assert.equal(classify(new PUSH_ERR_UPSTREAM(503), running), 'status')
    assert.equal(classify(Object.assign(new Error('t'), { name: 'TimeoutError', code: 'ETIMEDOUT' }), running), 'timeout')
    assert.equal(classify(Object.assign(new Error('c'), { code: 'ECONNREFUSED' }), running), 'connection')
    assert.equal(classify(Object.assign(new Error('r'), { code: 'ECONNRESET' }), running), 'connection')
    assert.equal(classify(Object.assign(new Error('d'), { code: 'ENOTFOUND' }), running), 'connection')
  })

  it("maps opossum's own errors", async () => {
    assert.equal(classify(await opossumError((b) => b.open()), running), 'breaker_open')
    const shut = new CircuitBreaker(async () => 1)
    shut.shutdown()
    assert.equal(classify(await shut.fire().catch((e) => e), running), 'shutdown')
  })

  it('blames the shutdown for anything once the pool was aborted', () => {
    assert.equal(classify(Object.assign(new Error('a'), { code: 'ERR_ABORTED' }), { aborted: true }), 'shutdown')
  })
})

describe('breaker accounting', () => {
  it('counts 5xx, 408 and 429, not other statuses', () => {
    assert.deepEqual([500, 502, 503, 599, 408, 429].map(countsTowardBreaker), [true, true, true, true, true, true])
    assert.deepEqual([200, 204, 302, 400, 401, 404, 410, 422].map(countsTowardBreaker), [false, false, false, false, false, false, false, false])
  })
})

describe('LatencyReservoir', () => {
  it('gives nearest-rank percentiles of the recent samples, null when empty', () => {
    const r = new LatencyReservoir(100)
    assert.deepEqual(r.quantiles([0.5]), { 0.5: null })
    for (let i = 1; i <= 100; i++) r.add(i / 1000)
    assert.deepEqual(r.quantiles([0.5, 0.95, 0.99]), { 0.5: 0.05, 0.95: 0.095, 0.99: 0.099 })
    for (let i = 0; i < 100; i++) r.add(1)
    assert.deepEqual(r.quantiles([0.5]), { 0.5: 1 })
  })
})
