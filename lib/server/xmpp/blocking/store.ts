// The block lists' file: `<general.data_dir>/blocking.sqlite`, one row per (account, blocked JID).
// Every list is read into memory at open: the check runs on every stanza a client sends, and a
// list is small (at most MAX_BLOCKED items per account, blocking.ts); writes go to the file first.
import { XMPPD_ERR_BLOCKING_FILE } from '../../../errors.js'
import { openServerFile } from '../server-file.js'

const SCHEMA_VERSION = 1
const V1 = `
CREATE TABLE IF NOT EXISTS blocked (
  account TEXT NOT NULL,
  jid TEXT NOT NULL,
  PRIMARY KEY (account, jid)
);
`

export interface BlockingStore {
  /** The account's (lower-case bare JID) blocked JIDs, in the order they were blocked. */
  list(account: string): readonly string[]
  has(account: string, jid: string): boolean
  /** Adds JIDs to the list; returns those that were not on it. */
  block(account: string, jids: readonly string[]): string[]
  /** Removes JIDs (all of them when `jids` is null); returns those that were on it. */
  unblock(account: string, jids: readonly string[] | null): string[]
  close(): void
}

/** Opens (creating it) the file; throws XMPPD_ERR_BLOCKING_FILE naming the file and the cause. */
export function openBlockingStore(file: string): BlockingStore {
  const db = openServerFile({ file, version: SCHEMA_VERSION, schema: V1, error: XMPPD_ERR_BLOCKING_FILE, empty: 'empty block lists' })

  const lists = new Map<string, Set<string>>()
  for (const row of db.prepare('SELECT account, jid FROM blocked ORDER BY rowid').raw().all() as Array<[string, string]>) {
    let set = lists.get(row[0])
    if (!set) lists.set(row[0], (set = new Set()))
    set.add(row[1])
  }

  const insert = db.prepare('INSERT OR IGNORE INTO blocked (account, jid) VALUES (?, ?)')
  const del = db.prepare('DELETE FROM blocked WHERE account = ? AND jid = ?')
  const delAll = db.prepare('DELETE FROM blocked WHERE account = ?')
  const addAll = db.transaction((account: string, jids: string[]) => {
    for (const j of jids) insert.run(account, j)
  })
  const removeSome = db.transaction((account: string, jids: string[]) => {
    for (const j of jids) del.run(account, j)
  })

  return {
    list: (account) => [...(lists.get(account) ?? [])],
    has: (account, jid) => lists.get(account)?.has(jid) ?? false,
    block(account, jids) {
      const set = lists.get(account)
      const added = [...new Set(jids)].filter((j) => !set?.has(j))
      if (added.length === 0) return added
      addAll(account, added) // the file first: a failed write changes nothing in memory
      const next = set ?? new Set<string>()
      for (const j of added) next.add(j)
      lists.set(account, next)
      return added
    },
    unblock(account, jids) {
      const set = lists.get(account)
      if (!set) return []
      const removed = jids === null ? [...set] : [...new Set(jids)].filter((j) => set.has(j))
      if (removed.length === 0) return removed
      if (jids === null) delAll.run(account)
      else removeSome(account, removed)
      for (const j of removed) set.delete(j)
      if (set.size === 0) lists.delete(account)
      return removed
    },
    close: () => db.close(),
  }
}
