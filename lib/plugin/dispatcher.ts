// The one place that decides a notification's outcome and counts it, exactly once: accepted when
// the filter takes it; then, after its last attempt, sent (a success code) or failed with one
// reason. Between attempts it decides whether to retry and for how long the handler holds the
// notification (outside its queue and the pool's slots).
import { performance } from 'node:perf_hooks'
import CircuitBreaker from 'opossum'
import type { Logger } from '../contract.js'
import { isSuccess, type DeliveryPolicy } from './delivery.js'
import type { FailureLog } from './failure-log.js'
import type { LatencyReservoir } from './latency.js'
import type { HostMetrics, Reason } from './metrics.js'
import type { HttpRequest, NotificationRequest } from './payload.js'
import type { Pool, UpstreamError } from './pool.js'
import { isRetryable, retryDelay } from './retry.js'
import { newWebhookId, webhookTimestamp } from './signing.js'

export type Outcome = { sent: true; seconds: number } | { sent: false; reason: Reason; status?: number; err?: unknown }

/** What holding a notification for a retry came to. */
export type RetryHold = 'scheduled' | 'backlog_full' | 'stopping'

/** What the dispatcher needs to know about the handler a notification belongs to. */
export interface HandlerRef {
  readonly name: string
  readonly pool: Pool
  readonly policy: DeliveryPolicy
  /** Holds `req` for `delayMs`, then queues it for its next attempt. */
  retryLater(req: NotificationRequest, delayMs: number): RetryHold
}

export class Dispatcher {
  constructor(
    private readonly metrics: HostMetrics,
    private readonly latency: LatencyReservoir,
    private readonly log: Logger,
    private readonly failures: FailureLog,
  ) {}

  /** The filter took a (packet, handler): from here on exactly one settle() follows. */
  accepted(): void {
    this.metrics.accepted()
  }

  /**
   * Makes one attempt of a notification through its handler's pool, then either settles it or
   * hands it back to the handler for a later attempt. Resolves when the attempt is over (its
   * pool slot is free), never rejects.
   */
  async run(handler: HandlerRef, req: NotificationRequest): Promise<void> {
    const policy = handler.policy
    if (req.attempt > 0) this.metrics.retried()
    req.attempt++
    const started = performance.now()
    let outcome: Outcome
    let retryAfter: string | undefined
    try {
      const status = await handler.pool.send(attemptRequest(req, policy))
      outcome = isSuccess(status, policy.successCodes)
        ? { sent: true, seconds: (performance.now() - started) / 1000 }
        : { sent: false, reason: 'status', status }
    } catch (err) {
      const upstream = err as Partial<UpstreamError>
      retryAfter = upstream.retryAfter
      outcome = { sent: false, reason: classify(err, handler.pool), status: upstream.status, err }
    }
    if (!outcome.sent && req.attempt <= policy.retries && !handler.pool.aborted && isRetryable(outcome.reason, outcome.status)) {
      const delay = retryDelay(req.attempt, policy, retryAfter)
      const hold = handler.retryLater(req, delay)
      if (hold === 'scheduled') {
        this.log.debug(
          { handler: handler.name, attempt: req.attempt, reason: outcome.reason, status: outcome.status, retry_in_ms: delay },
          'notification attempt failed, will retry',
        )
        return
      }
      if (hold === 'backlog_full') {
        this.failures.warn(
          handler.name,
          'retry_backlog_full',
          { pool: handler.pool.name },
          'retry backlog full: notification failed without its remaining retries',
        )
      }
    }
    this.settle(handler, outcome, req.attempt)
  }

  /** Failures decided before or instead of sending: callback threw, queue full, shutdown. */
  fail(handler: HandlerRef, reason: Reason, err?: unknown, attempts = 0): void {
    // The hot path of a dead endpoint (queue_full, breaker_open): no object unless it is logged.
    this.metrics.failed(reason)
    if (this.failures.admit(handler.name, reason)) {
      this.failures.write(handler.name, reason, { pool: handler.pool.name, attempts, err: errorSummary(err) }, 'notification failed')
    }
  }

  private settle(handler: HandlerRef, outcome: Outcome, attempts: number): void {
    if (outcome.sent) {
      this.metrics.sent(outcome.seconds)
      this.latency.add(outcome.seconds)
      return
    }
    this.metrics.failed(outcome.reason)
    if (this.failures.admit(handler.name, outcome.reason)) {
      this.failures.write(
        handler.name,
        outcome.reason,
        { pool: handler.pool.name, status: outcome.status, attempts, err: errorSummary(outcome.err) },
        'notification failed',
      )
    }
  }
}

/**
 * The request of one attempt. With signing or retries on, it carries the notification's
 * webhook-id (the same on every attempt) and this attempt's webhook-timestamp; with signing, the
 * signatures over this attempt's id.timestamp.body, so a retry is never stale at the receiver.
 */
function attemptRequest(req: NotificationRequest, policy: DeliveryPolicy): HttpRequest {
  if (!policy.identify) return req
  const id = (req.id ??= newWebhookId())
  const timestamp = webhookTimestamp()
  const headers: Record<string, string> = { ...req.headers, 'webhook-id': id, 'webhook-timestamp': timestamp }
  if (policy.signer) headers['webhook-signature'] = policy.signer.sign(id, timestamp, req.body)
  return { url: req.url, body: req.body, headers }
}

/** Maps an error from pool.send to a failure reason. */
export function classify(err: unknown, pool: { aborted: boolean }): Reason {
  if (pool.aborted) return 'shutdown'
  const e = err as { code?: string; name?: string } | null
  if (e?.code === 'EOPENBREAKER') return 'breaker_open' // opossum's, or the pool's own fast refusal
  if (err instanceof Error && CircuitBreaker.isOurError(err)) {
    return e?.code === 'EOPENBREAKER' ? 'breaker_open' : e?.code === 'ESHUTDOWN' ? 'shutdown' : 'connection'
  }
  if (e?.code === 'PUSH_ERR_UPSTREAM') return 'status'
  if (e?.name === 'TimeoutError' || e?.code === 'ETIMEDOUT') return 'timeout'
  return 'connection'
}

// Log the error's identity, not its object: got errors carry the request options (headers).
function errorSummary(err: unknown): { name?: string; code?: string; message?: string } | undefined {
  if (!(err instanceof Error)) return undefined
  return { name: err.name, code: (err as { code?: string }).code, message: err.message }
}
