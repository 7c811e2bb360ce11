// The outbox: where every accepted notification waits until its outcome is final. Shaped around
// what a deliverer does with work (lease what is due, settle it, hold it for later, fail it for
// good), not around rows, so that a message broker fits behind it as well as a file or memory.
// Handlers and filters never see which backend runs.

/** What is stored of a notification: the event a hook saw, never a built request or a secret. */
export interface StoredEvent {
  event: 'message' | 'presence'
  /** Sender's full JID (presence: the resource that came or went). */
  from: string
  /** The stanza's `to` (the vhost when it had none); presence: the vhost. */
  to: string
  /** Message: its type attribute ("normal" when absent); presence: available | unavailable. */
  type: string
  /** The stanza's id attribute, or null. */
  id: string | null
  /** The first <body>'s text, or null. */
  body: string | null
  /** The recipient's XEP-0359 stanza id (stanza-id.ts), or null; absent in events stored before it existed. */
  stanzaId?: string | null
  /** Milliseconds since the epoch, when the hook ran. */
  time: number
  /** The stanza's XML, kept only for handlers whose callback module builds bodies or headers. */
  stanza: string | null
}

/** One pending notification as a deliverer holds it between lease and decision. */
export interface OutboxEntry {
  /** The backend's handle for this entry (a row id, a stream sequence). */
  readonly key: number
  readonly host: string
  readonly handler: string
  /** Fixed at acceptance; every attempt carries it. */
  readonly webhookId: string
  readonly event: StoredEvent
  /** Attempts made so far: requests that reached the endpoint. */
  attempts: number
  /** When it entered the outbox (ms); max_pending_age counts from here (a replay resets it). */
  readonly acceptedAt: number
  /** When the first and the last attempt ended (ms); undefined until one reached the endpoint. */
  firstAttemptAt?: number
  lastAttemptAt?: number
  /** What the last try came to, reached or not: the endpoint's status, or a short error. */
  lastStatus?: number
  lastError?: string
}

/** What one try came to, carried forward so that a dead letter shows the last one. */
export interface TryRecord {
  /** When it ended (ms). */
  at: number
  /** It reached the endpoint (an attempt). False: it could not connect, which is not an attempt. */
  reached: boolean
  /** The endpoint's answer, if it answered. */
  status?: number
  /** A short summary (error code or name, and message); never headers, a body or a secret. */
  error?: string
}

/** Why a notification failed for good (queue_full is refused before it enters the outbox). */
export type DeadReason = 'status' | 'timeout' | 'connection' | 'callback' | 'expired' | 'shutdown'

/** What fail() records with the dead letter. */
export interface DeadInfo {
  reason: DeadReason
  /** When the outcome became final (ms). */
  failedAt: number
  /** Attempts made in all, when the final try is not in `entry.attempts` yet. */
  attempts?: number
  /** The try that made it final, if one did. */
  last?: TryRecord
  /** Why, when no try did (a callback that threw): a short summary, as TryRecord.error. */
  error?: string
}

export type DeliveryState = 'pending' | 'failed'

/** One notification as `deliveries()` lists it. */
export interface Delivery {
  webhookId: string
  host: string
  handler: string
  state: DeliveryState
  /** The stored event (body and stanza included: the caller decides what to show). */
  event: StoredEvent
  attempts: number
  acceptedAt: number
  firstAttemptAt?: number
  lastAttemptAt?: number
  /** Failed: when, and why. */
  failedAt?: number
  reason?: DeadReason
  /** Of the last try: its status, or its error (failed without a try: the reason's error). */
  status?: number
  error?: string
  /** Pending and not in flight: when it is due (ms). */
  dueAt?: number
  /** Pending and being tried now. */
  inFlight?: boolean
}

export interface DeliveryQuery {
  /** Undefined: both. */
  state?: DeliveryState
  /** ms: pending ones accepted at or after it, failed ones that failed at or after it. */
  since?: number
  /**
   * Sender or recipient (the stored from / to), case-insensitively. A bare JID matches it and any
   * of its resources; a full JID matches that resource only.
   */
  jid?: string
  handler?: string
  /** Default 100. */
  limit?: number
}

/**
 * Dead letters to replay: by webhook-id, or every one that failed (since, of a handler). `live`:
 * the handlers that run; a selected dead letter of another handler (a reload removed it) could
 * never be delivered, so it stays a dead letter and is counted in `noHandler`. Undefined: any.
 */
export type ReplaySelector = ({ ids: readonly string[] } | { failed: true; since?: number; handler?: string }) & { live?: ReadonlySet<string> }

export interface ReplayResult {
  replayed: number
  /** Asked-for ids that are not dead letters of the host (pending, or unknown): left unchanged. */
  notFound: string[]
  /** Selected dead letters left as they are because no handler of their name runs, per handler. */
  noHandler: Array<{ handler: string; count: number }>
}

