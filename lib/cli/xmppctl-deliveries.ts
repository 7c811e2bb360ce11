// xmppctl deliveries list|replay: a plugin's notifications (dead letters and pending ones) through
// the routes its plugin.json declares (GET .../deliveries, POST .../deliveries/replay). Options
// are checked here for a usage error (exit 2) before anything is sent; `--since` is sent as typed
// and the server resolves a relative time against its own clock.
import { parseTime, TIME_FORMS } from '../server/plugins/time-arg.js'
import { UsageError } from './args.js'

export const DEFAULT_PLUGIN = 'mod_event_pusher_http'
/** The most `--limit` takes: the maximum plugin.json declares for the deliveries command's limit (a spec checks they agree). */
export const LIMIT_MAX = 10_000

export const DELIVERIES_OPTIONS = {
  plugin: { type: 'string' },
  failed: { type: 'boolean' },
  pending: { type: 'boolean' },
  since: { type: 'string' },
  jid: { type: 'string' },
  handler: { type: 'string' },
  limit: { type: 'string' },
  id: { type: 'string', multiple: true },
} as const

export const DELIVERIES_HELP: Record<string, string> = {
  deliveries: `usage: xmppctl deliveries list|replay ...

  deliveries list --host H [--failed | --pending] [--since TIME] [--jid JID] [--handler NAME] [--limit N]
                                            notifications kept by the plugin, newest first
  deliveries replay --host H (--id WEBHOOK_ID ... | --failed [--since TIME] [--handler NAME])
                                            put dead letters back as pending (same webhook-ids)
Run "xmppctl deliveries COMMAND --help" for one of them, "xmppctl --help" for the common options.`,
  'deliveries list': `usage: xmppctl deliveries list --host H [--failed | --pending] [--since TIME] [--jid JID] [--handler NAME] [--limit N] [--plugin ID] [--json]
Lists the notifications the plugin keeps on vhost H, newest first (by acceptance time): dead letters
(--failed), pending ones (--pending), or both. One line each: webhook-id, handler, sender -> recipient, state,
last status or error, attempts, times. --json prints the plugin's answer as is (with the bodies).
  --since TIME     pending ones accepted since, dead letters failed since: ${TIME_FORMS};
                   a time without an offset is UTC
  --jid JID        sender or recipient, bare or full
  --handler NAME   one handler's
  --limit N        at most N, from 1 to ${LIMIT_MAX} (the plugin's default: 100)
  --plugin ID      the plugin to ask (default ${DEFAULT_PLUGIN})`,
  'deliveries replay': `usage: xmppctl deliveries replay --host H (--id WEBHOOK_ID ... | --failed [--since TIME] [--handler NAME]) [--plugin ID] [--json]
Puts dead letters back as pending: each keeps its webhook-id, its attempts start again from zero. Prints how
many were replayed, each --id that was not a dead letter (nothing changed for it), and how many dead letters
were left because no handler of their name runs (a reload removed it).
  --id WEBHOOK_ID  a dead letter to replay; repeat for several
  --failed         every dead letter (of --handler NAME, failed since --since TIME: ${TIME_FORMS})
  --plugin ID      the plugin to ask (default ${DEFAULT_PLUGIN})`,
}

type Values = {
  [K in keyof typeof DELIVERIES_OPTIONS]?: (typeof DELIVERIES_OPTIONS)[K] extends { multiple: true }
    ? string[]
    : K extends 'failed' | 'pending'
      ? boolean
      : string
}

export interface DeliveriesRequest {
  method: 'GET' | 'POST'
  route: string
  body?: Record<string, unknown>
  human(body: any): string
}

/** Refuses deliveries options on the other commands (they would be ignored silently). */
export function refuseDeliveriesOptions(name: string, values: Values): void {
  const given = Object.keys(DELIVERIES_OPTIONS).filter((k) => values[k as keyof Values] !== undefined)
  if (given.length) throw new UsageError(`--${given[0]} is an option of deliveries list|replay, not of ${name}`, `xmppctl ${name} --help`)
}

