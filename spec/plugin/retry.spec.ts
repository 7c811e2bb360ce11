// Which failures are retried, backoff with jitter, Retry-After, and how long retries are planned to take.
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { backoffDelay, isRetryable, parseRetryAfter, plannedRetrySpan, retryDelay } from '../../lib/plugin/retry.js'

describe('isRetryable', () => {
  it('retries resets after connecting, timeouts, 408, 429 and 5xx', () => {
    for (const reason of ['connection', 'timeout'] as const) assert.equal(isRetryable(reason, undefined), true, reason)
    for (const status of [408, 429, 500, 502, 503, 504, 599]) assert.equal(isRetryable('status', status), true, String(status))
  })

  it('never retries other answers, nor what the plugin decided itself', () => {
    for (const status of [200, 204, 301, 302, 400, 401, 403, 404, 409, 410, 413, 422]) assert.equal(isRetryable('status', status), false, String(status))
    for (const reason of ['queue_full', 'callback', 'expired', 'shutdown', 'outbox_unavailable'] as const)
      assert.equal(isRetryable(reason, undefined), false, reason)
  })
})

describe('backoffDelay', () => {
  const policy = { baseDelay: 100, maxDelay: 1000 }

  it('doubles from the base, up to the max', () => {
    const top = (r: number) => backoffDelay(r, policy, () => 1)
    assert.deepEqual([1, 2, 3, 4, 5, 10, 60].map(top), [100, 200, 400, 800, 1000, 1000, 1000])
  })

  it('draws from the upper half of the cap (equal jitter)', () => {
    const bottom = (r: number) => backoffDelay(r, policy, () => 0)
    assert.deepEqual([1, 2, 3, 4, 5].map(bottom), [50, 100, 200, 400, 500])
    const seen = new Set(Array.from({ length: 200 }, () => backoffDelay(3, policy)))
    assert.ok(seen.size > 20, 'spread')
    for (const d of seen) assert.ok(d >= 200 && d <= 400, String(d))
  })
})

describe('parseRetryAfter', () => {
  const now = Date.UTC(2025, 0, 31, 12, 0, 0)

  it('reads delay-seconds', () => {
    assert.equal(parseRetryAfter('0', now), 0)
    assert.equal(parseRetryAfter('3', now), 3000)
    assert.equal(parseRetryAfter(' 120 ', now), 120_000)
  })

  it('reads HTTP-dates (IMF-fixdate, RFC 850, asctime), a past date as 0', () => {
    assert.equal(parseRetryAfter('Fri, 31 Jan 2025 12:00:05 GMT', now), 5000)
    assert.equal(parseRetryAfter('Friday, 31-Jan-25 12:00:07 GMT', now), 7000)
    assert.equal(parseRetryAfter('Fri Jan 31 12:00:09 2025', now), 9000)
    assert.equal(parseRetryAfter('Fri, 31 Jan 2025 11:00:00 GMT', now), 0)
  })

  it('ignores what is absent or malformed', () => {
    for (const v of [undefined, '', '-1', '1.5', 'soon', '5s', 'tomorrow at noon', 'Fri, 31 Jan 2025 12:00:05'])
      assert.equal(parseRetryAfter(v, now), undefined, String(v))
  })
})

describe('retryDelay', () => {
  const policy = { retries: 3, baseDelay: 100, maxDelay: 5000 }

  it("honours the endpoint's Retry-After, capped at retry_max_delay", () => {
    assert.equal(retryDelay(1, policy, '2'), 2000)
    assert.equal(retryDelay(1, policy, '0'), 0)
    assert.equal(retryDelay(1, policy, '3600'), 5000)
  })

  it('falls back to backoff without one', () => {
    assert.equal(
      retryDelay(2, policy, undefined, () => 1),
      200,
    )
    assert.equal(
      retryDelay(2, policy, 'garbage', () => 0),
      100,
    )
  })
})

describe('plannedRetrySpan', () => {
  it('adds up the schedule, its last entry repeating for further retries', () => {
    const svix = [5, 300, 1800, 7200, 18000, 36000, 36000].map((s) => s * 1000)
    assert.equal(plannedRetrySpan({ retries: 7, baseDelay: 1, maxDelay: 1, schedule: svix }), 99_305_000)
    assert.equal(plannedRetrySpan({ retries: 9, baseDelay: 1, maxDelay: 1, schedule: svix }), 99_305_000 + 2 * 36_000_000)
    assert.equal(plannedRetrySpan({ retries: 2, baseDelay: 1, maxDelay: 1, schedule: svix }), 305_000)
  })

  it('without a schedule, adds each backoff wait at its cap: doubling, then retry_max_delay', () => {
    assert.equal(plannedRetrySpan({ retries: 6, baseDelay: 100, maxDelay: 1000 }), 100 + 200 + 400 + 800 + 1000 + 1000)
    assert.equal(plannedRetrySpan({ retries: 1000, baseDelay: 1000, maxDelay: 60_000 }), 63_000 + 994 * 60_000)
  })

  it('is 0 without retries', () => {
    assert.equal(plannedRetrySpan({ retries: 0, baseDelay: 1000, maxDelay: 60_000 }), 0)
  })
})
