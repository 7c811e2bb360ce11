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
  /** When it entered the outbox (ms); max_pending_age counts from here. */
  readonly acceptedAt: number
}

/** How a notification waits for its next try. */
export interface Later {
  /** ms since the epoch. */
  dueAt: number
  attempts: number
  /** The last try could not connect: due at once when the endpoint is back. */
  unreachable: boolean
}

export interface HandlerCounts {
  host: string
  handler: string
  pending: number
}

export interface Outbox {
  /** "sqlite", "memory", …: for the start-up log and the status. */
  readonly backend: string
  /** Where it keeps its data (a file), or a description. */
  readonly location: string
  /**
   * Records a notification. Synchronous and free of I/O (writes are grouped and flushed once per
   * event-loop turn or sooner): the hook calls it. False when the handler already has `limit`
   * pending (queue_full); nothing is recorded then.
   */
  add(host: string, handler: string, webhookId: string, event: StoredEvent, limit: number): boolean
  /** Up to `max` due entries of a handler, oldest due first, each leased to the caller alone. */
  lease(host: string, handler: string, max: number, now: number): Promise<OutboxEntry[]>
  /** The earliest due time of a handler's entries not leased, if any (ms). */
  nextDue(host: string, handler: string): Promise<number | undefined>
  /** Delivered: gone from the outbox. */
  settle(entry: OutboxEntry): void
  /** Not yet: keep it pending until `later.dueAt`. */
  retryLater(entry: OutboxEntry, later: Later): void
  /** Final failure: out of the pending set. */
  fail(entry: OutboxEntry): void
  /** Gives leased entries back unchanged (their attempt was aborted by a stop). */
  release(entry: OutboxEntry): void
  /** Entries of a handler whose last try could not connect become due now. */
  wakeUnreachable(host: string, handler: string, now: number): void
  /** Removes and returns the not-leased entries of a host that entered before `cutoff` (ms). */
  expire(host: string, cutoff: number): Promise<OutboxEntry[]>
  /** Pending entries (leased ones included) of a handler. */
  pending(host: string, handler: string): number
  /** Every handler of a host with entries pending, leased ones included. */
  pendingByHandler(host: string): HandlerCounts[]
  /** When the oldest pending entry of a handler entered the outbox (ms), if any. */
  oldestPending(host: string, handler: string): number | undefined
  /** Writes what is buffered now. */
  flush(): void
  close(): Promise<void>
}
