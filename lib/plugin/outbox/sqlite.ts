// outbox = "sqlite" (the default): one better-sqlite3 file per node, in WAL mode, held with an
// exclusive lock so that a second process on the same data dir gets a clear error instead of a
// share. The hook's add() only appends to a batch; the batch is written in one transaction per
// event-loop turn, or as soon as the task that accepted it ends once the batch is 5 ms old (a
// long turn, a burst), so a kill -9 loses at most a few milliseconds of accepted notifications.
// Reads that decide delivery (lease, nextDue, expire) flush first. The entries this process added
// and has not leased yet are also kept in memory (a bounded number per handler), so that the
// steady state leases them without reading back what it just wrote: SQL leases only when an
// older or retried row may be due. Dead letters are rows of their own table (sqlite-file.ts);
// their counts per handler are kept in memory as the pending ones are.
import type Database from 'better-sqlite3'
import { Counts } from './counts.js'
import { applyTry, deadLetterOf, limitOf, listedDead, listedPending, newestOf, nextTurn, ReplayTally, type Listed } from './dead-letter.js'
import { fileError } from './file-error.js'
import { WriteBatch } from './sqlite-batch.js'
import { DeadQueries } from './sqlite-dead.js'
import { contents, entryOf, open, statements, triesOf, type Row, type Statements } from './sqlite-file.js'
import type {
  AddRefusal,
  DeadCounts,
  DeadInfo,
  Delivery,
  DeliveryQuery,
  HandlerCounts,
  Later,
  Outbox,
  OutboxEntry,
  ReplayResult,
  ReplaySelector,
  StoredEvent,
} from './outbox.js'

export { OutboxFileError } from './file-error.js'

/** Fresh entries kept in memory per handler; beyond it they are read back from the file. */
const FRESH_PER_LANE = 1000

/** Dead letters purged per transaction: the event loop runs between two. */
const PURGE_BATCH = 10_000

/** Per handler: what can be leased without SQL, and whether other rows may be due. */
interface LaneCache {
  /** Added by this process, written (or in the batch), never leased; oldest first. */
  fresh: Map<number, OutboxEntry>
  /** Pending rows that are neither fresh nor leased: recovered, released, waiting for a retry, beyond the cache. */
  cold: number
  /** No cold row is due before this (ms); -Infinity: unknown, ask the file. */
  coldDueAt: number
}

export class SqliteOutbox implements Outbox {
  readonly backend = 'sqlite'
  private readonly db: Database.Database
  private seq: number
  /** Pending per host and handler, leased ones included; kept in step with every write. */
  private readonly counts = new Counts()
  /** Dead letters per host and handler, likewise. */
  private readonly deadCounts = new Counts()
  /** Keys leased to a deliverer of this process (a crash forgets them, which is what we want). */
  private readonly leased = new Set<number>()
  private readonly leasedPer = new Map<string, number>()
  private readonly lanes = new Map<string, LaneCache>()
  private readonly stmt: Statements
  private readonly batch: WriteBatch
  private readonly queries: DeadQueries

  constructor(readonly location: string) {
    this.db = open(location)
    try {
      const found = contents(this.db)
      this.seq = found.seq
      for (const r of found.pending) {
        this.counts.bump(r.host, r.handler, r.n)
        this.laneOf(laneKey(r.host, r.handler)).cold = r.n
      }
      for (const r of found.dead) this.deadCounts.bump(r.host, r.handler, r.n)
      this.stmt = statements(this.db)
      this.queries = new DeadQueries(this.db)
      this.batch = new WriteBatch(this.db, this.stmt, location)
    } catch (err) {
      this.db.close()
      throw fileError(location, err)
    }
  }

  /** Where write failures go (the instance logs them); a failed batch is kept and tried again. */
  onError(report: (err: Error) => void): void {
    this.batch.onWriteError = report
  }

  /** Pending notifications of a host as found in the file when it was opened. */
  foundAtOpen(host: string): number {
    return this.counts.total(host)
  }

