// The one place that decides a notification's outcome and counts it, exactly once: accepted when
// the filter takes it; then sent (2xx) or failed with one reason. A later retry policy belongs
// in run(), around pool.send, before the single settle.
import { performance } from 'node:perf_hooks'
import CircuitBreaker from 'opossum'
import type { Logger } from '../contract.js'
import type { LatencyReservoir } from './latency.js'
import type { HostMetrics, Reason } from './metrics.js'
import type { NotificationRequest } from './payload.js'
import type { Pool } from './pool.js'

export type Outcome = { sent: true; seconds: number } | { sent: false; reason: Reason; status?: number; err?: unknown }

/** What the dispatcher needs to know about the handler a notification belongs to. */
export interface HandlerRef {
  readonly name: string
  readonly pool: Pool
}

export class Dispatcher {
  constructor(
    private readonly metrics: HostMetrics,
    private readonly latency: LatencyReservoir,
    private readonly log: Logger,
  ) {}

  /** The filter took a (packet, handler): from here on exactly one settle() follows. */
  accepted(): void {
    this.metrics.accepted()
  }

  /** Sends one queued notification through its handler's pool and settles it. Never rejects. */
  async run(handler: HandlerRef, req: NotificationRequest): Promise<void> {
    const started = performance.now()
    let outcome: Outcome
    try {
      const status = await handler.pool.send(req)
      outcome = status >= 200 && status < 300 ? { sent: true, seconds: (performance.now() - started) / 1000 } : { sent: false, reason: 'status', status }
    } catch (err) {
      outcome = { sent: false, reason: classify(err, handler.pool), err }
    }
    this.settle(handler, outcome)
  }

  /** Failures decided before or instead of sending: callback threw, queue full, shutdown. */
  fail(handler: HandlerRef, reason: Reason, err?: unknown): void {
    this.settle(handler, { sent: false, reason, err })
  }

  private settle(handler: HandlerRef, outcome: Outcome): void {
    if (outcome.sent) {
      this.metrics.sent(outcome.seconds)
      this.latency.add(outcome.seconds)
      return
    }
    this.metrics.failed(outcome.reason)
    // A broken callback is the operator's code: say so loudly. Endpoint trouble is already
    // visible in the metrics and the breaker's own log lines, so keep it at debug.
    const level = outcome.reason === 'callback' ? 'warn' : 'debug'
    this.log[level]({ handler: handler.name, pool: handler.pool.name, reason: outcome.reason, status: outcome.status, err: errorSummary(outcome.err) }, 'notification failed')
  }
}

/** Maps an error from pool.send to a failure reason. */
export function classify(err: unknown, pool: { aborted: boolean }): Reason {
  if (pool.aborted) return 'shutdown'
  const e = err as { code?: string; name?: string } | null
  if (err instanceof Error && CircuitBreaker.isOurError(err)) {
    return e?.code === 'EOPENBREAKER' ? 'breaker_open' : e?.code === 'ESHUTDOWN' ? 'shutdown' : 'connection'
  }
  if (e?.code === 'PUSH_ERR_UPSTREAM') return 'status'
  if (e?.name === 'TimeoutError' || e?.code === 'ETIMEDOUT') return 'timeout'
  return 'connection'
}

// Log the error's identity, not its object: got errors carry the request options.
function errorSummary(err: unknown): { name?: string; code?: string; message?: string } | undefined {
  if (!(err instanceof Error)) return undefined
  return { name: err.name, code: (err as { code?: string }).code, message: err.message }
}
