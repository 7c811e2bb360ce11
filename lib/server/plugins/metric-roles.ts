// What each series a plugin lists in plugin.json ("metrics") means to the host: its `role`. The
// host reads values by role (metric-reader.ts), never by guessing from a name's suffix, so a
// plugin may name its series as it likes. The roles are the product's vocabulary (DESIGN.md's
// accounting: accepted + recovered + replayed = sent + failed + pending); a series that fits none
// of them is listed without a role: it is scraped from /metrics like any other, and the host's
// status, xmppctl and the dashboard leave it out.
import { Ajv } from 'ajv'

export const METRIC_ROLES = [
  /** Counter: notifications the filter took. */
  'accepted',
  /** Counter: delivered (the endpoint answered with success). */
  'sent',
  /** Counter: ended without delivery; an extra label (e.g. `reason`) splits it. */
  'failed',
  /** Counter: attempts after a notification's first. */
  'retries',
  /** Histogram (seconds): how long sent requests took. */
  'response_time',
  /** Gauge: waiting in a queue, per handler. */
  'queue_depth',
  /** Gauge: circuit breaker per pool, 0 closed, 0.5 half-open, 1 open. */
  'breaker_state',
  /** Gauge: accepted and not yet sent or failed (durable outbox), per handler. */
  'pending',
  /** Gauge (seconds): age of the oldest pending notification, per handler. */
  'oldest_pending',
  /** Counter: pending notifications taken over from a previous run. */
  'recovered',
  /** Gauge: failed notifications kept for replay, per handler. */
  'dead_letters',
  /** Counter: dead letters queued again by an operator. */
  'replayed',
  /** Counter: dead letters dropped after their retention. */
  'dead_letters_purged',
] as const

export type MetricRole = (typeof METRIC_ROLES)[number]

export interface ManifestMetric {
  name: string
  type: 'counter' | 'gauge' | 'histogram'
  /** `host` first; any further label splits the series (a reading's `by`). */
  labels: string[]
  help?: string
  role?: MetricRole
  /** MongooseIM's name, e.g. "[Host, mod_http_notifications, sent]". */
  seed_name?: string
}

const validateMetrics = new Ajv({ allErrors: true, strict: false }).compile({
  type: 'array',
  items: {
    type: 'object',
    required: ['name', 'type', 'labels'],
    properties: {
      name: { type: 'string', pattern: '^[a-zA-Z_:][a-zA-Z0-9_:]*$' },
      type: { enum: ['counter', 'gauge', 'histogram'] },
      labels: { type: 'array', items: { type: 'string' }, uniqueItems: true },
      help: { type: 'string' },
      role: { enum: [...METRIC_ROLES] },
      seed_name: { type: 'string' },
    },
  },
})

/** Checks a manifest's `metrics` list; the error names the file and the entry. */
export function checkManifestMetrics(file: string, metrics: unknown): ManifestMetric[] {
  if (metrics === undefined) return []
  if (!validateMetrics(metrics)) {
    const e = validateMetrics.errors![0]
    const allowed = e.keyword === 'enum' ? ` (${(e.params as { allowedValues: string[] }).allowedValues.join(', ')})` : ''
    throw new Error(`${file}: metrics${e.instancePath.replace(/\/(\d+)/g, '[$1]').replace(/\//g, '.')} ${e.message}${allowed}`)
  }
  const list = metrics as ManifestMetric[]
  const seen = new Set<string>()
  for (const [i, m] of list.entries()) {
    // The host reads each vhost's values by this label.
    if (!m.labels.includes('host')) throw new Error(`${file}: metrics[${i}].labels: must include "host"`)
    if (!m.role) continue
    if (seen.has(m.role)) throw new Error(`${file}: metrics[${i}].role: "${m.role}" is already the role of another series`)
    seen.add(m.role)
  }
  return list
}