  add(host: string, handler: string, webhookId: string, event: StoredEvent, limit: number): AddRefusal | undefined {
    if (this.pending(host, handler) >= limit) return 'queue_full'
    this.counts.bump(host, handler, 1)
    const entry: OutboxEntry = { key: ++this.seq, host, handler, webhookId, event, attempts: 0, acceptedAt: event.time }
    const lane = this.laneOf(laneKey(host, handler))
    if (lane.fresh.size < FRESH_PER_LANE) lane.fresh.set(entry.key, entry)
    else {
      lane.cold++
      lane.coldDueAt = Math.min(lane.coldDueAt, entry.acceptedAt)
    }
    this.batch.push({ kind: 'insert', entry })
    return undefined
  }

  async lease(host: string, handler: string, max: number, now: number): Promise<OutboxEntry[]> {
    this.flush() // recorded before its first try
    const key = laneKey(host, handler)
    const lane = this.laneOf(key)
    const out: OutboxEntry[] = []
    if (lane.cold === 0 || lane.coldDueAt > now) {
      // Nothing else is due: the oldest fresh entries are the oldest due ones.
      for (const entry of lane.fresh.values()) {
        if (out.length >= max) break
        lane.fresh.delete(entry.key)
        this.leased.add(entry.key)
        out.push(entry)
      }
    } else {
      const rows = this.stmt.due.all(host, handler, now, max + (this.leasedPer.get(key) ?? 0)) as Row[]
      for (const row of rows) {
        if (out.length >= max) break
        if (this.leased.has(row.seq)) continue
        const fresh = lane.fresh.get(row.seq)
        if (fresh) lane.fresh.delete(row.seq)
        else lane.cold--
        this.leased.add(row.seq)
        out.push(fresh ?? entryOf(row))
      }
      // All that is due was taken: no cold row is due before the earliest later one.
      if (out.length < max) lane.coldDueAt = lane.cold === 0 ? Infinity : ((this.stmt.later.get(host, handler, now) as { t: number | null }).t ?? Infinity)
    }
    if (out.length) this.leasedPer.set(key, (this.leasedPer.get(key) ?? 0) + out.length)
    return out
  }

  async nextDue(host: string, handler: string): Promise<number | undefined> {
    const lane = this.laneOf(laneKey(host, handler))
    const first = lane.fresh.values().next().value
    if (first !== undefined) return first.acceptedAt
    if (lane.cold === 0) return undefined
    this.flush()
    const rows = this.stmt.next.all(host, handler, (this.leasedPer.get(laneKey(host, handler)) ?? 0) + 1) as Array<{ seq: number; due_at: number }>
    return rows.find((r) => !this.leased.has(r.seq))?.due_at
  }

  settle(entry: OutboxEntry): void {
    if (!this.unlease(entry)) return
    this.counts.bump(entry.host, entry.handler, -1)
    this.batch.push({ kind: 'delete', key: entry.key })
  }

  fail(entry: OutboxEntry, dead: DeadInfo): void {
    if (!this.unlease(entry)) return
    this.bury(entry, dead)
  }

  release(entry: OutboxEntry): void {
    if (!this.unlease(entry)) return
    // Its row is unchanged: due since before it was leased.
    const lane = this.laneOf(laneKey(entry.host, entry.handler))
    lane.cold++
    lane.coldDueAt = -Infinity
  }

  retryLater(entry: OutboxEntry, later: Later): void {
    if (!this.unlease(entry)) return
    entry.attempts = later.attempts
    applyTry(entry, later.last)
    const lane = this.laneOf(laneKey(entry.host, entry.handler))
    lane.cold++
    lane.coldDueAt = Math.min(lane.coldDueAt, later.dueAt)
    this.batch.push({ kind: 'update', key: entry.key, attempts: later.attempts, dueAt: later.dueAt, unreachable: later.unreachable, tries: triesOf(entry) })
  }

  wakeUnreachable(host: string, handler: string, now: number): void {
    const lane = this.laneOf(laneKey(host, handler))
    if (lane.cold === 0) return
    this.flush()
    if (this.stmt.wake.run(now, host, handler, now).changes > 0) lane.coldDueAt = Math.min(lane.coldDueAt, now)
  }

  async expire(host: string, cutoff: number, now = Date.now()): Promise<OutboxEntry[]> {
    this.flush()
    const expired = (this.stmt.old.all(host, cutoff) as Row[]).filter((r) => !this.leased.has(r.seq)).map(entryOf)
    for (const e of expired) {
      const lane = this.laneOf(laneKey(e.host, e.handler))
      if (!lane.fresh.delete(e.key)) lane.cold--
      this.bury(e, { reason: 'expired', failedAt: now })
    }
    this.flush()
    return expired
  }

