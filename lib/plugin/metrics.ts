// The plugin's metrics, registered once per registry (the server's, never prom-client's global
// one) and shared by every vhost, stop/start and reload; each instance binds its own labels.
// The per-packet counts (accepted, sent, failed, retries) are plain numbers on the hot path and
// the per-handler gauges (pending, queue depth, oldest pending) are read from the outbox;
// prom-client gets them when it collects (a scrape, a status read): a labelled inc() hashes its
// labels on every call, which cost more than the rest of the hook.
import { Counter, Gauge, Histogram, type Registry } from 'prom-client'

export const REASONS = ['status', 'timeout', 'connection', 'queue_full', 'callback', 'expired', 'shutdown'] as const
export type Reason = (typeof REASONS)[number]

export type BreakerState = 'closed' | 'half-open' | 'open'
const BREAKER_VALUE: Record<BreakerState, number> = { closed: 0, 'half-open': 0.5, open: 1 }

// Keep in step with plugin.json "metrics" (a spec compares them).
export const METRIC_HELP = {
  accepted: 'Notifications the filter accepted (packets x handlers). At any quiet moment: accepted + recovered = sent + failed + pending.',
  sent: 'Notifications the endpoint answered with a 2xx status. Seed name: [Host, mod_http_notifications, sent].',
  failed:
    'Notifications whose outcome is final without delivery, by reason: status, timeout, connection, queue_full, callback, expired, shutdown. Seed name: [Host, mod_http_notifications, failed].',
  responseTime: 'Response time of sent notifications only. Seed name: [Host, mod_http_notifications, response_time].',
  retries: "Attempts of a notification after its first (an attempt reached the endpoint; an unreachable endpoint's wait is not one).",
  queueDepth: 'Pending notifications of a handler waiting for a try (pending minus those in flight).',
  breakerState: 'Circuit breaker state per pool: 0 closed, 0.5 half-open, 1 open.',
  pending: 'Notifications in the outbox: accepted or recovered, not yet sent or failed (handlers a reload removed included).',
  oldestPending: 'Age of the oldest pending notification of a handler, in seconds.',
  recovered: "Pending notifications found in the outbox when this process opened it (a previous run's), counted once per host.",
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
  pending: Gauge<'host' | 'handler'>
  oldestPending: Gauge<'host' | 'handler'>
  recovered: Counter<'host'>
}

/** A handler's outbox gauges as one host's instance reads them. */
export interface HandlerBacklog {
  handler: string
  pending: number
  /** Pending and not in flight. */
  queued: number
}

/** What a host's instance publishes, read when the metrics are collected. */
export interface BacklogReader {
  handlers(): HandlerBacklog[]
  /** ms since the epoch. */
  oldest(handler: string): number | undefined
}

const byRegistry = new WeakMap<Registry, Metrics>()

// Shared through the registry under global symbols, so that a second copy of this module (a
// re-import) and metrics it adopts still flush the same tallies.
const FLUSHERS = Symbol.for('mod_event_pusher_http.flushers')
const BACKLOGS = Symbol.for('mod_event_pusher_http.backlogs')
type Holder = { [FLUSHERS]?: Set<() => void>; [BACKLOGS]?: Map<string, BacklogReader> }
const flushersOf = (registry: Registry) => ((registry as unknown as Holder)[FLUSHERS] ??= new Set())
const backlogsOf = (registry: Registry) => ((registry as unknown as Holder)[BACKLOGS] ??= new Map())

/** Sets a per-handler gauge from every host's reader; series of handlers no longer listed go. */
function collectBacklog(gauge: Gauge<'host' | 'handler'>, registry: Registry, value: (reader: BacklogReader, b: HandlerBacklog) => number | undefined): void {
  gauge.reset()
  for (const [host, reader] of backlogsOf(registry)) {
    for (const b of reader.handlers()) {
      const v = value(reader, b)
      if (v !== undefined) gauge.set({ host, handler: b.handler }, v)
    }
  }
}

