// The plugin's series, registered once per registry (the server's, never prom-client's global
// one) and shared by every vhost, stop/start and reload (metrics.ts binds one vhost's labels).
// The per-handler gauges (pending, queue depth, oldest pending) are read from each host's
// backlog reader when prom-client collects.
import { Counter, Gauge, Histogram, type Registry } from 'prom-client'

// outbox_unavailable: the JetStream outbox's publish_buffer was full while nats-server was away.
export const REASONS = ['status', 'timeout', 'connection', 'queue_full', 'callback', 'expired', 'shutdown', 'outbox_unavailable'] as const
export type Reason = (typeof REASONS)[number]

export type BreakerState = 'closed' | 'half-open' | 'open'
export const BREAKER_VALUE: Record<BreakerState, number> = { closed: 0, 'half-open': 0.5, open: 1 }

// Keep in step with plugin.json "metrics" (a spec compares them).
export const METRIC_HELP = {
  accepted: 'Notifications the filter accepted (packets x handlers). At any quiet moment: accepted + recovered + replayed = sent + failed + pending.',
  sent: 'Notifications the endpoint answered with a 2xx status. Seed name: [Host, mod_http_notifications, sent].',
  failed:
    'Notifications whose outcome is final without delivery, by reason: status, timeout, connection, queue_full, callback, expired, shutdown, outbox_unavailable. Seed name: [Host, mod_http_notifications, failed].',
  responseTime: 'Response time of sent notifications only. Seed name: [Host, mod_http_notifications, response_time].',
  retries: "Attempts of a notification after its first (an attempt reached the endpoint; an unreachable endpoint's wait is not one).",
  queueDepth: 'Pending notifications of a handler waiting for a try (pending minus those in flight).',
  breakerState: 'Circuit breaker state per pool: 0 closed, 0.5 half-open, 1 open.',
  pending: 'Notifications in the outbox: accepted or recovered, not yet sent or failed (handlers a reload removed included).',
  oldestPending: 'Age of the oldest pending notification of a handler, in seconds.',
  recovered: "Pending notifications found in the outbox when this process opened it (a previous run's), counted once per host.",
  deadLetters: 'Failed notifications kept for inspection and replay (dead letters), per handler, until dead_letter_retention.',
  replayed: 'Dead letters put back as pending by an operator (deliveries-replay).',
  purged: 'Dead letters removed after dead_letter_retention.',
} as const

const BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30]

export interface Metrics {
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
  deadLetters: Gauge<'host' | 'handler'>
  replayed: Counter<'host'>
  purged: Counter<'host'>
}

/** A handler's outbox gauges as one host's instance reads them. */
export interface HandlerBacklog {
  handler: string
  pending: number
  /** Pending and not in flight. */
  queued: number
  /** Dead letters kept. */
  dead: number
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
const OWNERS = Symbol.for('mod_event_pusher_http.owners')
type Holder = { [FLUSHERS]?: Set<() => void>; [BACKLOGS]?: Map<string, BacklogReader>; [OWNERS]?: Map<string, object> }
export const flushersOf = (registry: Registry) => ((registry as unknown as Holder)[FLUSHERS] ??= new Set())
export const backlogsOf = (registry: Registry) => ((registry as unknown as Holder)[BACKLOGS] ??= new Map())
/** Which instance last set a labelled gauge series (`host\0pool`): a reload's old instance must not remove the new one's. */
export const ownersOf = (registry: Registry) => ((registry as unknown as Holder)[OWNERS] ??= new Map())

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

export function metricsIn(registry: Registry): Metrics {
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
      deadLetters: reuse(
        registry,
        'mod_http_notifications_dead_letters',
        Gauge,
        () =>
          new Gauge({
            name: 'mod_http_notifications_dead_letters',
            help: METRIC_HELP.deadLetters,
            labelNames: ['host', 'handler'],
            registers,
            collect() {
              collectBacklog(this, registry, (_, b) => b.dead)
            },
          }),
      ),
      replayed: reuse(
        registry,
        'mod_http_notifications_replayed_total',
        Counter,
        () => new Counter({ name: 'mod_http_notifications_replayed_total', help: METRIC_HELP.replayed, labelNames: ['host'], registers }),
      ),
      purged: reuse(
        registry,
        'mod_http_notifications_dead_letters_purged_total',
        Counter,
        () => new Counter({ name: 'mod_http_notifications_dead_letters_purged_total', help: METRIC_HELP.purged, labelNames: ['host'], registers }),
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

export function zeroOnce(histogram: Histogram<'host'>, host: string): void {
  const holder = histogram as unknown as { [ZEROED]?: Set<string> }
  const zeroed = (holder[ZEROED] ??= new Set())
  if (zeroed.has(host)) return
  histogram.zero({ host })
  zeroed.add(host)
}
