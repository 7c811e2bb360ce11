// The per-account file `<general.data_dir>/private.sqlite`: XEP-0049 private XML (one row per
// account and namespace, the stored children serialised) and XEP-0012's last logout of each
// account (when its last available resource went away, and the status it gave). Same conventions
// as offline storage (offline/store.ts): exclusive lock, WAL, synchronous NORMAL, schema version.
import Database from 'better-sqlite3'
import { XMPPD_ERR_PRIVATE_FILE } from '../../../errors.js'

const SCHEMA_VERSION = 1
const V1 = `
CREATE TABLE IF NOT EXISTS private (
  account TEXT NOT NULL,
  ns TEXT NOT NULL,
  xml TEXT NOT NULL,
  PRIMARY KEY (account, ns)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS last_logout (
  account TEXT PRIMARY KEY,
  stamp INTEGER NOT NULL,
  status TEXT NOT NULL
) WITHOUT ROWID;
`

export interface LastLogout {
  /** ms since the epoch. */
  stamp: number
  status: string
}

export interface PrivateStore {
  /** The serialised children kept for (account, ns), or undefined. */
  get(account: string, ns: string): string | undefined
  /** Bytes (UTF-8) the account keeps, over all its namespaces. */
  size(account: string): number
  /** Replaces what (account, ns) keeps, for every entry, in one transaction. */
  put(account: string, entries: ReadonlyMap<string, string>): void
  lastLogout(account: string): LastLogout | undefined
  setLastLogout(account: string, stamp: number, status: string): void
  close(): void
}

/** Opens (creating it) the file; throws XMPPD_ERR_PRIVATE_FILE naming the file and the cause. */
export function openPrivateStore(file: string): PrivateStore {
  let db: Database.Database
  try {
    db = new Database(file, { timeout: 2000 })
  } catch (err) {
    throw fileError(file, err)
  }
  try {
    // Held until close: a second xmppd on the same data_dir fails at start.
    db.pragma('locking_mode = EXCLUSIVE')
    db.pragma('journal_mode = WAL')
    db.pragma('synchronous = NORMAL')
    const version = db.pragma('user_version', { simple: true }) as number
    if (version > SCHEMA_VERSION) throw new Error(`written by a newer version (schema ${version}, this one knows ${SCHEMA_VERSION})`)
    db.exec(`BEGIN IMMEDIATE; ${V1} PRAGMA user_version = ${SCHEMA_VERSION}; COMMIT;`)
  } catch (err) {
    db.close()
    throw fileError(file, err)
  }

  const select = db.prepare('SELECT xml FROM private WHERE account = ? AND ns = ?').pluck()
  const total = db.prepare('SELECT COALESCE(SUM(LENGTH(CAST(xml AS BLOB))), 0) FROM private WHERE account = ?').pluck()
  const upsert = db.prepare('INSERT INTO private (account, ns, xml) VALUES (?, ?, ?) ON CONFLICT (account, ns) DO UPDATE SET xml = excluded.xml')
  const putAll = db.transaction((account: string, entries: ReadonlyMap<string, string>) => {
    for (const [ns, xml] of entries) upsert.run(account, ns, xml)
  })
  const selectLast = db.prepare('SELECT stamp, status FROM last_logout WHERE account = ?')
  const upsertLast = db.prepare(
    'INSERT INTO last_logout (account, stamp, status) VALUES (?, ?, ?) ON CONFLICT (account) DO UPDATE SET stamp = excluded.stamp, status = excluded.status',
  )
  let open = true

  return {
    get: (account, ns) => select.get(account, ns) as string | undefined,
    size: (account) => total.get(account) as number,
    put: (account, entries) => void putAll(account, entries),
    lastLogout: (account) => selectLast.get(account) as LastLogout | undefined,
    setLastLogout(account, stamp, status) {
      // Sessions still closing after shutdown closed the file: nothing left to record it in.
      if (open) upsertLast.run(account, stamp, status)
    },
    close() {
      open = false
      db.close()
    },
  }
}

function fileError(file: string, err: unknown): Error {
  const e = err as { code?: string; message?: string }
  const reason =
    e.code === 'SQLITE_BUSY' || e.code === 'SQLITE_LOCKED'
      ? 'in use by another process (another xmppd on the same data_dir?); each node needs its own data_dir'
      : e.code === 'SQLITE_NOTADB' || e.code === 'SQLITE_CORRUPT'
        ? `not a usable SQLite database (${e.message}); move it aside to start with empty private storage`
        : (e.message ?? String(err))
  return new XMPPD_ERR_PRIVATE_FILE(file, reason, { cause: err })
}
