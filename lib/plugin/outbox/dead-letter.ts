// What every backend does the same way with dead letters and listings: carry a try's outcome on
// its entry, turn an entry into a dead letter, match a listing's query. One place, so that a
// listing means the same whichever backend runs.
import type { DeadInfo, DeadReason, Delivery, DeliveryQuery, OutboxEntry, ReplayResult, StoredEvent, TryRecord } from './outbox.js'

/** A listing's length when the query gives none. */
export const DEFAULT_LIMIT = 100

/** Errors are summaries: a stored one is cut here, so that a huge message cannot bloat the file. */
const ERROR_MAX = 300

/** A dead letter as a backend keeps it (the key orders a listing; it is not listed). */
export interface DeadLetter {
  key: number
  webhookId: string
  host: string
  handler: string
  event: StoredEvent
  attempts: number
  acceptedAt: number
  firstAttemptAt?: number
  lastAttemptAt?: number
  failedAt: number
  reason: DeadReason
  status?: number
  error?: string
}

export const shortError = (error: string | undefined) => (error === undefined || error.length <= ERROR_MAX ? error : `${error.slice(0, ERROR_MAX - 1)}…`)

/** An error as a dead letter shows it: its code (or name) and message, short. */
export function errorText(err: unknown): string | undefined {
  if (err === undefined || err === null) return undefined
  if (!(err instanceof Error)) return shortError(String(err))
  return shortError(`${(err as { code?: string }).code ?? err.name}: ${err.message}`)
}

/** Records a try on its entry: attempt times for one that reached the endpoint, status and error for any. */
export function applyTry(entry: OutboxEntry, t: TryRecord | undefined): void {
  if (!t) return
  if (t.reached) {
    entry.firstAttemptAt ??= t.at
    entry.lastAttemptAt = t.at
  }
  entry.lastStatus = t.status
  entry.lastError = shortError(t.error)
}

export function deadLetterOf(entry: OutboxEntry, dead: DeadInfo): DeadLetter {
  applyTry(entry, dead.last)
  if (dead.attempts !== undefined) entry.attempts = dead.attempts
  // A failure without a try (a callback that threw) says why in `error`; otherwise the last try's.
  const error = dead.last ? entry.lastError : (shortError(dead.error) ?? entry.lastError)
  return {
    key: entry.key,
    webhookId: entry.webhookId,
    host: entry.host,
    handler: entry.handler,
    event: entry.event,
    attempts: entry.attempts,
    acceptedAt: entry.acceptedAt,
    firstAttemptAt: entry.firstAttemptAt,
    lastAttemptAt: entry.lastAttemptAt,
    failedAt: dead.failedAt,
    reason: dead.reason,
    status: entry.lastStatus,
    error,
  }
}

/** A listing's item with what orders it. */
export interface Listed {
  acceptedAt: number
  key: number
  item: Delivery
}

export function listedDead(d: DeadLetter): Listed {
  const { key, ...rest } = d
  return { acceptedAt: d.acceptedAt, key, item: { ...rest, state: 'failed' } }
}

/** `dueAt` undefined: in flight. */
export function listedPending(e: OutboxEntry, dueAt: number | undefined): Listed {
  const item: Delivery = {
    webhookId: e.webhookId,
    host: e.host,
    handler: e.handler,
    state: 'pending',
    event: e.event,
    attempts: e.attempts,
    acceptedAt: e.acceptedAt,
    firstAttemptAt: e.firstAttemptAt,
    lastAttemptAt: e.lastAttemptAt,
    status: e.lastStatus,
    error: e.lastError,
    ...(dueAt === undefined ? { inFlight: true } : { dueAt }),
  }
  return { acceptedAt: e.acceptedAt, key: e.key, item }
}

/** The newest `limit` of what was found (pending and dead letters, each already cut to `limit`). */
export const newestOf = (found: Listed[], limit: number): Delivery[] =>
  found
    .sort(newestFirst)
    .slice(0, limit)
    .map((f) => f.item)

/** The `jid` filter of a query as a test on a stored from / to; undefined: no filter. */
export function jidMatcher(jid: string | undefined): ((event: StoredEvent) => boolean) | undefined {
  if (jid === undefined) return undefined
  const q = jid.toLowerCase()
  const bare = !q.includes('/')
  const one = (stored: string) => {
    const s = stored.toLowerCase()
    return s === q || (bare && s.length > q.length && s.startsWith(q) && s[q.length] === '/')
  }
  return (e) => one(e.from) || one(e.to)
}

/** Newest first: by acceptedAt, then key. */
export const newestFirst = (a: { acceptedAt: number; key: number }, b: { acceptedAt: number; key: number }) => b.acceptedAt - a.acceptedAt || b.key - a.key

export const limitOf = (query: DeliveryQuery) => query.limit ?? DEFAULT_LIMIT

/** Lets the event loop turn (I/O, timers) between two batches of a long operation. */
export const nextTurn = () => new Promise<void>((resolve) => setImmediate(resolve))

/** A replay's result, put together batch after batch. */
export class ReplayTally {
  private replayed = 0
  private readonly notFound: string[] = []
  private readonly left = new Map<string, number>()

  /** `live`: the handlers that run (undefined: any). */
  constructor(private readonly live: ReadonlySet<string> | undefined) {}

  /** Of a batch of selected dead letters, those to replay: of a handler that runs. The others stay, counted per handler. */
  take<T extends { handler: string }>(batch: { rows: T[]; notFound: string[] }): T[] {
    this.notFound.push(...batch.notFound)
    const out: T[] = []
    for (const d of batch.rows) {
      if (!this.live || this.live.has(d.handler)) out.push(d)
      else this.left.set(d.handler, (this.left.get(d.handler) ?? 0) + 1)
    }
    this.replayed += out.length
    return out
  }

  result(): ReplayResult {
    return { replayed: this.replayed, notFound: this.notFound, noHandler: [...this.left].map(([handler, count]) => ({ handler, count })) }
  }
}