export function deliveriesRequest(action: 'list' | 'replay', host: string | undefined, values: Values): DeliveriesRequest {
  const usage = (message: string) => new UsageError(message, `xmppctl deliveries ${action} --help`)
  const only = (names: Array<keyof Values>, why: string) => {
    for (const n of names) if (values[n] !== undefined) throw usage(`--${n} ${why}`)
  }
  if (!host) throw usage(`deliveries ${action} needs --host`)
  if (values.since !== undefined) {
    const at = parseTime(values.since, Date.now())
    if (at instanceof Error) throw usage(`--since: ${at.message}`)
  }
  const base = `/api/hosts/${encodeURIComponent(host)}/plugins/${encodeURIComponent(values.plugin ?? DEFAULT_PLUGIN)}/deliveries`
  if (action === 'list') {
    only(['id'], 'is an option of deliveries replay')
    if (values.failed && values.pending) throw usage('--failed and --pending exclude each other (neither lists both)')
    if (values.limit !== undefined && !(/^[1-9]\d{0,4}$/.test(values.limit) && Number(values.limit) <= LIMIT_MAX))
      throw usage(`--limit: a whole number from 1 to ${LIMIT_MAX}, not "${values.limit}"`)
    const query = new URLSearchParams()
    if (values.failed || values.pending) query.set('state', values.failed ? 'failed' : 'pending')
    for (const k of ['since', 'jid', 'handler', 'limit'] as const) if (values[k] !== undefined) query.set(k, values[k])
    const q = query.toString()
    return { method: 'GET', route: q ? `${base}?${q}` : base, human: (b) => formatDeliveries(itemsOf(b)) }
  }
  only(['pending', 'jid', 'limit'], 'is an option of deliveries list')
  const ids = values.id ?? []
  if (ids.length && values.failed) throw usage('give --id WEBHOOK_ID ... or --failed, not both')
  if (!ids.length && !values.failed) throw usage('deliveries replay needs --id WEBHOOK_ID ... or --failed')
  if (ids.length) only(['since', 'handler'], 'goes with --failed, not with --id')
  if (ids.some((id) => !/^\S+$/.test(id))) throw usage('--id: a webhook-id has no spaces')
  const body = ids.length ? { ids } : { failed: true, ...(values.since && { since: values.since }), ...(values.handler && { handler: values.handler }) }
  return { method: 'POST', route: `${base}/replay`, body, human: formatReplay }
}

/** The plugin answers `{ items: [...] }`; a bare array is taken too. */
function itemsOf(body: any): Delivery[] {
  return Array.isArray(body) ? body : Array.isArray(body?.items) ? body.items : []
}

/** What xmppctl shows of a delivery; every field may be missing. */
export interface Delivery {
  webhookId?: string
  handler?: string
  state?: string
  event?: { from?: string; to?: string; body?: string; type?: string; id?: string; time?: string | number }
  attempts?: number
  acceptedAt?: string | number
  firstAttemptAt?: string | number
  lastAttemptAt?: string | number
  failedAt?: string | number
  dueAt?: string | number
  reason?: string
  status?: number | string
  error?: string
}

const TIMES = [
  ['accepted', 'acceptedAt'],
  ['first try', 'firstAttemptAt'],
  ['last try', 'lastAttemptAt'],
  ['failed', 'failedAt'],
  ['due', 'dueAt'],
] as const

/** A time as ISO 8601 to the second, whether the plugin gave milliseconds or a string. */
function when(t: string | number): string {
  const d = new Date(t)
  return Number.isNaN(d.getTime()) ? String(t) : d.toISOString().replace(/\.\d{3}Z$/, 'Z')
}

const oneLine = (s: unknown) => String(s).replace(/\s+/g, ' ').trim()

/** One aligned line per delivery: webhook-id, handler, sender → recipient, state, last status or error, attempts, times. */
export function formatDeliveries(items: Delivery[]): string {
  if (items.length === 0) return 'no deliveries'
  const rows = items.map((d) => {
    const last = d.status !== undefined && d.status !== null ? `HTTP ${d.status}` : d.error ? oneLine(d.error) : '-'
    const times = TIMES.filter(([, k]) => d[k] !== undefined && d[k] !== null).map(([label, k]) => `${label} ${when(d[k]!)}`)
    return [
      d.webhookId ?? '-',
      d.handler ?? '-',
      `${d.event?.from ?? '?'} → ${d.event?.to ?? '?'}`,
      `${d.state ?? '-'}${d.reason ? ` (${d.reason})` : ''}`,
      last,
      `${d.attempts ?? 0} ${d.attempts === 1 ? 'attempt' : 'attempts'}`,
      times.join(', '),
    ]
  })
  const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => r[i].length)))
  return rows
    .map((r) =>
      r
        .map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i])))
        .join('  ')
        .trimEnd(),
    )
    .join('\n')
}

export function formatReplay(body: { replayed?: number; notFound?: string[]; noHandler?: Array<{ handler: string; count: number }> }): string {
  const lines = [`replayed ${body?.replayed ?? 0}`]
  for (const id of body?.notFound ?? []) lines.push(`  not a dead letter, nothing changed: ${id}`)
  for (const { handler, count } of body?.noHandler ?? [])
    lines.push(`  no handler ${handler} runs (a reload removed it): ${count} left as dead letters, replayable once it runs again`)
  return lines.join('\n')
}
