// The outbox file itself: its schema, how it is opened (WAL, an exclusive lock, a schema version
// it knows), the statements the sqlite outbox runs, and a row as an entry.
import Database from 'better-sqlite3'
import { fileError } from './file-error.js'
import type { OutboxEntry, StoredEvent } from './outbox.js'

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

export interface Row {
  seq: number
  host: string
  handler: string
  webhook_id: string
  event: string
  attempts: number
  accepted_at: number
  due_at: number
}

export type Statements = Record<'insert' | 'delete' | 'update' | 'due' | 'next' | 'later' | 'wake' | 'old' | 'oldest', Database.Statement>

export function statements(db: Database.Database): Statements {
  return {
    insert: db.prepare(
      'INSERT INTO outbox (seq, host, handler, webhook_id, event, attempts, due_at, unreachable, accepted_at) VALUES (?, ?, ?, ?, ?, 0, ?, 0, ?)',
    ),
    delete: db.prepare('DELETE FROM outbox WHERE seq = ?'),
    update: db.prepare('UPDATE outbox SET attempts = ?, due_at = ?, unreachable = ? WHERE seq = ?'),
    due: db.prepare(
      'SELECT seq, host, handler, webhook_id, event, attempts, accepted_at, due_at FROM outbox WHERE host = ? AND handler = ? AND due_at <= ? ORDER BY due_at, seq LIMIT ?',
    ),
    next: db.prepare('SELECT seq, due_at FROM outbox WHERE host = ? AND handler = ? ORDER BY due_at, seq LIMIT ?'),
    wake: db.prepare('UPDATE outbox SET due_at = ?, unreachable = 0 WHERE host = ? AND handler = ? AND unreachable = 1 AND due_at > ?'),
    later: db.prepare('SELECT MIN(due_at) AS t FROM outbox WHERE host = ? AND handler = ? AND due_at > ?'),
    old: db.prepare('SELECT seq, host, handler, webhook_id, event, attempts, accepted_at, due_at FROM outbox WHERE host = ? AND accepted_at < ? LIMIT 10000'),
    oldest: db.prepare('SELECT MIN(accepted_at) AS t FROM outbox WHERE host = ? AND handler = ?'),
  }
}

export function entryOf(row: Row): OutboxEntry {
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
    db.exec(`BEGIN IMMEDIATE; ${SCHEMA} PRAGMA user_version = ${SCHEMA_VERSION}; COMMIT;`)
    return db
  } catch (err) {
    db.close()
    throw fileError(file, err)
  }
}
