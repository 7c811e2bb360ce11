// The sqlite outbox's writes, grouped: changes are appended here and written in one transaction
// per event-loop turn, or as soon as the task that added them ends once the batch is 5 ms old (a
// long turn, a burst). A batch that cannot be written (disk full) is kept, in order, and tried
// again every second and before every read.
import type Database from 'better-sqlite3'
import { fileError } from './file-error.js'
import { write, type Op, type Statements } from './sqlite-file.js'

/** A batch this old (ms) is written when the task that added to it ends, not at the end of the turn. */
const MAX_BATCH_AGE_MS = 5

export class WriteBatch {
  /** Not written yet, in order. */
  readonly ops: Op[] = []
  private flushScheduled = false
  private batchStartedAt = 0
  private microtaskScheduled = false
  private writeError: Error | undefined
  /** Where write failures go (the instance logs them): once per run of failures. */
  onWriteError: (err: Error) => void = () => undefined

  constructor(
    private readonly db: Database.Database,
    private readonly stmt: Statements,
    private readonly location: string,
  ) {}

  push(op: Op): void {
    if (this.ops.length === 0) this.batchStartedAt = performance.now()
    else if (!this.microtaskScheduled && performance.now() - this.batchStartedAt > MAX_BATCH_AGE_MS) {
      // A long turn (a burst from many clients): write when the task that accepted it ends.
      this.microtaskScheduled = true
      queueMicrotask(this.flushNow)
    }
    this.ops.push(op)
    this.schedule(0)
  }

  flush(): void {
    if (this.ops.length === 0 || !this.db.open) return
    const ops = this.ops.splice(0)
    try {
      this.writeOps(ops)
      this.writeError = undefined
    } catch (err) {
      // Disk full, I/O error: keep the batch (in order) for the next flush, and say so once.
      this.ops.unshift(...ops)
      if (!this.writeError) this.onWriteError(fileError(this.location, err))
      this.writeError = err as Error
      this.schedule(1000)
    }
  }

  /** At close, after a last flush: what still could not be written is lost with this process; says how much. */
  abandon(): void {
    if (this.ops.length === 0) return
    const inserts = this.ops.filter((op) => op.kind === 'insert').length
    this.onWriteError(
      fileError(
        this.location,
        new Error(`closed with ${this.ops.length} changes not written (${inserts} accepted notifications lost): ${this.writeError?.message}`),
      ),
    )
    this.ops.length = 0
  }

  private readonly writeOps = (ops: Op[]) => {
    this.db.transaction(() => {
      for (const op of ops) write(this.stmt, op)
    })()
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
}
