// What operators see of a plugin on a vhost (admin API, xmppctl, XEP-0133 commands, dashboard):
// its state, the metrics its plugin.json lists (read from the registry, so they show while it is
// disabled too, under their seed names where it gives them), and its own `status` command's
// details while it runs. Also keeps a short history of sent/failed totals for the charts.
import type { Registry } from 'prom-client'
import type { PluginLoader, PluginState } from './loader.js'
import type { CatalogEntry } from './catalog.js'

export interface SeedValue {
  /** e.g. "[localhost, mod_http_notifications, sent]" */
  name: string
  /** Counters: the total; histograms: how many observations. */
  value: number
  /** Histograms: the mean in milliseconds (null before any observation). */
  mean_ms?: number | null
}

export interface PluginStatus extends PluginState {
  /** The manifest's metrics for this vhost: a number, or per-label values for labelled series. */
  metrics: Record<string, number | Record<string, number>>
  seed: SeedValue[]
  /** The plugin's own `status` command while it runs, else null. */
  detail: Record<string, unknown> | null
  history: HistoryPoint[]
}

export interface HistoryPoint {
  /** ms since the epoch */
  t: number
  /** Cumulative totals of the plugin's sent/failed counters at t. */
  sent: number
  failed: number
}

const HISTORY_POINTS = 300 // 10 minutes at one point every 2 s

interface SampleValue {
  value: number
  labels: Record<string, string | number>
  metricName?: string
}

export class PluginStatusService {
  private readonly history = new Map<string, HistoryPoint[]>()
  private timer: NodeJS.Timeout | undefined

  constructor(
    private readonly loader: PluginLoader,
    private readonly registry: Registry,
    private readonly catalog: ReadonlyMap<string, CatalogEntry>,
  ) {}

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
      const metrics = await this.metricsOf(state.id, state.host)
      const key = `${state.id}\0${state.host}`
      const list = this.history.get(key) ?? []
      list.push({ t, sent: total(metrics, 'sent'), failed: total(metrics, 'failed') })
      if (list.length > HISTORY_POINTS) list.splice(0, list.length - HISTORY_POINTS)
      this.history.set(key, list)
    }
  }

  private async one(state: PluginState): Promise<PluginStatus> {
    const manifest = this.catalog.get(state.id)!.manifest
    const metrics = await this.metricsOf(state.id, state.host)
    const seed: SeedValue[] = []
    for (const m of manifest.metrics ?? []) {
      if (!m.seed_name) continue
      const name = m.seed_name.replace('Host', state.host)
      if (m.type === 'histogram') {
        const count = metrics[`${m.name}_count`] as number
        const sum = metrics[`${m.name}_sum`] as number
        seed.push({ name, value: count, mean_ms: count ? (sum / count) * 1000 : null })
      } else seed.push({ name, value: sumOf(metrics[m.name]) })
    }
    let detail: Record<string, unknown> | null = null
    if (state.enabled) {
      try {
        detail = (await this.loader.command(state.id, state.host, 'status')) as Record<string, unknown>
      } catch {
        detail = null // a plugin without a status command
      }
    }
    return { ...state, metrics, seed, detail, history: this.history.get(`${state.id}\0${state.host}`) ?? [] }
  }

  private async metricsOf(id: string, host: string): Promise<Record<string, number | Record<string, number>>> {
    const out: Record<string, number | Record<string, number>> = {}
    for (const m of this.catalog.get(id)!.manifest.metrics ?? []) {
      const metric = this.registry.getSingleMetric(m.name)
      if (!metric) continue
      const values = ((await metric.get()).values as SampleValue[]).filter((v) => v.labels.host === host)
      if (m.type === 'histogram') {
        out[`${m.name}_count`] = values.find((v) => v.metricName?.endsWith('_count'))?.value ?? 0
        out[`${m.name}_sum`] = values.find((v) => v.metricName?.endsWith('_sum'))?.value ?? 0
        continue
      }
      const extra = (m.labels ?? []).filter((l) => l !== 'host')
      if (extra.length === 0) out[m.name] = values[0]?.value ?? 0
      else out[m.name] = Object.fromEntries(values.map((v) => [extra.map((l) => String(v.labels[l])).join(','), v.value]))
    }
    return out
  }
}

function sumOf(v: number | Record<string, number> | undefined): number {
  if (v === undefined) return 0
  return typeof v === 'number' ? v : Object.values(v).reduce((a, b) => a + b, 0)
}

/** sent/failed totals by the manifest's naming: the counter whose name contains the word. */
function total(metrics: Record<string, number | Record<string, number>>, word: 'sent' | 'failed'): number {
  const name = Object.keys(metrics).find((n) => n.endsWith(`_${word}_total`))
  return name ? sumOf(metrics[name]) : 0
}
