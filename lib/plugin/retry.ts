// When and how long to wait before another attempt: which failures are worth retrying,
// exponential backoff with jitter, and the endpoint's own Retry-After. Pure functions.
import type { Reason } from './metrics.js'

export interface RetryPolicy {
  /** Further attempts after the first; 0: none. */
  retries: number
  baseDelay: number
  maxDelay: number
  /** retry_schedule in ms: the wait before each retry (the last one repeats); replaces the doubling. */
  schedule?: readonly number[]
}

/**
 * A reset after connecting, a timeout, 408, 429 and 5xx may pass; other answers (400, 410, 3xx,
 * a 2xx outside success_codes) would only repeat themselves.
 */
export function isRetryable(reason: Reason, status: number | undefined): boolean {
  if (reason === 'connection' || reason === 'timeout') return true
  return reason === 'status' && status !== undefined && (status >= 500 || status === 408 || status === 429)
}

/**
 * Wait before retry number `retry` (1 for the first): the cap doubles from baseDelay up to
 * maxDelay, and the wait is drawn from its upper half ("equal jitter"): never less than half the
 * cap, so retries keep backing off, and spread, so a burst of failures does not retry in step.
 */
export function backoffDelay(retry: number, { baseDelay, maxDelay }: Pick<RetryPolicy, 'baseDelay' | 'maxDelay'>, random: () => number = Math.random): number {
  const cap = Math.min(maxDelay, baseDelay * 2 ** Math.min(retry - 1, 40))
  return Math.round(cap / 2 + random() * (cap / 2))
}

const DELAY_SECONDS = /^\d+$/
// IMF-fixdate ("Sun, 06 Nov 1994 08:49:37 GMT"), and the obsolete RFC 850 and asctime forms.
const HTTP_DATE =
  /^(?:\w{3}, \d{2} \w{3} \d{4} \d{2}:\d{2}:\d{2} GMT|\w{6,9}, \d{2}-\w{3}-\d{2} \d{2}:\d{2}:\d{2} GMT|\w{3} \w{3} [ \d]\d \d{2}:\d{2}:\d{2} \d{4})$/

/** Retry-After (delay-seconds or an HTTP-date) in milliseconds from `now`; undefined when absent or malformed. */
export function parseRetryAfter(value: string | undefined, now: number = Date.now()): number | undefined {
  if (value === undefined) return undefined
  const v = value.trim()
  if (DELAY_SECONDS.test(v)) return Number(v) * 1000
  if (!HTTP_DATE.test(v)) return undefined
  const at = Date.parse(v.endsWith('GMT') ? v : `${v} GMT`)
  return Number.isNaN(at) ? undefined : Math.max(0, at - now)
}

/**
 * The wait before retry number `retry`. With a schedule: its entry, or the endpoint's Retry-After
 * (at most maxDelay) when that is longer. Without: Retry-After when the endpoint sent one, else
 * backoff; at most maxDelay.
 */
export function retryDelay(retry: number, policy: RetryPolicy, retryAfter: string | undefined, random?: () => number): number {
  const asked = parseRetryAfter(retryAfter)
  const schedule = policy.schedule
  if (schedule && schedule.length > 0) {
    const planned = schedule[Math.min(retry, schedule.length) - 1]
    return asked !== undefined ? Math.max(planned, Math.min(policy.maxDelay, asked)) : planned
  }
  return asked !== undefined ? Math.min(policy.maxDelay, asked) : backoffDelay(retry, policy, random)
}

/** The jitter's longest draw: backoffDelay at its cap. */
const LONGEST = () => 1

/**
 * How long the retries of one notification wait in all (ms) as planned: the schedule's entries
 * (the last repeating), or each backoff wait at its cap (jitter only shortens it), for
 * `retries` retries. A Retry-After longer than the backoff is the endpoint's doing and is not
 * planned; max_pending_age ends any wait anyway.
 */
export function plannedRetrySpan({ retries, baseDelay, maxDelay, schedule }: RetryPolicy): number {
  let span = 0
  for (let retry = 1; retry <= retries; retry++) {
    span += schedule && schedule.length > 0 ? schedule[Math.min(retry, schedule.length) - 1] : backoffDelay(retry, { baseDelay, maxDelay }, LONGEST)
  }
  return span
}
