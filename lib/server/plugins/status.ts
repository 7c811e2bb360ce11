// What operators see of a plugin on a vhost (admin API, xmppctl, XEP-0133 commands, dashboard):
// its state, its metrics by role (metric-reader.ts: from the registry, so they show while it is
// disabled too), the seed's names for those plugin.json gives one, and its own `status` command's
// details while it runs. Also keeps a short history of sent/failed totals and of what is pending,
// for the charts.
import type { Registry } from 'prom-client'
import type { PluginLoader, PluginState } from './loader.js'
import type { CatalogEntry } from './catalog.js'
import { MetricReader, type Reading, type Readings } from './metric-reader.js'
import { PluginKeyMap } from './plugin-key.js'

export interface SeedValue {
  /** e.g. "[localhost, mod_http_notifications, sent]" */
  name: string
  /** Counters: the total; histograms: how many observations. */
  value: number
  /** Histograms: the mean in milliseconds (null before any observation). */
  mean_ms?: number | null
}

export interface PluginStatus extends PluginState {
  /** The plugin's series on this vhost, by role (sent, failed, retries, response_time, ...). */
  metrics: Readings
  seed: SeedValue[]
  /**
   * Notifications pending on the vhost (pendingOf): the `pending` series while the plugin runs;
   * while it is stopped, what its counters leave. Null for a plugin that counts neither.
   */
  pending: number | null
  /** The plugin's own `status` command while it runs, else null. */
  detail: Record<string, unknown> | null
  history: HistoryPoint[]
}

export interface HistoryPoint {
  /** ms since the epoch */
  t: number
  /** Cumulative totals of the plugin's sent and failed series (by role) at t. */
  sent: number
  failed: number
  /** Pending at t (pendingOf; 0 for a plugin that counts none). */
  pending: number
}

const HISTORY_POINTS = 300 // 10 minutes at one point every 2 s

export class PluginStatusService {
  private readonly history = new PluginKeyMap<HistoryPoint[]>()
  private readonly reader: MetricReader
  private timer: NodeJS.Timeout | undefined

  constructor(
    private readonly loader: PluginLoader,
    registry: Registry,
    private readonly catalog: ReadonlyMap<string, CatalogEntry>,
  ) {
    this.reader = new MetricReader(registry, catalog)
  }

  async status(id?: string, host?: string): Promise<PluginStatus[]> {
    const states = this.loader.list(host).filter((s) => !id || s.id === id)
    return Promise.all(states.map((s) => this.one(s)))
  }

  /** Starts sampling sent/failed totals every `intervalMs` for the charts. */
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
    for (const state of this.loader.list()) {
      const metrics = await this.reader.read(state)
      const list = this.history.get(state) ?? []
      list.push({ t, sent: metrics.sent?.total ?? 0, failed: metrics.failed?.total ?? 0, pending: pendingOf(metrics, state.enabled) ?? 0 })
      if (list.length > HISTORY_POINTS) list.splice(0, list.length - HISTORY_POINTS)
      this.history.set(state, list)
    }
  }

  private async one(state: PluginState): Promise<PluginStatus> {
    const manifest = this.catalog.get(state.id)!.manifest
    const metrics = await this.reader.read(state)
    const seed: SeedValue[] = []
    for (const m of manifest.metrics ?? []) {
      const reading = m.role && metrics[m.role]
      if (m.seed_name && reading) seed.push(seedValue(m.seed_name.replace('Host', state.host), reading))
    }
    let detail: Record<string, unknown> | null = null
    if (state.enabled) {
      try {
        detail = (await this.loader.command(state.id, state.host, 'status')) as Record<string, unknown>
      } catch {
        detail = null // a plugin without a status command
      }
    }
    return { ...state, metrics, seed, pending: pendingOf(metrics, state.enabled), detail, history: this.history.get(state) ?? [] }
  }
}

/**
 * What is pending on a vhost, by role. While the plugin runs: its `pending` gauge. A stopped
 * instance's gauges are gone, but its counters keep their totals and the invariant
 * accepted + recovered + replayed = sent + failed + pending holds within the process, so what they leave is
 * what the outbox still keeps for the vhost (0 for an outbox that counts its losses at stop).
 */
export function pendingOf(metrics: Readings, running: boolean): number | null {
  if (running && metrics.pending) return metrics.pending.total
  const { accepted, sent, failed } = metrics
  if (!accepted || !sent || !failed) return metrics.pending?.total ?? null
  return Math.max(0, accepted.total + (metrics.recovered?.total ?? 0) + (metrics.replayed?.total ?? 0) - sent.total - failed.total)
}

function seedValue(name: string, r: Reading): SeedValue {
  if (r.type !== 'histogram') return { name, value: r.total }
  return { name, value: r.total, mean_ms: r.total ? ((r.sum ?? 0) / r.total) * 1000 : null }
}
