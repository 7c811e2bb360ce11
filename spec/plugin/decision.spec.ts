// The handler's decision after one try, and how a try's error is told apart: unreachable waits
// without using an attempt, an attempt that fails retries while it may, then fails for good.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { classify } from '../../lib/plugin/attempt.js'
import { decide, type DecisionPolicy } from '../../lib/plugin/decision.js'
import { retryDelay } from '../../lib/plugin/retry.js'

const policy = (over: Partial<DecisionPolicy> = {}): DecisionPolicy => ({
  retries: 0,
  baseDelay: 1000,
  maxDelay: 60_000,
  successCodes: undefined,
  unreachableWait: 1000,
  ...over,
})
const answer = (status: number, retryAfter?: string) => ({ kind: 'answer' as const, status, seconds: 0.01, retryAfter })

test('a 2xx is sent; success_codes narrow it', () => {
  assert.deepEqual(decide(answer(204), 0, policy(), 0), { kind: 'sent', seconds: 0.01 })
  assert.equal(decide(answer(204), 0, policy({ successCodes: new Set([200]) }), 0).kind, 'failed')
})

test('unreachable waits, uses no attempt, whatever retries says', () => {
  assert.deepEqual(decide({ kind: 'unreachable', err: null }, 0, policy(), 5_000), { kind: 'wait', dueAt: 6_000 })
  assert.deepEqual(decide({ kind: 'unreachable', err: null }, 3, policy({ retries: 3 }), 5_000), { kind: 'wait', dueAt: 6_000 })
})

test('retries = 0: a failed attempt is final, as MongooseIM counts it', () => {
  assert.deepEqual(decide(answer(500), 0, policy(), 0), { kind: 'failed', reason: 'status', attempts: 1, status: 500, err: undefined })
  assert.equal(decide({ kind: 'broken', reason: 'timeout', err: null }, 0, policy(), 0).kind, 'failed')
})

test('retryable failures retry while attempts remain; 400 and 410 never', () => {
  const p = policy({ retries: 2 })
  const first = decide(answer(503), 0, p, 10_000)
  assert.equal(first.kind, 'retry')
  assert.equal(first.kind === 'retry' && first.attempts, 1)
  assert.equal(decide(answer(503), 1, p, 0).kind, 'retry')
  assert.deepEqual(decide(answer(503), 2, p, 0), { kind: 'failed', reason: 'status', attempts: 3, status: 503, err: undefined })
  assert.equal(decide(answer(410), 0, p, 0).kind, 'failed')
  assert.equal(decide(answer(400), 0, p, 0).kind, 'failed')
  assert.equal(decide({ kind: 'aborted' }, 0, p, 0).kind, 'release')
})

test('retry_schedule replaces the doubling; a longer Retry-After wins, capped by retry_max_delay', () => {
  const p = { retries: 3, baseDelay: 1000, maxDelay: 60_000, schedule: [5_000, 300_000] }
  assert.equal(retryDelay(1, p, undefined), 5_000)
  assert.equal(retryDelay(2, p, undefined), 300_000)
  assert.equal(retryDelay(3, p, undefined), 300_000, 'the last entry repeats')
  assert.equal(retryDelay(1, p, '30'), 30_000)
  assert.equal(retryDelay(1, p, '3600'), 60_000)
  assert.equal(retryDelay(2, p, '30'), 300_000)
})

test('errors: not connected is unreachable; a timeout or reset after connecting is an attempt', () => {
  assert.equal(classify({ code: 'ECONNREFUSED' }, false, 0).kind, 'unreachable')
  assert.equal(classify({ code: 'ENOTFOUND' }, false, 0).kind, 'unreachable')
  assert.equal(classify({ code: 'EOPENBREAKER' }, false, 0).kind, 'unreachable')
  assert.equal(classify({ name: 'TimeoutError', code: 'ETIMEDOUT', timings: {} }, false, 0).kind, 'unreachable', 'a connect that never completed')
  assert.deepEqual(classify({ name: 'TimeoutError', code: 'ETIMEDOUT', timings: { connect: 1 } }, false, 0), {
    kind: 'broken',
    reason: 'timeout',
    err: { name: 'TimeoutError', code: 'ETIMEDOUT', timings: { connect: 1 } },
  })
  assert.equal(classify({ code: 'ECONNRESET', timings: { connect: 1 } }, false, 0).kind, 'broken')
  assert.deepEqual(classify({ code: 'PUSH_ERR_UPSTREAM', status: 503, retryAfter: '5' }, false, 0.5), {
    kind: 'answer',
    status: 503,
    seconds: 0.5,
    retryAfter: '5',
  })
  assert.equal(classify({ code: 'ECONNRESET' }, true, 0).kind, 'aborted')
})