  async deliveries(host: string, query: DeliveryQuery): Promise<Delivery[]> {
    this.flush() // what was accepted or failed this turn is listed too
    const limit = limitOf(query)
    const found: Listed[] = []
    const pending = query.state === 'failed' ? [] : await this.queries.pending(host, query, limit)
    for (const row of pending) found.push(listedPending(entryOf(row), this.leased.has(row.seq) ? undefined : row.due_at))
    if (query.state !== 'pending') for (const d of await this.queries.dead(host, query, limit)) found.push(listedDead(d))
    return newestOf(found, limit)
  }

  async replay(host: string, selector: ReplaySelector, now: number): Promise<ReplayResult> {
    const tally = new ReplayTally(selector.live)
    const pages = this.queries.replayable(host, selector)
    for (; ; await nextTurn()) {
      this.flush() // the batch before (its own transaction), and dead letters of this turn: selectable
      const page = this.db.open ? pages.next() : undefined
      if (!page || page.done) return tally.result()
      for (const r of tally.take(page.value)) {
        this.deadCounts.bump(host, r.handler, -1)
        this.counts.bump(host, r.handler, 1)
        // Back as a row of the file, not a fresh entry: the next lease reads it (due now).
        const lane = this.laneOf(laneKey(host, r.handler))
        lane.cold++
        lane.coldDueAt = Math.min(lane.coldDueAt, now)
        this.batch.push({ kind: 'revive', key: r.seq, now })
      }
    }
  }

  async purgeDead(host: string, cutoff: number): Promise<number> {
    for (let purged = 0; ; await nextTurn()) {
      this.flush()
      if (!this.db.open) return purged
      const rows = this.queries.purgeable(host, cutoff, PURGE_BATCH)
      for (const r of rows) {
        this.deadCounts.bump(host, r.handler, -1)
        this.batch.push({ kind: 'unbury', key: r.seq })
      }
      this.flush()
      purged += rows.length
      if (rows.length < PURGE_BATCH) return purged
    }
  }

  deadByHandler(host: string): DeadCounts[] {
    return this.deadCounts.nonZero(host).map(([handler, dead]) => ({ host, handler, dead }))
  }

  pending(host: string, handler: string): number {
    return this.counts.get(host, handler)
  }

  pendingByHandler(host: string): HandlerCounts[] {
    return this.counts.nonZero(host).map(([handler, pending]) => ({ host, handler, pending }))
  }

  oldestPending(host: string, handler: string): number | undefined {
    if (this.pending(host, handler) === 0) return undefined
    let oldest = (this.stmt.oldest.get(host, handler) as { t: number | null }).t ?? undefined
    // Accepted this turn and not yet written.
    for (const op of this.batch.ops) {
      if (op.kind === 'insert' && op.entry.host === host && op.entry.handler === handler && (oldest === undefined || op.entry.acceptedAt < oldest))
        oldest = op.entry.acceptedAt
    }
    return oldest
  }

  flush(): void {
    this.batch.flush()
  }

  async close(): Promise<void> {
    this.flush()
    // Still failing (disk full): what was not written is lost with this process's memory.
    this.batch.abandon()
    if (this.db.open) this.db.close()
  }

  /** Pending (not leased) → dead letter. */
  private bury(entry: OutboxEntry, dead: DeadInfo): void {
    this.counts.bump(entry.host, entry.handler, -1)
    this.deadCounts.bump(entry.host, entry.handler, 1)
    this.batch.push({ kind: 'bury', dead: deadLetterOf(entry, dead) })
  }

  /** False when it was not leased here (released twice, or expired meanwhile). */
  private unlease(entry: OutboxEntry): boolean {
    if (!this.leased.delete(entry.key)) return false
    const lane = laneKey(entry.host, entry.handler)
    this.leasedPer.set(lane, (this.leasedPer.get(lane) ?? 1) - 1)
    return true
  }

  private laneOf(key: string): LaneCache {
    let lane = this.lanes.get(key)
    if (!lane) this.lanes.set(key, (lane = { fresh: new Map(), cold: 0, coldDueAt: -Infinity }))
    return lane
  }
}

const laneKey = (host: string, handler: string) => `${host}\n${handler}`
