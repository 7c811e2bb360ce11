// The plugin's metrics, registered once per registry (the server's, never prom-client's global
// one) and shared by every vhost, stop/start and reload; each instance binds its own labels.
import { Counter, Gauge, Histogram, type Registry } from 'prom-client'

export const REASONS = ['status', 'timeout', 'connection', 'breaker_open', 'queue_full', 'callback', 'shutdown'] as const
export type Reason = (typeof REASONS)[number]

export type BreakerState = 'closed' | 'half-open' | 'open'
const BREAKER_VALUE: Record<BreakerState, number> = { closed: 0, 'half-open': 0.5, open: 1 }

// Keep in step with plugin.json "metrics" (a spec compares them).
export const METRIC_HELP = {
  accepted: 'Notifications the filter accepted (packets x handlers); equals sent + failed at any quiet moment.',
  sent: 'Notifications the endpoint answered with a 2xx status. Seed name: [Host, mod_http_notifications, sent].',
  failed:
    'Notifications that failed, by reason: status, timeout, connection, breaker_open, queue_full, callback, shutdown. Seed name: [Host, mod_http_notifications, failed].',
  responseTime: 'Response time of sent notifications only. Seed name: [Host, mod_http_notifications, response_time].',
  retries:
    'Retry attempts started (every attempt of a notification after its first); the notification itself is counted sent or failed once, when its last attempt ends.',
  queueDepth: "Notifications waiting in a handler's queue (not yet in flight).",
  breakerState: 'Circuit breaker state per pool: 0 closed, 0.5 half-open, 1 open.',
} as const

const BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30]

interface Metrics {
  accepted: Counter<'host'>
  sent: Counter<'host'>
  failed: Counter<'host' | 'reason'>
  responseTime: Histogram<'host'>
  retries: Counter<'host'>
  queueDepth: Gauge<'host' | 'handler'>
  breakerState: Gauge<'host' | 'pool'>
}

const byRegistry = new WeakMap<Registry, Metrics>()

function metricsIn(registry: Registry): Metrics {
  let m = byRegistry.get(registry)
  if (!m) {
    const registers = [registry]
    m = {
      accepted: reuse(registry, 'mod_http_notifications_accepted_total', Counter, () =>
        new Counter({ name: 'mod_http_notifications_accepted_total', help: METRIC_HELP.accepted, labelNames: ['host'], registers })),
      sent: reuse(registry, 'mod_http_notifications_sent_total', Counter, () =>
        new Counter({ name: 'mod_http_notifications_sent_total', help: METRIC_HELP.sent, labelNames: ['host'], registers })),
      failed: reuse(registry, 'mod_http_notifications_failed_total', Counter, () =>
        new Counter({ name: 'mod_http_notifications_failed_total', help: METRIC_HELP.failed, labelNames: ['host', 'reason'], registers })),
      responseTime: reuse(registry, 'mod_http_notifications_response_time_seconds', Histogram, () =>
        new Histogram({ name: 'mod_http_notifications_response_time_seconds', help: METRIC_HELP.responseTime, labelNames: ['host'], buckets: BUCKETS, registers })),
      retries: reuse(registry, 'mod_http_notifications_retries_total', Counter, () =>
        new Counter({ name: 'mod_http_notifications_retries_total', help: METRIC_HELP.retries, labelNames: ['host'], registers })),
      queueDepth: reuse(registry, 'mod_http_notifications_queue_depth', Gauge, () =>
        new Gauge({ name: 'mod_http_notifications_queue_depth', help: METRIC_HELP.queueDepth, labelNames: ['host', 'handler'], registers })),
      breakerState: reuse(registry, 'mod_http_notifications_breaker_state', Gauge, () =>
        new Gauge({ name: 'mod_http_notifications_breaker_state', help: METRIC_HELP.breakerState, labelNames: ['host', 'pool'], registers })),
    }
    byRegistry.set(registry, m)
  }
  return m
}

// The WeakMap lives in this module; should the host ever load a second copy of it (a re-import
// on reload), the registry still holds the first copy's metrics: adopt them instead of throwing.
function reuse<M>(registry: Registry, name: string, kind: abstract new (...args: never[]) => M, create: () => M): M {
  const existing = registry.getSingleMetric(name)
  if (existing === undefined) return create()
  if (existing instanceof kind) return existing
  throw new TypeError(`metric ${name} is already registered with another type`)
}

