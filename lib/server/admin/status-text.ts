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

/** A duration in seconds as an operator reads it: 42 s, 12 min, 5 h, 3 d. */
export function age(seconds: number): string {
  if (seconds < 90) return `${Math.round(seconds)} s`
  if (seconds < 90 * 60) return `${Math.round(seconds / 60)} min`
  if (seconds < 36 * 3600) return `${Math.round(seconds / 3600)} h`
  return `${Math.round(seconds / 86400)} d`
}

/** The age of the oldest pending notification over the vhost's handlers (the `oldest_pending` role), if any is pending. */
export function oldestPending(s: PluginStatus): number | undefined {
  const ages = Object.values(s.metrics.oldest_pending?.by ?? {}).filter((v) => v > 0)
  return ages.length ? Math.max(...ages) : undefined
}

/**
 * What of a running plugin's own `status` command (PluginStatus.detail) the text and the
 * dashboard show: the parts no metric holds. Totals come from the metrics, by role.
 */
export interface StatusDetail {
  /** Where its notifications wait: the backend ("sqlite", "memory") and its file, or a description. */
  outbox?: { backend: string; location: string; engine?: { reachable: boolean; error?: string } }
  /** full (an XMPP node) or deliver (an `xmppd deliver` worker). */
  role?: string
  /** False: this node only publishes to the shared outbox (deliver = false). */
  delivering?: boolean
  /** `pending` is bounded by `max_queue`; `queue_depth` is the part of it not in flight. */
  handlers?: Array<{ name: string; url: string; pending?: number; queue_depth: number; max_queue: number; in_flight?: number; dead_letters?: number }>
  /** Handlers a reload removed that still have notifications pending (delivered if one of that name returns, else they expire) or dead letters. */
  orphans?: Array<{ name: string; pending: number; dead_letters?: number }>
  /** Failed notifications kept as dead letters (listable, replayable) over the instance's handlers. */
  dead_letters?: number
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
      if (typeof s.pending === 'number') {
        const oldest = oldestPending(s)
        // Stopped: the counters say what the outbox keeps; it is delivered once the plugin runs again.
        const note = oldest !== undefined ? `, oldest ${age(oldest)}` : !d && s.pending > 0 ? ' (waiting in the outbox until the plugin runs again)' : ''
        lines.push(`  pending: ${s.pending}${note}`)
      }
      if (s.metrics.recovered?.total) lines.push(`  recovered: ${s.metrics.recovered.total} (pending in the outbox when this process opened it)`)
      const dead = s.metrics.dead_letters?.total
      if (dead) lines.push(`  dead letters: ${dead} (xmppctl deliveries list --host ${s.host} --failed; replay with deliveries replay --failed)`)
      if (s.metrics.replayed?.total) lines.push(`  replayed: ${s.metrics.replayed.total}`)
      if (d) {
        if (d.response_time) lines.push(`  response time: p50 ${ms(d.response_time.p50)}, p95 ${ms(d.response_time.p95)}, p99 ${ms(d.response_time.p99)}`)
        if (d.outbox) lines.push(`  outbox: ${outboxText(d)}`)
        for (const h of d.handlers ?? []) {
          const inFlight = typeof h.in_flight === 'number' ? `, ${h.in_flight} in flight` : ''
          const load =
            typeof h.pending === 'number' ? `pending ${h.pending}/${h.max_queue} (${h.queue_depth} queued${inFlight})` : `queue ${h.queue_depth}/${h.max_queue}`
          lines.push(`  handler ${h.name} -> ${h.url}  ${load}`)
        }
        for (const o of d.orphans ?? []) {
          const dead = o.dead_letters ? `${o.dead_letters} dead ${o.dead_letters === 1 ? 'letter' : 'letters'}` : ''
          if (o.pending > 0)
            lines.push(
              `  removed handler ${o.name}: ${o.pending} pending (delivered if a handler of that name returns, else they expire)${dead && `, ${dead}`}`,
            )
          else if (dead) lines.push(`  removed handler ${o.name}: ${dead} (replayable once a handler of that name runs again)`)
        }
        for (const p of d.pools ?? []) lines.push(`  pool ${p.name}: breaker ${p.breaker}, ${p.in_flight}/${p.pool_size} in flight`)
      }
      return lines.join('\n')
    })
    .join('\n\n')
}

/** The outbox line: backend, where, and for an engine whether it is reachable; a node that only publishes says so. */
export function outboxText(d: StatusDetail): string {
  const o = d.outbox!
  const engine = o.engine ? (o.engine.reachable ? ', reachable' : `, UNREACHABLE${o.engine.error ? ` (${o.engine.error})` : ''}`) : ''
  const role = d.role === 'deliver' ? ', delivery worker' : d.delivering === false ? ', publishes only (deliver = false)' : ''
  return `${o.backend}, ${o.location}${engine}${role}`
}
