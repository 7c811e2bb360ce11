// One vhost's view of the plugin's metrics (metric-series.ts): the per-packet counts (accepted,
// sent, failed, retries) are plain numbers on the hot path, flushed into label-bound children
// when prom-client collects (a scrape, a status read): a labelled inc() hashes its labels on
// every call, which cost more than the rest of the hook.
import type { Counter, Registry } from 'prom-client'
import {
  backlogsOf,
  BREAKER_VALUE,
  flushersOf,
  metricsIn,
  ownersOf,
  REASONS,
  zeroOnce,
  type BacklogReader,
  type BreakerState,
  type Metrics,
  type Reason,
} from './metric-series.js'

export { METRIC_HELP, REASONS, type BacklogReader, type BreakerState, type HandlerBacklog, type Reason } from './metric-series.js'

export interface Counts {
  accepted: number
  sent: number
  failed: { total: number; by_reason: Record<Reason, number> }
  retries: number
  recovered: number
  replayed: number
  purged: number
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
    this.m.replayed.inc({ host }, 0)
    this.m.purged.inc({ host }, 0)
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

  /** Dead letters an operator put back as pending. */
  replayed(n: number): void {
    if (n > 0) this.m.replayed.inc({ host: this.host }, n)
  }

  /** Dead letters removed after their retention. */
  purged(n: number): void {
    if (n > 0) this.m.purged.inc({ host: this.host }, n)
  }

  /** Publishes this host's per-handler backlog (pending, queue depth, oldest), read on collect. */
  backlog(reader: BacklogReader): void {
    backlogsOf(this.registry).set(this.host, reader)
  }

  breakerState(pool: string): (state: BreakerState) => void {
    const child = this.m.breakerState.labels({ host: this.host, pool })
    child.set(0)
    ownersOf(this.registry).set(`${this.host}\0${pool}`, this)
    return (state) => child.set(BREAKER_VALUE[state])
  }

  /** Drops this instance's gauge series (the counters stay: they survive disable and reload). */
  release(reader: BacklogReader | undefined, pools: string[]): void {
    this.flush()
    flushersOf(this.registry).delete(this.flush)
    // A reload's new instance has published its own reader by now: leave that one.
    const backlogs = backlogsOf(this.registry)
    if (reader !== undefined && backlogs.get(this.host) === reader) backlogs.delete(this.host)
    const owners = ownersOf(this.registry)
    for (const pool of pools) {
      if (owners.get(`${this.host}\0${pool}`) !== this) continue
      owners.delete(`${this.host}\0${pool}`)
      this.m.breakerState.remove({ host: this.host, pool })
    }
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
      replayed: await value(this.m.replayed),
      purged: await value(this.m.purged),
      response_time: {
        count: hist.find((v) => v.metricName === `${name}_count`)?.value ?? 0,
        sum: hist.find((v) => v.metricName === `${name}_sum`)?.value ?? 0,
      },
    }
  }
}
