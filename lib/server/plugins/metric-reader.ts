// The host's one reader of plugin metrics: for one plugin on one vhost, the value of each series
// its plugin.json lists with a role (metric-roles.ts), keyed by that role. It reads the server's
// registry, not a running instance, so it answers for vhosts where the plugin is disabled too:
// counters keep their totals there, gauges of a stopped instance are gone (0). The status service
// builds every status from it; the admin API, xmppctl and the dashboard read those statuses.
import type { Registry } from 'prom-client'
import type { CatalogEntry } from './catalog.js'
import type { ManifestMetric, MetricRole } from './metric-roles.js'
import type { PluginKey } from './plugin-key.js'

export interface Reading {
  /** The Prometheus series, as plugin.json names it. */
  name: string
  type: ManifestMetric['type']
  /** Counters and gauges: the value, summed over the labels besides `host`; histograms: the number of observations. */
  total: number
  /**
   * When the series has labels besides `host` (failed by `reason`, queue depth by `handler`):
   * the value per label value (several labels: their values joined with ","); histograms: counts.
   */
  by?: Record<string, number>
  /** Histograms: the sum of the observations (seconds for response_time). */
  sum?: number
}

/** A plugin's readings on one vhost. A role is absent when the plugin has no such series, or has not registered it yet (it never started). */
export type Readings = Partial<Record<MetricRole, Reading>>

interface Sample {
  value: number
  labels: Record<string, string | number | undefined>
  metricName?: string
}

export class MetricReader {
  constructor(
    private readonly registry: Registry,
    private readonly catalog: ReadonlyMap<string, CatalogEntry>,
  ) {}

  async read({ id, host }: PluginKey): Promise<Readings> {
    const out: Readings = {}
    for (const m of this.catalog.get(id)?.manifest.metrics ?? []) {
      if (!m.role) continue
      // A plugin registers its series when it first starts, on any vhost.
      const metric = this.registry.getSingleMetric(m.name)
      if (!metric) continue
      const data = await metric.get()
      const samples = (data.values as Sample[]).filter((v) => v.labels.host === host)
      const extra = m.labels.filter((l) => l !== 'host')
      out[m.role] = m.type === 'histogram' ? histogram(m, data.name, samples, extra) : plain(m, samples, extra)
    }
    return out
  }
}

const labelKey = (sample: Sample, extra: string[]) => extra.map((l) => String(sample.labels[l])).join(',')

function plain(m: ManifestMetric, samples: Sample[], extra: string[]): Reading {
  const total = samples.reduce((a, s) => a + s.value, 0)
  if (extra.length === 0) return { name: m.name, type: m.type, total }
  return { name: m.name, type: m.type, total, by: Object.fromEntries(samples.map((s) => [labelKey(s, extra), s.value])) }
}

/** A histogram's samples are its buckets, `<name>_sum` and `<name>_count` (the exposition format's own names). */
function histogram(m: ManifestMetric, name: string, samples: Sample[], extra: string[]): Reading {
  const counts = samples.filter((s) => s.metricName === `${name}_count`)
  const sums = samples.filter((s) => s.metricName === `${name}_sum`)
  const reading: Reading = {
    name: m.name,
    type: m.type,
    total: counts.reduce((a, s) => a + s.value, 0),
    sum: sums.reduce((a, s) => a + s.value, 0),
  }
  if (extra.length) reading.by = Object.fromEntries(counts.map((s) => [labelKey(s, extra), s.value]))
  return reading
}
