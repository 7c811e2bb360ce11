// The per-account file `<general.data_dir>/private.sqlite`: XEP-0049 private XML (one row per
// account and namespace, the stored children serialised) and XEP-0012's last logout of each
// account (when its last available resource went away, and the status it gave). Same conventions
// as offline storage (offline/store.ts): exclusive lock, WAL, synchronous NORMAL, schema version.
import { XMPPD_ERR_PRIVATE_FILE } from '../../../errors.js'
import { openServerFile } from '../server-file.js'

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
  const db = openServerFile({ file, version: SCHEMA_VERSION, schema: V1, error: XMPPD_ERR_PRIVATE_FILE, empty: 'empty private storage' })

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