function metricsIn(registry: Registry): Metrics {
  let m = byRegistry.get(registry)
  if (!m) {
    const registers = [registry]
    const collect = () => {
      for (const flush of flushersOf(registry)) flush()
    }
    m = {
      accepted: reuse(
        registry,
        'mod_http_notifications_accepted_total',
        Counter,
        () => new Counter({ name: 'mod_http_notifications_accepted_total', help: METRIC_HELP.accepted, labelNames: ['host'], registers, collect }),
      ),
      sent: reuse(
        registry,
        'mod_http_notifications_sent_total',
        Counter,
        () => new Counter({ name: 'mod_http_notifications_sent_total', help: METRIC_HELP.sent, labelNames: ['host'], registers, collect }),
      ),
      failed: reuse(
        registry,
        'mod_http_notifications_failed_total',
        Counter,
        () => new Counter({ name: 'mod_http_notifications_failed_total', help: METRIC_HELP.failed, labelNames: ['host', 'reason'], registers, collect }),
      ),
      responseTime: reuse(
        registry,
        'mod_http_notifications_response_time_seconds',
        Histogram,
        () =>
          new Histogram({
            name: 'mod_http_notifications_response_time_seconds',
            help: METRIC_HELP.responseTime,
            labelNames: ['host'],
            buckets: BUCKETS,
            registers,
          }),
      ),
      retries: reuse(
        registry,
        'mod_http_notifications_retries_total',
        Counter,
        () => new Counter({ name: 'mod_http_notifications_retries_total', help: METRIC_HELP.retries, labelNames: ['host'], registers, collect }),
      ),
      queueDepth: reuse(
        registry,
        'mod_http_notifications_queue_depth',
        Gauge,
        () =>
          new Gauge({
            name: 'mod_http_notifications_queue_depth',
            help: METRIC_HELP.queueDepth,
            labelNames: ['host', 'handler'],
            registers,
            collect() {
              collectBacklog(this, registry, (_, b) => b.queued)
            },
          }),
      ),
      breakerState: reuse(
        registry,
        'mod_http_notifications_breaker_state',
        Gauge,
        () => new Gauge({ name: 'mod_http_notifications_breaker_state', help: METRIC_HELP.breakerState, labelNames: ['host', 'pool'], registers }),
      ),
      pending: reuse(
        registry,
        'mod_http_notifications_pending',
        Gauge,
        () =>
          new Gauge({
            name: 'mod_http_notifications_pending',
            help: METRIC_HELP.pending,
            labelNames: ['host', 'handler'],
            registers,
            collect() {
              collectBacklog(this, registry, (_, b) => b.pending)
            },
          }),
      ),
      oldestPending: reuse(
        registry,
        'mod_http_notifications_oldest_pending_seconds',
        Gauge,
        () =>
          new Gauge({
            name: 'mod_http_notifications_oldest_pending_seconds',
            help: METRIC_HELP.oldestPending,
            labelNames: ['host', 'handler'],
            registers,
            collect() {
              const now = Date.now()
              collectBacklog(this, registry, (reader, b) => {
                const at = b.pending > 0 ? reader.oldest(b.handler) : undefined
                return at === undefined ? 0 : Math.max(0, (now - at) / 1000)
              })
            },
          }),
      ),
      recovered: reuse(
        registry,
        'mod_http_notifications_recovered_total',
        Counter,
        () => new Counter({ name: 'mod_http_notifications_recovered_total', help: METRIC_HELP.recovered, labelNames: ['host'], registers }),
      ),
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
  recovered: number
  response_time: { count: number; sum: number }
}

/** One vhost's view: plain tallies on the hot path, flushed into label-bound children on collect. */
export class HostMetrics {
  private readonly m: Metrics
  private readonly registry: Registry
  private readonly acceptedChild
  private readonly sentChild
  private readonly timeChild
  private readonly retriesChild
  private readonly failedChildren: Record<Reason, { inc(n?: number): void }>
  // Counted since the last flush.
  private nAccepted = 0
  private nSent = 0
  private nRetries = 0
  private readonly nFailed: Record<Reason, number> = Object.fromEntries(REASONS.map((r) => [r, 0])) as Record<Reason, number>
  private readonly flush = () => {
    if (this.nAccepted) this.acceptedChild.inc(this.nAccepted)
    if (this.nSent) this.sentChild.inc(this.nSent)
    if (this.nRetries) this.retriesChild.inc(this.nRetries)
    this.nAccepted = this.nSent = this.nRetries = 0
    for (const reason of REASONS) {
      if (this.nFailed[reason]) this.failedChildren[reason].inc(this.nFailed[reason])
      this.nFailed[reason] = 0
    }
  }

  constructor(
    registry: Registry,
    readonly host: string,
  ) {
    this.m = metricsIn(registry)
    this.registry = registry
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
    this.m.recovered.inc({ host }, 0)
    flushersOf(registry).add(this.flush)
  }

  accepted(): void {
    this.nAccepted++
  }

  sent(seconds: number): void {
    this.nSent++
    this.timeChild.observe(seconds)
  }

  failed(reason: Reason): void {
    this.nFailed[reason]++
  }

  /** One more attempt of a notification after its first. */
  retried(): void {
    this.nRetries++
  }

  /** Pending notifications of a previous run, found when the outbox was opened. */
  recovered(n: number): void {
    if (n > 0) this.m.recovered.inc({ host: this.host }, n)
  }

  /** Publishes this host's per-handler backlog (pending, queue depth, oldest), read on collect. */
  backlog(reader: BacklogReader): void {
    backlogsOf(this.registry).set(this.host, reader)
  }

  breakerState(pool: string): (state: BreakerState) => void {
    const child = this.m.breakerState.labels({ host: this.host, pool })
    child.set(0)
    return (state) => child.set(BREAKER_VALUE[state])
  }

  /** Drops this instance's gauge series (the counters stay: they survive disable and reload). */
  release(reader: BacklogReader | undefined, pools: string[]): void {
    this.flush()
    flushersOf(this.registry).delete(this.flush)
    // A reload's new instance has published its own reader by now: leave that one.
    const backlogs = backlogsOf(this.registry)
    if (reader !== undefined && backlogs.get(this.host) === reader) backlogs.delete(this.host)
    for (const pool of pools) this.m.breakerState.remove({ host: this.host, pool })
  }

  async counts(): Promise<Counts> {
    const host = this.host
    const value = async (metric: Counter<string>) => (await metric.get()).values.find((v) => v.labels.host === host)?.value ?? 0
    const failed = (await this.m.failed.get()).values.filter((v) => v.labels.host === host)
    const by_reason = Object.fromEntries(REASONS.map((r) => [r, failed.find((v) => v.labels.reason === r)?.value ?? 0])) as Record<Reason, number>
    // The histogram's own samples, `<name>_count` and `<name>_sum` (the exposition format's names).
    const { name, values } = await this.m.responseTime.get()
    const hist = values.filter((v) => v.labels.host === host)
    return {
      accepted: await value(this.m.accepted),
      sent: await value(this.m.sent),
      failed: { total: Object.values(by_reason).reduce((a, b) => a + b, 0), by_reason },
      retries: await value(this.m.retries),
      recovered: await value(this.m.recovered),
      response_time: {
        count: hist.find((v) => v.metricName === `${name}_count`)?.value ?? 0,
        sum: hist.find((v) => v.metricName === `${name}_sum`)?.value ?? 0,
      },
    }
  }
}
