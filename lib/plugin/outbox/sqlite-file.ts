// The outbox file itself: its schema and its migrations, how it is opened (WAL, an exclusive lock,
// a schema version it knows), the statements the sqlite outbox runs, and a row as an entry.
import Database from 'better-sqlite3'
import { fileError } from './file-error.js'
import type { DeadLetter } from './dead-letter.js'
import type { DeadReason, OutboxEntry, StoredEvent } from './outbox.js'

const SCHEMA_VERSION = 2

/** Version 1: the pending notifications. Kept as it was written, so that old files migrate step by step. */
const V1 = `
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

/**
 * Version 2: what the tries came to, and the dead letters. Dead letters have their own table
 * rather than a state column: the pending table and its indexes, which every lease, due time and
 * expiry reads, stay as small as what is pending, while a week of failures piles up beside them.
 * A row keeps its seq when it moves between the two (fail, replay), so seq stays one key space.
 */
const V2 = `
ALTER TABLE outbox ADD COLUMN first_attempt_at INTEGER;
ALTER TABLE outbox ADD COLUMN last_attempt_at INTEGER;
ALTER TABLE outbox ADD COLUMN last_status INTEGER;
ALTER TABLE outbox ADD COLUMN last_error TEXT;
CREATE TABLE dead (
  seq INTEGER PRIMARY KEY,
  host TEXT NOT NULL,
  handler TEXT NOT NULL,
  webhook_id TEXT NOT NULL,
  event TEXT NOT NULL,
  attempts INTEGER NOT NULL,
  accepted_at INTEGER NOT NULL,
  first_attempt_at INTEGER,
  last_attempt_at INTEGER,
  failed_at INTEGER NOT NULL,
  reason TEXT NOT NULL,
  status INTEGER,
  error TEXT
);
CREATE INDEX dead_list ON dead (host, accepted_at, seq);
CREATE INDEX dead_failed ON dead (host, failed_at);
CREATE INDEX dead_id ON dead (host, webhook_id);
`

const TRIES = 'first_attempt_at, last_attempt_at, last_status, last_error'
export const ROW = `seq, host, handler, webhook_id, event, attempts, accepted_at, due_at, ${TRIES}`
export const DEAD_ROW = 'seq, host, handler, webhook_id, event, attempts, accepted_at, first_attempt_at, last_attempt_at, failed_at, reason, status, error'

/** The columns a pending row and a dead letter share. */
interface StoredRow {
  seq: number
  host: string
  handler: string
  webhook_id: string
  event: string
  attempts: number
  accepted_at: number
  first_attempt_at: number | null
  last_attempt_at: number | null
}

export interface Row extends StoredRow {
  due_at: number
  last_status: number | null
  last_error: string | null
}

export interface DeadRow extends StoredRow {
  failed_at: number
  reason: string
  status: number | null
  error: string | null
}

/** A change to the file, as the batch holds it until its transaction. */
export type Op =
  | { kind: 'insert'; entry: OutboxEntry }
  | { kind: 'delete'; key: number }
  | { kind: 'update'; key: number; attempts: number; dueAt: number; unreachable: boolean; tries: Tries }
  /** Pending → dead letter. */
  | { kind: 'bury'; dead: DeadLetter }
  /** Dead letter → pending, due and accepted at `now`. */
  | { kind: 'revive'; key: number; now: number }
  /** A dead letter purged. */
  | { kind: 'unbury'; key: number }

type Tries = [first: number | null, last: number | null, status: number | null, error: string | null]

export const triesOf = (e: OutboxEntry): Tries => [e.firstAttemptAt ?? null, e.lastAttemptAt ?? null, e.lastStatus ?? null, e.lastError ?? null]

export type Statements = Record<
  'insert' | 'delete' | 'update' | 'bury' | 'revive' | 'unbury' | 'due' | 'next' | 'later' | 'wake' | 'old' | 'oldest',
  Database.Statement
>

export function statements(db: Database.Database): Statements {
  return {
    insert: db.prepare(
      'INSERT INTO outbox (seq, host, handler, webhook_id, event, attempts, due_at, unreachable, accepted_at) VALUES (?, ?, ?, ?, ?, 0, ?, 0, ?)',
    ),
    delete: db.prepare('DELETE FROM outbox WHERE seq = ?'),
    update: db.prepare(
      'UPDATE outbox SET attempts = ?, due_at = ?, unreachable = ?, first_attempt_at = ?, last_attempt_at = ?, last_status = ?, last_error = ? WHERE seq = ?',
    ),
    // The event is copied inside the file, never parsed and written again.
    bury: db.prepare(`INSERT INTO dead (${DEAD_ROW}) SELECT seq, host, handler, webhook_id, event, ?, accepted_at, ?, ?, ?, ?, ?, ? FROM outbox WHERE seq = ?`),
    revive: db.prepare(
      'INSERT INTO outbox (seq, host, handler, webhook_id, event, attempts, due_at, unreachable, accepted_at) SELECT seq, host, handler, webhook_id, event, 0, ?, 0, ? FROM dead WHERE seq = ?',
    ),
    unbury: db.prepare('DELETE FROM dead WHERE seq = ?'),
    due: db.prepare(`SELECT ${ROW} FROM outbox WHERE host = ? AND handler = ? AND due_at <= ? ORDER BY due_at, seq LIMIT ?`),
    next: db.prepare('SELECT seq, due_at FROM outbox WHERE host = ? AND handler = ? ORDER BY due_at, seq LIMIT ?'),
    wake: db.prepare('UPDATE outbox SET due_at = ?, unreachable = 0 WHERE host = ? AND handler = ? AND unreachable = 1 AND due_at > ?'),
    later: db.prepare('SELECT MIN(due_at) AS t FROM outbox WHERE host = ? AND handler = ? AND due_at > ?'),
    old: db.prepare(`SELECT ${ROW} FROM outbox WHERE host = ? AND accepted_at < ? LIMIT 10000`),
    oldest: db.prepare('SELECT MIN(accepted_at) AS t FROM outbox WHERE host = ? AND handler = ?'),
  }
}

type HandlerRows = Array<{ host: string; handler: string; n: number }>

/** What a file holds when it is opened: its highest key, and its rows per host and handler in each table. */
export function contents(db: Database.Database): { seq: number; pending: HandlerRows; dead: HandlerRows } {
  // One key space for both tables: a dead letter keeps its seq, and a replay brings it back.
  const seq = db.prepare('SELECT MAX(m) AS m FROM (SELECT MAX(seq) AS m FROM outbox UNION ALL SELECT MAX(seq) FROM dead)').get() as { m: number | null }
  const count = (table: string) => db.prepare(`SELECT host, handler, COUNT(*) AS n FROM ${table} GROUP BY host, handler`).all() as HandlerRows
  return { seq: seq.m ?? 0, pending: count('outbox'), dead: count('dead') }
}

/** Runs one change; the caller holds the transaction. */
export function write(stmt: Statements, op: Op): void {
  switch (op.kind) {
    case 'insert': {
      const e = op.entry
      stmt.insert.run(e.key, e.host, e.handler, e.webhookId, JSON.stringify(e.event), e.acceptedAt, e.acceptedAt)
      return
    }
    case 'delete':
      stmt.delete.run(op.key)
      return
    case 'update':
      stmt.update.run(op.attempts, op.dueAt, op.unreachable ? 1 : 0, ...op.tries, op.key)
      return
    case 'bury': {
      const d = op.dead
      stmt.bury.run(d.attempts, d.firstAttemptAt ?? null, d.lastAttemptAt ?? null, d.failedAt, d.reason, d.status ?? null, d.error ?? null, d.key)
      stmt.delete.run(d.key)
      return
    }
    case 'revive':
      stmt.revive.run(op.now, op.now, op.key)
      stmt.unbury.run(op.key)
      return
    case 'unbury':
      stmt.unbury.run(op.key)
  }
}

function storedOf(row: StoredRow) {
  return {
    key: row.seq,
    host: row.host,
    handler: row.handler,
    webhookId: row.webhook_id,
    event: JSON.parse(row.event) as StoredEvent,
    attempts: row.attempts,
    acceptedAt: row.accepted_at,
    firstAttemptAt: row.first_attempt_at ?? undefined,
    lastAttemptAt: row.last_attempt_at ?? undefined,
  }
}

export function entryOf(row: Row): OutboxEntry {
  return { ...storedOf(row), lastStatus: row.last_status ?? undefined, lastError: row.last_error ?? undefined }
}

export function deadOf(row: DeadRow): DeadLetter {
  return { ...storedOf(row), failedAt: row.failed_at, reason: row.reason as DeadReason, status: row.status ?? undefined, error: row.error ?? undefined }
}

export function open(file: string): Database.Database {
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
    // Each step once, in one transaction: a file left by an older version keeps its rows.
    db.exec(`BEGIN IMMEDIATE; ${version < 1 ? V1 : ''} ${version < 2 ? V2 : ''} PRAGMA user_version = ${SCHEMA_VERSION}; COMMIT;`)
    return db
  } catch (err) {
    db.close()
    throw fileError(file, err)
  }
}
