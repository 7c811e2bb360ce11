// The one place where an instance counts what happens to its notifications: accepted when the
// filter takes one; then, when its outcome is final, sent (with its response time) or failed with
// one reason; retries as further attempts are made. Failures are logged, rate-limited per handler
// and reason. Waiting for an unreachable endpoint is not counted: it is neither an attempt nor an
// outcome.
import type { Logger } from '../contract.js'
import type { Accounting, Lane } from './deliverer.js'
import type { Decision } from './decision.js'
import type { FailureLog } from './failure-log.js'
import type { LatencyReservoir } from './latency.js'
import type { HostMetrics, Reason } from './metrics.js'
import type { OutboxEntry } from './outbox/outbox.js'

export class Outcomes implements Accounting {
  constructor(
    private readonly metrics: HostMetrics,
    private readonly latency: LatencyReservoir,
    private readonly failures: FailureLog,
    private readonly log: Logger,
  ) {}

  /** The filter took a (packet, handler): from here on it is pending until one final outcome. */
  accepted(): void {
    this.metrics.accepted()
  }

  /** Failed without a try: the filter threw, the handler's backlog is full, it expired, the memory outbox went away. */
  failed(handler: string, reason: Reason, detail: { attempts?: number; err?: unknown; webhookId?: string } = {}): void {
    this.metrics.failed(reason)
    // The hot path of a full backlog (queue_full): no object unless it is logged.
    if (this.failures.admit(handler, reason)) {
      this.failures.write(
        handler,
        reason,
        { attempts: detail.attempts ?? 0, webhook_id: detail.webhookId, err: errorSummary(detail.err) },
        'notification failed',
      )
    }
  }

  decided(lane: Lane, entry: OutboxEntry, decision: Decision, attemptsBefore: number): void {
    // A try that reached the endpoint after an earlier attempt is a retry.
    if (attemptsBefore > 0 && (decision.kind === 'sent' || decision.kind === 'retry' || decision.kind === 'failed')) this.metrics.retried()
    switch (decision.kind) {
      case 'sent':
        this.metrics.sent(decision.seconds)
        this.latency.add(decision.seconds)
        return
      case 'failed':
        this.metrics.failed(decision.reason)
        if (this.failures.admit(lane.name, decision.reason)) {
          this.failures.write(
            lane.name,
            decision.reason,
            { status: decision.status, attempts: decision.attempts, webhook_id: entry.webhookId, err: errorSummary(decision.err) },
            'notification failed',
          )
        }
        return
      case 'retry':
        this.log.debug(
          {
            handler: lane.name,
            webhook_id: entry.webhookId,
            attempts: decision.attempts,
            reason: decision.reason,
            status: decision.status,
            due_at: decision.dueAt,
          },
          'notification attempt failed, will retry',
        )
        return
      default:
        return // wait (unreachable) and release (stop): still pending, nothing to count
    }
  }

  notTried(lane: Lane, entry: OutboxEntry, reason: 'callback' | 'expired', err?: unknown): void {
    this.failed(lane.name, reason, { attempts: entry.attempts, err, webhookId: entry.webhookId })
  }
}

// Log the error's identity, not its object: got errors carry the request options (headers).
function errorSummary(err: unknown): { name?: string; code?: string; message?: string } | undefined {
  if (!(err instanceof Error)) return undefined
  return { name: err.name, code: (err as { code?: string }).code, message: err.message }
}
