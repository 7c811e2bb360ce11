// outbox = "sqlite" (the default): one better-sqlite3 file per node, in WAL mode, held with an
// exclusive lock so that a second process on the same data dir gets a clear error instead of a
// share. The hook's add() only appends to a batch; the batch is written in one transaction per
// event-loop turn, or as soon as the task that accepted it ends once the batch is 5 ms old (a
// long turn, a burst), so a kill -9 loses at most a few milliseconds of accepted notifications.
// Reads that decide delivery (lease, nextDue, expire) flush first. The entries this process added
// and has not leased yet are also kept in memory (a bounded number per handler), so that the
// steady state leases them without reading back what it just wrote: SQL leases only when an
// older or retried row may be due.
import type Database from 'better-sqlite3'
import { fileError } from './file-error.js'
import { entryOf, open, statements, type Row, type Statements } from './sqlite-file.js'
import type { HandlerCounts, Later, Outbox, OutboxEntry, StoredEvent } from './outbox.js'

export { OutboxFileError } from './file-error.js'

/** Fresh entries kept in memory per handler; beyond it they are read back from the file. */
const FRESH_PER_LANE = 1000

/** A batch this old (ms) is written when the task that added to it ends, not at the end of the turn. */
const MAX_BATCH_AGE_MS = 5

/** Per handler: what can be leased without SQL, and whether other rows may be due. */
interface LaneCache {
  /** Added by this process, written (or in the batch), never leased; oldest first. */
  fresh: Map<number, OutboxEntry>
  /** Pending rows that are neither fresh nor leased: recovered, released, waiting for a retry, beyond the cache. */
  cold: number
  /** No cold row is due before this (ms); -Infinity: unknown, ask the file. */
  coldDueAt: number
}

type Op = { kind: 'insert'; entry: OutboxEntry } | { kind: 'delete'; key: number } | { kind: 'update'; key: number; later: Later }

export class SqliteOutbox implements Outbox {
  readonly backend = 'sqlite'
  private readonly db: Database.Database
  private readonly ops: Op[] = []
  private flushScheduled = false
  private seq: number
  /** Pending per host and handler, leased ones included; kept in step with every write. */
  private readonly counts = new Map<string, Map<string, number>>()
  /** Keys leased to a deliverer of this process (a crash forgets them, which is what we want). */
  private readonly leased = new Set<number>()
  private readonly leasedPer = new Map<string, number>()
  private readonly lanes = new Map<string, LaneCache>()
  private batchStartedAt = 0
  private microtaskScheduled = false
  private readonly stmt: Statements
  private writeError: Error | undefined
  private onWriteError: (err: Error) => void = () => undefined

  constructor(readonly location: string) {
    this.db = open(location)
    try {
      this.seq = (this.db.prepare('SELECT MAX(seq) AS m FROM outbox').get() as { m: number | null }).m ?? 0
      for (const r of this.db.prepare('SELECT host, handler, COUNT(*) AS n FROM outbox GROUP BY host, handler').all() as Array<{
        host: string
        handler: string
        n: number
      }>) {
        this.bump(r.host, r.handler, r.n)
        this.laneOf(laneKey(r.host, r.handler)).cold = r.n
      }
      this.stmt = statements(this.db)
    } catch (err) {
      this.db.close()
      throw fileError(location, err)
    }
  }

  /** Where write failures go (the instance logs them); a failed batch is kept and tried again. */
  onError(report: (err: Error) => void): void {
    this.onWriteError = report
  }

  /** Pending per handler of a host as found in the file when it was opened. */
  foundAtOpen(host: string): number {
    let n = 0
    for (const c of this.counts.get(host)?.values() ?? []) n += c
    return n
  }

  add(host: string, handler: string, webhookId: string, event: StoredEvent, limit: number): boolean {
    if (this.pending(host, handler) >= limit) return false
    this.bump(host, handler, 1)
    const entry: OutboxEntry = { key: ++this.seq, host, handler, webhookId, event, attempts: 0, acceptedAt: event.time }
    const lane = this.laneOf(laneKey(host, handler))
    if (lane.fresh.size < FRESH_PER_LANE) lane.fresh.set(entry.key, entry)
    else {
      lane.cold++
      lane.coldDueAt = Math.min(lane.coldDueAt, entry.acceptedAt)
    }
    this.push({ kind: 'insert', entry })
    return true
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
    this.bump(entry.host, entry.handler, -1)
    this.push({ kind: 'delete', key: entry.key })
  }

