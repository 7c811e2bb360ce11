// What the server did to protect itself (issue 14), for the dashboard: the totals of
// xmppd_connections_refused_total{reason}, xmppd_sessions_closed_total{reason} and
// xmppd_auth_throttled_total, read from the registry like /metrics reads them, and how much each
// grew over the last few minutes. These series have no host label: they are server-wide.
// The growth comes from a sample of the three totals every 2 s (like the plugins' charts), kept
// for WINDOW_MS only: a few hundred numbers, not a time series database.
import type { Registry } from 'prom-client'

export interface ProtectionCounter {
  total: number
  /** Growth over the window (over the process's life while it is younger than the window). */
  recent: number
  /** By reason label; empty for a series without one (logins throttled). */
  by: Record<string, number>
}

export interface ProtectionData {
  /** The length of `recent`'s window, seconds. */
  window_s: number
  /** Connections refused at accept: max_connections, max_connections_per_ip. */
  refused: ProtectionCounter
  /** Streams the server closed: limit, timeout, slow_reader, forbidden_input. */
  closed: ProtectionCounter
  /** Failed logins answered after a grown delay. */
  throttled: ProtectionCounter
}

const SERIES = {
  refused: 'xmppd_connections_refused_total',
  closed: 'xmppd_sessions_closed_total',
  throttled: 'xmppd_auth_throttled_total',
} as const
type Kind = keyof typeof SERIES
type Totals = Record<Kind, { total: number; by: Record<string, number> }>

const WINDOW_MS = 5 * 60_000

export class ProtectionStatus {
  /** Oldest first; the first one at or after now - WINDOW_MS is the baseline of `recent`. */
  private readonly samples: Array<{ t: number; totals: Record<Kind, number> }> = []
  private timer: NodeJS.Timeout | undefined

  constructor(private readonly registry: Registry) {}

  async read(): Promise<ProtectionData> {
    const now = await this.totals()
    const since = Date.now() - WINDOW_MS
    const base = this.samples.find((s) => s.t >= since)?.totals
    const counter = (kind: Kind): ProtectionCounter => ({ ...now[kind], recent: Math.max(0, now[kind].total - (base?.[kind] ?? 0)) })
    return { window_s: WINDOW_MS / 1000, refused: counter('refused'), closed: counter('closed'), throttled: counter('throttled') }
  }

  /** Samples the totals every `intervalMs`, dropping what falls out of the window. */
  startSampling(intervalMs = 2000): void {
    const sample = () => void this.sample().catch(() => undefined)
    sample()
    this.timer = setInterval(sample, intervalMs)
    this.timer.unref()
  }

  stopSampling(): void {
    clearInterval(this.timer)
  }

  private async sample(): Promise<void> {
    const t = Date.now()
    const totals = await this.totals()
    this.samples.push({ t, totals: { refused: totals.refused.total, closed: totals.closed.total, throttled: totals.throttled.total } })
    while (this.samples.length > 1 && this.samples[0].t < t - WINDOW_MS) this.samples.shift()
  }

  private async totals(): Promise<Totals> {
    const read = async (kind: Kind) => {
      const metric = this.registry.getSingleMetric(SERIES[kind])
      const values = metric ? (await metric.get()).values : []
      const by: Record<string, number> = {}
      let total = 0
      for (const v of values) {
        total += v.value
        const reason = v.labels.reason
        if (reason !== undefined) by[String(reason)] = (by[String(reason)] ?? 0) + v.value
      }
      return { total, by }
    }
    return { refused: await read('refused'), closed: await read('closed'), throttled: await read('throttled') }
  }
}
