// Offline storage's file: `<general.data_dir>/offline.sqlite`, one row per message kept for an
// account with no available resource, in arrival order (the autoincrement id). Counts per account
// and per vhost are kept in memory (read once at open) so that neither the per-account bound nor
// the gauge reads the table on the message path; nothing else of the rows stays in memory.
import { XMPPD_ERR_OFFLINE_FILE } from '../../../errors.js'
import { openServerFile } from '../server-file.js'

const SCHEMA_VERSION = 1
const V1 = `
CREATE TABLE IF NOT EXISTS offline (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  account TEXT NOT NULL,
  stanza TEXT NOT NULL,
  stamp INTEGER NOT NULL,
  sender TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS offline_account ON offline (account, id);
`

export interface StoredMessage {
  id: number
  /** The stanza as it was kept, serialised. */
  stanza: string
  /** When it was kept, ms since the epoch. */
  stamp: number
  /** The sender's full JID, or '' when the server re-routed it. */
  sender: string
}

export interface OfflineStore {
  /** Keeps one message for a lower-case bare JID; returns its id. */
  put(account: string, stanza: string, stamp: number, sender: string): number
  /** Messages kept for the account, oldest first, at most `limit`, after id `after`. */
  list(account: string, after?: number, limit?: number): StoredMessage[]
  /** Removes the account's messages up to and including id `upTo`; returns how many went. */
  remove(account: string, upTo: number): number
  /** Messages kept for the account. */
  count(account: string): number
  /** Messages kept for accounts on the vhost. */
  countOnHost(host: string): number
  close(): void
}

const hostOf = (account: string) => account.slice(account.indexOf('@') + 1)

/** Opens (creating it) the file; throws XMPPD_ERR_OFFLINE_FILE naming the file and the cause. */
export function openOfflineStore(file: string): OfflineStore {
  const db = openServerFile({ file, version: SCHEMA_VERSION, schema: V1, error: XMPPD_ERR_OFFLINE_FILE, empty: 'empty offline storage' })

  const perAccount = new Map<string, number>()
  const perHost = new Map<string, number>()
  for (const row of db.prepare('SELECT account, COUNT(*) AS n FROM offline GROUP BY account').all() as Array<{ account: string; n: number }>) {
    perAccount.set(row.account, row.n)
    perHost.set(hostOf(row.account), (perHost.get(hostOf(row.account)) ?? 0) + row.n)
  }
  const adjust = (account: string, by: number) => {
    const n = (perAccount.get(account) ?? 0) + by
    if (n > 0) perAccount.set(account, n)
    else perAccount.delete(account)
    const host = hostOf(account)
    perHost.set(host, (perHost.get(host) ?? 0) + by)
  }

  const insert = db.prepare('INSERT INTO offline (account, stanza, stamp, sender) VALUES (?, ?, ?, ?)')
  const select = db.prepare('SELECT id, stanza, stamp, sender FROM offline WHERE account = ? AND id > ? ORDER BY id LIMIT ?')
  const del = db.prepare('DELETE FROM offline WHERE account = ? AND id <= ?')

  return {
    put(account, stanza, stamp, sender) {
      const id = Number(insert.run(account, stanza, stamp, sender).lastInsertRowid)
      adjust(account, 1)
      return id
    },
    list: (account, after = 0, limit = 500) => select.all(account, after, limit) as StoredMessage[],
    remove(account, upTo) {
      const n = del.run(account, upTo).changes
      if (n > 0) adjust(account, -n)
      return n
    },
    count: (account) => perAccount.get(account) ?? 0,
    countOnHost: (host) => perHost.get(host) ?? 0,
    close: () => db.close(),
  }
}