// Histogram.zero() resets a series that exists, so a restarted vhost would lose its history:
// zero each host once per histogram. The set hangs on the metric itself (under a global symbol)
// so an adopted metric carries it along.
const ZEROED = Symbol.for('mod_event_pusher_http.zeroed')

function zeroOnce(histogram: Histogram<'host'>, host: string): void {
  const holder = histogram as unknown as { [ZEROED]?: Set<string> }
  const zeroed = (holder[ZEROED] ??= new Set())
  if (zeroed.has(host)) return
  histogram.zero({ host })
  zeroed.add(host)
}

export interface Counts {
  accepted: number
  sent: number
  failed: { total: number; by_reason: Record<Reason, number> }
  retries: number
  response_time: { count: number; sum: number }
}

/** One vhost's view: label-bound children, so the hot path does no label lookups. */
export class HostMetrics {
  private readonly m: Metrics
  private readonly acceptedChild
  private readonly sentChild
  private readonly timeChild
  private readonly retriesChild
  private readonly failedChildren: Record<Reason, { inc(n?: number): void }>

  constructor(registry: Registry, readonly host: string) {
    this.m = metricsIn(registry)
    this.acceptedChild = this.m.accepted.labels({ host })
    this.sentChild = this.m.sent.labels({ host })
    this.timeChild = this.m.responseTime.labels({ host })
    this.retriesChild = this.m.retries.labels({ host })
    this.failedChildren = Object.fromEntries(REASONS.map((reason) => [reason, this.m.failed.labels({ host, reason })])) as HostMetrics['failedChildren']
    // Every series exists from start, at 0.
    this.acceptedChild.inc(0)
    this.sentChild.inc(0)
    this.retriesChild.inc(0)
    zeroOnce(this.m.responseTime, host)
    for (const reason of REASONS) this.failedChildren[reason].inc(0)
  }

  accepted(): void {
    this.acceptedChild.inc()
  }

  sent(seconds: number): void {
    this.sentChild.inc()
    this.timeChild.observe(seconds)
  }

  failed(reason: Reason): void {
    this.failedChildren[reason].inc()
  }

  /** One more attempt of a notification after its first. */
  retried(): void {
    this.retriesChild.inc()
  }

  /** A setter bound to this handler's queue-depth series (created at 0). */
  queueDepth(handler: string): (depth: number) => void {
    const child = this.m.queueDepth.labels({ host: this.host, handler })
    child.set(0)
    return (depth) => child.set(depth)
  }

  breakerState(pool: string): (state: BreakerState) => void {
    const child = this.m.breakerState.labels({ host: this.host, pool })
    child.set(0)
    return (state) => child.set(BREAKER_VALUE[state])
  }

  /** Drops this instance's gauge series (the counters stay: they survive disable and reload). */
  release(handlers: string[], pools: string[]): void {
    for (const handler of handlers) this.m.queueDepth.remove({ host: this.host, handler })
    for (const pool of pools) this.m.breakerState.remove({ host: this.host, pool })
  }

  async counts(): Promise<Counts> {
    const host = this.host
    const value = async (metric: Counter<string>) => (await metric.get()).values.find((v) => v.labels.host === host)?.value ?? 0
    const failed = (await this.m.failed.get()).values.filter((v) => v.labels.host === host)
    const by_reason = Object.fromEntries(REASONS.map((r) => [r, failed.find((v) => v.labels.reason === r)?.value ?? 0])) as Record<Reason, number>
    const hist = (await this.m.responseTime.get()).values.filter((v) => v.labels.host === host)
    return {
      accepted: await value(this.m.accepted),
      sent: await value(this.m.sent),
      failed: { total: Object.values(by_reason).reduce((a, b) => a + b, 0), by_reason },
      retries: await value(this.m.retries),
      response_time: {
        count: hist.find((v) => v.metricName?.endsWith('_count'))?.value ?? 0,
        sum: hist.find((v) => v.metricName?.endsWith('_sum'))?.value ?? 0,
      },
    }
  }
}
