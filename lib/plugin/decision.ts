// The handler's decision after one try of a notification, as a pure function: delivered, wait
// (the endpoint could not be reached: not an attempt), retry later, or a final failure. The
// deliverer carries it out on the outbox and the metrics; nothing here does I/O.
import type { Reason } from './metrics.js'
import { isRetryable, retryDelay, type RetryPolicy } from './retry.js'

/** What one try came to, as the pool reports it. */
export type TryResult =
  | { kind: 'answer'; status: number; seconds: number; retryAfter: string | undefined }
  /** Reached the endpoint, then went wrong: a timeout or a reset after connecting. */
  | { kind: 'broken'; reason: 'timeout' | 'connection'; err: unknown }
  /** Never reached it: refused, DNS, the open breaker, a connect that never completed. */
  | { kind: 'unreachable'; err: unknown }
  /** The instance is stopping: the try was aborted and does not count. */
  | { kind: 'aborted' }

export type Decision =
  | { kind: 'sent'; seconds: number }
  | { kind: 'wait'; dueAt: number }
  | { kind: 'retry'; dueAt: number; attempts: number; reason: Reason; status?: number }
  | { kind: 'failed'; reason: Reason; attempts: number; status?: number; err?: unknown }
  | { kind: 'release' }

export interface DecisionPolicy extends RetryPolicy {
  successCodes: ReadonlySet<number> | undefined
  /** How long an unreachable endpoint's notifications wait before they are tried again (ms). */
  unreachableWait: number
}

export const isSuccess = (status: number, codes: ReadonlySet<number> | undefined) => (codes ? codes.has(status) : status >= 200 && status < 300)

/** `attempts`: the attempts made before this try. */
export function decide(result: TryResult, attempts: number, policy: DecisionPolicy, now: number): Decision {
  if (result.kind === 'aborted') return { kind: 'release' }
  if (result.kind === 'unreachable') return { kind: 'wait', dueAt: now + policy.unreachableWait }
  const made = attempts + 1
  if (result.kind === 'answer' && isSuccess(result.status, policy.successCodes)) return { kind: 'sent', seconds: result.seconds }
  const reason: Reason = result.kind === 'answer' ? 'status' : result.reason
  const status = result.kind === 'answer' ? result.status : undefined
  if (made <= policy.retries && isRetryable(reason, status)) {
    const delay = retryDelay(made, policy, result.kind === 'answer' ? result.retryAfter : undefined)
    return { kind: 'retry', dueAt: now + delay, attempts: made, reason, status }
  }
  return { kind: 'failed', reason, attempts: made, status, err: result.kind === 'broken' ? result.err : undefined }
}
