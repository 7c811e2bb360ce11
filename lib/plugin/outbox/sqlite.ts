// outbox = "sqlite" (the default): one better-sqlite3 file per node, in WAL mode, held with an
// exclusive lock so that a second process on the same data dir gets a clear error instead of a
// share. The hook's add() only appends to a batch; the batch is written in one transaction per
// event-loop turn (or before any read), so a kill -9 loses at most what was accepted in the turn
// that was running. Reads that decide delivery (lease, nextDue, expire) flush first.
import Database from 'better-sqlite3'
import { fileError } from './file-error.js'
import type { HandlerCounts, Later, Outbox, OutboxEntry, StoredEvent } from './outbox.js'

export { OutboxFileError } from './file-error.js'

const SCHEMA_VERSION = 1

const SCHEMA = `
CREATE TABLE IF NOT EXISTS outbox (
  seq INTEGER PRIMARY KEY,
  host TEXT NOT NULL,
  handler TEXT NOT NULL,
  webhook_id TEXT NOT NULL,
  event TEXT NOT NULL,
  attempts INTEGER NOT NULL,
  due_at INTEGER NOT NULL,
  unreachable INTEGER NOT NULL,
  accepted_at INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS outbox_due ON outbox (host, handler, due_at, seq);
CREATE INDEX IF NOT EXISTS outbox_age ON outbox (host, handler, accepted_at);
`

type Op = { kind: 'insert'; entry: OutboxEntry } | { kind: 'delete'; key: number } | { kind: 'update'; key: number; later: Later }

interface Row {
  seq: number
  host: string
  handler: string
  webhook_id: string
  event: string
  attempts: number
  accepted_at: number
  due_at: number
}

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
  private readonly stmt: Record<'insert' | 'delete' | 'update' | 'due' | 'next' | 'wake' | 'old' | 'oldest', Database.Statement>
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
      }
      this.stmt = {
        insert: this.db.prepare(
          'INSERT INTO outbox (seq, host, handler, webhook_id, event, attempts, due_at, unreachable, accepted_at) VALUES (?, ?, ?, ?, ?, 0, ?, 0, ?)',
        ),
        delete: this.db.prepare('DELETE FROM outbox WHERE seq = ?'),
        update: this.db.prepare('UPDATE outbox SET attempts = ?, due_at = ?, unreachable = ? WHERE seq = ?'),
        due: this.db.prepare(
          'SELECT seq, host, handler, webhook_id, event, attempts, accepted_at, due_at FROM outbox WHERE host = ? AND handler = ? AND due_at <= ? ORDER BY due_at, seq LIMIT ?',
        ),
        next: this.db.prepare('SELECT seq, due_at FROM outbox WHERE host = ? AND handler = ? ORDER BY due_at, seq LIMIT ?'),
        wake: this.db.prepare('UPDATE outbox SET due_at = ?, unreachable = 0 WHERE host = ? AND handler = ? AND unreachable = 1 AND due_at > ?'),
        old: this.db.prepare(
          'SELECT seq, host, handler, webhook_id, event, attempts, accepted_at, due_at FROM outbox WHERE host = ? AND accepted_at < ? LIMIT 10000',
        ),
        oldest: this.db.prepare('SELECT MIN(accepted_at) AS t FROM outbox WHERE host = ? AND handler = ?'),
      }
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
    this.push({ kind: 'insert', entry: { key: ++this.seq, host, handler, webhookId, event, attempts: 0, acceptedAt: event.time } })
    return true
  }

  async lease(host: string, handler: string, max: number, now: number): Promise<OutboxEntry[]> {
    this.flush()
    const lane = laneKey(host, handler)
    const rows = this.stmt.due.all(host, handler, now, max + (this.leasedPer.get(lane) ?? 0)) as Row[]
    const out: OutboxEntry[] = []
    for (const row of rows) {
      if (out.length >= max) break
      if (this.leased.has(row.seq)) continue
      this.leased.add(row.seq)
      out.push(entryOf(row))
    }
    if (out.length) this.leasedPer.set(lane, (this.leasedPer.get(lane) ?? 0) + out.length)
    return out
  }

  async nextDue(host: string, handler: string): Promise<number | undefined> {
    this.flush()
    const rows = this.stmt.next.all(host, handler, (this.leasedPer.get(laneKey(host, handler)) ?? 0) + 1) as Array<{ seq: number; due_at: number }>
    return rows.find((r) => !this.leased.has(r.seq))?.due_at
  }

  settle(entry: OutboxEntry): void {
    this.unlease(entry)
    this.bump(entry.host, entry.handler, -1)
    this.push({ kind: 'delete', key: entry.key })
  }

  fail(entry: OutboxEntry): void {
    this.settle(entry)
  }

  release(entry: OutboxEntry): void {
    this.unlease(entry)
  }

  retryLater(entry: OutboxEntry, later: Later): void {
    this.unlease(entry)
    entry.attempts = later.attempts
    this.push({ kind: 'update', key: entry.key, later })
  }

  wakeUnreachable(host: string, handler: string, now: number): void {
    this.flush()
    this.stmt.wake.run(now, host, handler, now)
  }

  async expire(host: string, cutoff: number): Promise<OutboxEntry[]> {
    this.flush()
    const expired = (this.stmt.old.all(host, cutoff) as Row[]).filter((r) => !this.leased.has(r.seq)).map(entryOf)
    for (const e of expired) {
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
    this.ops.push(op)
    this.schedule(0)
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

  private unlease(entry: OutboxEntry): void {
    if (!this.leased.delete(entry.key)) return
    const lane = laneKey(entry.host, entry.handler)
    this.leasedPer.set(lane, (this.leasedPer.get(lane) ?? 1) - 1)
  }

  private bump(host: string, handler: string, by: number): void {
    let byHandler = this.counts.get(host)
    if (!byHandler) this.counts.set(host, (byHandler = new Map()))
    byHandler.set(handler, (byHandler.get(handler) ?? 0) + by)
  }
}

const laneKey = (host: string, handler: string) => `${host}\n${handler}`

function entryOf(row: Row): OutboxEntry {
  return {
    key: row.seq,
    host: row.host,
    handler: row.handler,
    webhookId: row.webhook_id,
    event: JSON.parse(row.event) as StoredEvent,
    attempts: row.attempts,
    acceptedAt: row.accepted_at,
  }
}

function open(file: string): Database.Database {
  let db: Database.Database
  try {
    db = new Database(file, { timeout: 2000 })
  } catch (err) {
    throw fileError(file, err)
  }
  try {
    // Exclusive locking: the lock is taken by the first write below and held until close (or the
    // process's death, kill -9 included), so a second process fails here instead of sharing.
    db.pragma('locking_mode = EXCLUSIVE')
    db.pragma('journal_mode = WAL')
    // WAL + NORMAL: a committed transaction survives the process's crash; only a power loss or an
    // OS crash can take the last ones (docs/reliability.md).
    db.pragma('synchronous = NORMAL')
    const version = db.pragma('user_version', { simple: true }) as number
    if (version > SCHEMA_VERSION) throw new Error(`written by a newer version (schema ${version}, this one knows ${SCHEMA_VERSION})`)
    db.exec(`BEGIN IMMEDIATE; ${SCHEMA} PRAGMA user_version = ${SCHEMA_VERSION}; COMMIT;`)
    return db
  } catch (err) {
    db.close()
    throw fileError(file, err)
  }
}
