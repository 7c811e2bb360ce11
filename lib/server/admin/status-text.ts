// Plugin states and statuses as plain text, for xmppctl and the XMPP admin commands.
import type { PluginState } from '../plugins/loader.js'
import type { PluginStatus } from '../plugins/status.js'

function table(rows: string[][]): string {
  const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => r[i].length)))
  return rows.map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]))).join('  ')).join('\n')
}

export function formatList(plugins: PluginState[]): string {
  if (plugins.length === 0) return 'no plugins'
  return table([
    ['PLUGIN', 'VERSION', 'HOST', 'STATE', 'SOURCE'],
    ...plugins.map((p) => [p.id, p.version, p.host, p.enabled ? 'enabled' : 'disabled', p.source]),
  ])
}

const ms = (seconds: number | null | undefined) => (typeof seconds === 'number' ? `${(seconds * 1000).toFixed(1)} ms` : '-')

/** The seed's bracket names and values, one vhost after another. */
export function formatSeed(statuses: PluginStatus[]): string {
  const rows: string[][] = []
  for (const s of statuses) {
    for (const seed of s.seed) {
      const value = seed.mean_ms === undefined ? String(seed.value) : `${seed.value} (mean ${seed.mean_ms === null ? '-' : `${seed.mean_ms.toFixed(1)} ms`})`
      rows.push([seed.name, value])
    }
  }
  return rows.length ? table(rows) : 'no metrics'
}

/**
 * What of a running plugin's own `status` command (PluginStatus.detail) the text and the
 * dashboard show: the parts no metric holds. Totals come from the metrics, by role.
 */
export interface StatusDetail {
  handlers?: Array<{ name: string; url: string; queue_depth: number; max_queue: number; in_flight?: number; retrying?: number }>
  pools?: Array<{ name: string; breaker: string; in_flight: number; pool_size: number }>
  /** Percentiles (seconds) over the recent sent requests of the running instance. */
  response_time?: { p50?: number | null; p95?: number | null; p99?: number | null }
}

export function formatStatus(statuses: PluginStatus[]): string {
  return statuses
    .map((s) => {
      const lines = [`${s.id} on ${s.host}: ${s.enabled ? 'enabled' : 'disabled'} (${s.source})`]
      for (const line of formatSeed([s]).split('\n')) lines.push(`  ${line}`)
      // From the registry, by role: there while the plugin is disabled too.
      const reasons = Object.entries(s.metrics.failed?.by ?? {}).filter(([, n]) => n > 0)
      if (reasons.length) lines.push(`  failed by reason: ${reasons.map(([r, n]) => `${r} ${n}`).join(', ')}`)
      if (s.metrics.retries) lines.push(`  retries: ${s.metrics.retries.total}`)
      const d = s.detail as StatusDetail | null
      if (d) {
        if (d.response_time) lines.push(`  response time: p50 ${ms(d.response_time.p50)}, p95 ${ms(d.response_time.p95)}, p99 ${ms(d.response_time.p99)}`)
        for (const h of d.handlers ?? []) {
          // Notifications between two attempts: a retry's wait, or due and waiting for a slot.
          const retrying = typeof h.retrying === 'number' ? `, retrying ${h.retrying}` : ''
          lines.push(`  handler ${h.name} -> ${h.url}  queue ${h.queue_depth}/${h.max_queue}${retrying}`)
        }
        for (const p of d.pools ?? []) lines.push(`  pool ${p.name}: breaker ${p.breaker}, ${p.in_flight}/${p.pool_size} in flight`)
      }
      return lines.join('\n')
    })
    .join('\n\n')
}