  fail(entry: OutboxEntry): void {
    this.settle(entry)
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
    const lane = this.laneOf(laneKey(entry.host, entry.handler))
    lane.cold++
    lane.coldDueAt = Math.min(lane.coldDueAt, later.dueAt)
    this.push({ kind: 'update', key: entry.key, later })
  }

  wakeUnreachable(host: string, handler: string, now: number): void {
    const lane = this.laneOf(laneKey(host, handler))
    if (lane.cold === 0) return
    this.flush()
    if (this.stmt.wake.run(now, host, handler, now).changes > 0) lane.coldDueAt = Math.min(lane.coldDueAt, now)
  }

  async expire(host: string, cutoff: number): Promise<OutboxEntry[]> {
    this.flush()
    const expired = (this.stmt.old.all(host, cutoff) as Row[]).filter((r) => !this.leased.has(r.seq)).map(entryOf)
    for (const e of expired) {
      const lane = this.laneOf(laneKey(e.host, e.handler))
      if (!lane.fresh.delete(e.key)) lane.cold--
      this.bump(e.host, e.handler, -1)
      this.push({ kind: 'delete', key: e.key })
    }
    this.flush()
    return expired
  }

  pending(host: string, handler: string): number {
    return this.counts.get(host)?.get(handler) ?? 0
  }

  pendingByHandler(host: string): HandlerCounts[] {
    return [...(this.counts.get(host) ?? [])].filter(([, n]) => n > 0).map(([handler, pending]) => ({ host, handler, pending }))
  }

  oldestPending(host: string, handler: string): number | undefined {
    if (this.pending(host, handler) === 0) return undefined
    let oldest = (this.stmt.oldest.get(host, handler) as { t: number | null }).t ?? undefined
    // Accepted this turn and not yet written.
    for (const op of this.ops) {
      if (op.kind === 'insert' && op.entry.host === host && op.entry.handler === handler && (oldest === undefined || op.entry.acceptedAt < oldest))
        oldest = op.entry.acceptedAt
    }
    return oldest
  }

  flush(): void {
    if (this.ops.length === 0 || !this.db.open) return
    const ops = this.ops.splice(0)
    try {
      this.writeBatch(ops)
      this.writeError = undefined
    } catch (err) {
      // Disk full, I/O error: keep the batch (in order) for the next flush, and say so once.
      this.ops.unshift(...ops)
      if (!this.writeError) this.onWriteError(fileError(this.location, err))
      this.writeError = err as Error
      this.schedule(1000)
    }
  }

  async close(): Promise<void> {
    this.flush()
    // Still failing (disk full): what was not written is lost with this process's memory. Say how much.
    if (this.ops.length > 0) {
      const inserts = this.ops.filter((op) => op.kind === 'insert').length
      this.onWriteError(
        fileError(
          this.location,
          new Error(`closed with ${this.ops.length} changes not written (${inserts} accepted notifications lost): ${this.writeError?.message}`),
        ),
      )
      this.ops.length = 0
    }
    if (this.db.open) this.db.close()
  }

  private readonly writeBatch = (ops: Op[]) => {
    this.db.transaction(() => {
      for (const op of ops) {
        if (op.kind === 'insert') {
          const e = op.entry
          this.stmt.insert.run(e.key, e.host, e.handler, e.webhookId, JSON.stringify(e.event), e.acceptedAt, e.acceptedAt)
        } else if (op.kind === 'delete') this.stmt.delete.run(op.key)
        else this.stmt.update.run(op.later.attempts, op.later.dueAt, op.later.unreachable ? 1 : 0, op.key)
      }
    })()
  }

  private push(op: Op): void {
    if (this.ops.length === 0) this.batchStartedAt = performance.now()
    else if (!this.microtaskScheduled && performance.now() - this.batchStartedAt > MAX_BATCH_AGE_MS) {
      // A long turn (a burst from many clients): write when the task that accepted it ends.
      this.microtaskScheduled = true
      queueMicrotask(this.flushNow)
    }
    this.ops.push(op)
    this.schedule(0)
  }

  private readonly flushNow = () => {
    this.microtaskScheduled = false
    this.flush()
  }

  private schedule(delayMs: number): void {
    if (this.flushScheduled) return
    this.flushScheduled = true
    const run = () => {
      this.flushScheduled = false
      this.flush()
    }
    if (delayMs === 0) setImmediate(run)
    else setTimeout(run, delayMs).unref()
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

  private bump(host: string, handler: string, by: number): void {
    let byHandler = this.counts.get(host)
    if (!byHandler) this.counts.set(host, (byHandler = new Map()))
    byHandler.set(handler, (byHandler.get(handler) ?? 0) + by)
  }
}

const laneKey = (host: string, handler: string) => `${host}\n${handler}`
