// The server's own SQLite files in general.data_dir (offline.sqlite, blocking.sqlite,
// private.sqlite, roster.sqlite), opened alike. The exclusive lock is taken by the schema's first
// write and held until close: a second xmppd on the same data_dir fails at start instead of sharing
// the file (and what each keeps in memory). WAL + synchronous NORMAL: what was written survives the
// process's crash; a power loss can take the last writes (docs/reliability.md).
import Database from 'better-sqlite3'
import type { ErrorClass } from '../../errors.js'

export interface ServerFile {
  file: string
  /** The schema's version (PRAGMA user_version) and the statements that create it, idempotent. */
  version: number
  schema: string
  /** The file's error (XMPPD_ERR_*_FILE), and what starting without the file means ("empty rosters"). */
  error: ErrorClass<[file: string, reason: string]>
  empty: string
}

/** Opens (creating it) the file; throws its error naming the file and the cause. */
export function openServerFile({ file, version, schema, error, empty }: ServerFile): Database.Database {
  const fail = (err: unknown): Error => {
    const e = err as { code?: string; message?: string }
    const reason =
      e.code === 'SQLITE_BUSY' || e.code === 'SQLITE_LOCKED'
        ? 'in use by another process (another xmppd on the same data_dir?); each node needs its own data_dir'
        : e.code === 'SQLITE_NOTADB' || e.code === 'SQLITE_CORRUPT'
          ? `not a usable SQLite database (${e.message}); move it aside to start with ${empty}`
          : (e.message ?? String(err))
    return new error(file, reason, { cause: err })
  }
  let db: Database.Database
  try {
    db = new Database(file, { timeout: 2000 })
  } catch (err) {
    throw fail(err)
  }
  try {
    db.pragma('locking_mode = EXCLUSIVE')
    db.pragma('journal_mode = WAL')
    db.pragma('synchronous = NORMAL')
    const found = db.pragma('user_version', { simple: true }) as number
    if (found > version) throw new Error(`written by a newer version (schema ${found}, this one knows ${version})`)
    db.exec(`BEGIN IMMEDIATE; ${schema} PRAGMA user_version = ${version}; COMMIT;`)
  } catch (err) {
    db.close()
    throw fail(err)
  }
  return db
}