/** How a notification waits for its next try. */
export interface Later {
  /** ms since the epoch. */
  dueAt: number
  attempts: number
  /** The last try could not connect: due at once when the endpoint is back. */
  unreachable: boolean
  /** What the try that led here came to (kept on the entry: a later dead letter shows it). */
  last?: TryRecord
}

export interface HandlerCounts {
  host: string
  handler: string
  pending: number
}

export interface DeadCounts {
  host: string
  handler: string
  dead: number
}

/** Why add() recorded nothing: the handler's backlog is full, or the engine is away and the buffer for it is full. */
export type AddRefusal = 'queue_full' | 'outbox_unavailable'

/** Whether an outbox on an engine (JetStream) can reach it now. */
export interface EngineState {
  reachable: boolean
  /** Why not, when not. */
  error?: string
}

export interface Outbox {
  /** "sqlite", "memory", …: for the start-up log and the status. */
  readonly backend: string
  /** Where it keeps its data (a file), or a description. */
  readonly location: string
  /**
   * Records a notification. Synchronous and free of I/O (writes are grouped and flushed once per
   * event-loop turn or sooner, or published in the background): the hook calls it. Undefined when
   * recorded; otherwise why nothing was: the handler already has `limit` pending (queue_full), or
   * the engine is away and the memory that waits for it is full (outbox_unavailable).
   */
  add(host: string, handler: string, webhookId: string, event: StoredEvent, limit: number): AddRefusal | undefined
  /** Up to `max` due entries of a handler, oldest due first, each leased to the caller alone. */
  lease(host: string, handler: string, max: number, now: number): Promise<OutboxEntry[]>
  /** The earliest due time of a handler's entries not leased, if any (ms). */
  nextDue(host: string, handler: string): Promise<number | undefined>
  /** Delivered: gone from the outbox. */
  settle(entry: OutboxEntry): void
  /** Not yet: keep it pending until `later.dueAt`. */
  retryLater(entry: OutboxEntry, later: Later): void
  /**
   * Final failure: out of the pending set, kept as a dead letter (same key and webhook-id) with
   * `dead` and what the entry carried of its tries, until replay() or purgeDead().
   */
  fail(entry: OutboxEntry, dead: DeadInfo): void
  /** Gives leased entries back unchanged (their attempt was aborted by a stop). */
  release(entry: OutboxEntry): void
  /** Entries of a handler whose last try could not connect become due now. */
  wakeUnreachable(host: string, handler: string, now: number): void
  /**
   * Moves the not-leased entries of a host that entered before `cutoff` (ms) to the dead letters
   * (reason expired, failed at `now`) and returns them, perhaps in batches (call again until none
   * is returned): the caller counts them failed and does not call fail() for them.
   */
  expire(host: string, cutoff: number, now?: number): Promise<OutboxEntry[]>
  /** Pending entries (leased ones included) of a handler. */
  pending(host: string, handler: string): number
  /** Every handler of a host with entries pending, leased ones included. */
  pendingByHandler(host: string): HandlerCounts[]
  /** When the oldest pending entry of a handler entered the outbox (ms), if any. */
  oldestPending(host: string, handler: string): number | undefined
  /**
   * Pending and/or dead letters of a host, newest first (by acceptedAt, then key), up to
   * `query.limit` (100).
   */
  deliveries(host: string, query: DeliveryQuery): Promise<Delivery[]>
  /**
   * Dead letters back to pending: same key and webhook-id, attempts and tries forgotten, accepted
   * and due at `now` (max_pending_age counts from the replay). max_queue is not checked: the
   * operator asked for them. Pending or unknown ids are left alone and returned in `notFound`.
   * Many are replayed in batches (one transaction each, the event loop turning between two).
   */
  replay(host: string, selector: ReplaySelector, now: number): Promise<ReplayResult>
  /** Removes the dead letters of a host that failed before `cutoff` (ms); returns how many. */
  purgeDead(host: string, cutoff: number): Promise<number>
  /** Dead letters per handler of a host (those with any), from memory. */
  deadByHandler(host: string): DeadCounts[]
  /** Writes what is buffered now. */
  flush(): void
  /**
   * A shared engine's work arrives without this process adding it (another node published it, a
   * delayed redelivery came back): `wake` is called then. Returns the unwatch. Backends that know
   * every due time (nextDue) have none.
   */
  watch?(host: string, handler: string, wake: () => void): () => void
  /** Makes sure what the engine needs for a host's handlers exists as configured (a ConfigError otherwise). */
  prepare?(host: string, handlers: readonly string[]): Promise<void>
  /** An engine's reachability (the status and the dashboard show it); files and memory have none. */
  engineState?(): EngineState
  close(): Promise<void>
}
