// The operator's view of one vhost's notifications: the admin commands `deliveries` (list
// pending ones and dead letters) and `deliveries-replay` (put dead letters back as pending), as
// plugin.json declares them. The host has checked each argument against that declaration and
// hands them over as strings (times as ISO 8601); what a declaration cannot say is checked here.
import { XMPPD_ERR_COMMAND_ARGS } from '../errors.js'
import type { Delivery, Outbox, ReplayResult, ReplaySelector } from './outbox/outbox.js'

/** A listed notification, times as ISO 8601; the stored event (body, JIDs, type, id) as it was accepted. */
export type ListedDelivery = Omit<Delivery, 'acceptedAt' | 'firstAttemptAt' | 'lastAttemptAt' | 'failedAt' | 'dueAt'> & {
  acceptedAt: string
  firstAttemptAt?: string
  lastAttemptAt?: string
  failedAt?: string
  dueAt?: string
}

export async function listDeliveries(outbox: Outbox, host: string, args: Record<string, string>): Promise<{ items: ListedDelivery[] }> {
  const state = args.state === 'failed' || args.state === 'pending' ? args.state : undefined
  const items = await outbox.deliveries(host, {
    state,
    since: time(args, 'since'),
    jid: args.jid || undefined,
    handler: args.handler || undefined,
    limit: args.limit ? Number(args.limit) : undefined, // the outbox's default
  })
  return { items: items.map(listed) }
}

/** `{ ids }` or `{ failed: "true", since?, handler? }`; never both. Dead letters of a handler not in `live` stay (noHandler). */
export async function replayDeliveries(
  outbox: Outbox,
  host: string,
  args: Record<string, string>,
  now: number,
  live: ReadonlySet<string>,
): Promise<ReplayResult> {
  const ids = (args.ids ?? '').split(/\s+/).filter(Boolean)
  const failed = args.failed === 'true'
  if (ids.length > 0 && failed) throw new XMPPD_ERR_COMMAND_ARGS('ids', 'give either ids or failed, not both')
  if (ids.length > 0 && (args.since || args.handler)) throw new XMPPD_ERR_COMMAND_ARGS('ids', 'since and handler go with failed, not with ids')
  if (ids.length === 0 && !failed) throw new XMPPD_ERR_COMMAND_ARGS('ids', 'give the webhook-ids to replay, or failed = true')
  const selector: ReplaySelector = ids.length > 0 ? { ids, live } : { failed: true, since: time(args, 'since'), handler: args.handler || undefined, live }
  return outbox.replay(host, selector, now)
}

function time(args: Record<string, string>, name: string): number | undefined {
  if (!args[name]) return undefined
  const ms = Date.parse(args[name])
  if (Number.isNaN(ms)) throw new XMPPD_ERR_COMMAND_ARGS(name, `"${args[name]}" is not a time`)
  return ms
}

const iso = (ms: number | undefined) => (ms === undefined ? undefined : new Date(ms).toISOString())

function listed(d: Delivery): ListedDelivery {
  return {
    ...d,
    acceptedAt: iso(d.acceptedAt)!,
    firstAttemptAt: iso(d.firstAttemptAt),
    lastAttemptAt: iso(d.lastAttemptAt),
    failedAt: iso(d.failedAt),
    dueAt: iso(d.dueAt),
  }
}
