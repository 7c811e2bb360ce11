// The stored roster's file: `<general.data_dir>/roster.sqlite` (RFC 6121 §2). One row per roster
// item of an account (its contact's bare JID, name, groups, subscription state and pending-out
// ask), and one row per subscription request an account has not answered yet (pending-in, RFC 6121
// §3.1.3: kept until approved or denied, delivered again at each login). Opened, locked and failing
// like offline storage's file (offline/store.ts).
import { existsSync } from 'node:fs'
import { XMPPD_ERR_ROSTER_FILE } from '../../../errors.js'
import { openServerFile } from '../server-file.js'

const SCHEMA_VERSION = 1
const V1 = `
CREATE TABLE IF NOT EXISTS roster (
  account TEXT NOT NULL,
  jid TEXT NOT NULL,
  name TEXT,
  subscription TEXT NOT NULL DEFAULT 'none',
  ask INTEGER NOT NULL DEFAULT 0,
  groups TEXT NOT NULL DEFAULT '[]',
  PRIMARY KEY (account, jid)
);
CREATE TABLE IF NOT EXISTS pending_in (
  account TEXT NOT NULL,
  jid TEXT NOT NULL,
  stanza TEXT NOT NULL,
  PRIMARY KEY (account, jid)
);
`

export type Subscription = 'none' | 'to' | 'from' | 'both'

export interface RosterItem {
  /** The contact's bare JID, lower case. */
  jid: string
  name: string | null
  subscription: Subscription
  /** True while a subscribe the account sent waits for an answer (ask="subscribe"). */
  ask: boolean
  groups: string[]
}

export interface PendingIn {
  jid: string
  /** The subscribe presence as it came, serialised (its status text is shown to the account). */
  stanza: string
}

export interface RosterStore {
  /** True when this start created the file (the embedded default seeds its demo accounts then). */
  readonly created: boolean
  items(account: string): RosterItem[]
  item(account: string, jid: string): RosterItem | undefined
  put(account: string, item: RosterItem): void
  remove(account: string, jid: string): boolean
  /** Subscription requests the account has not answered, oldest first. */
  pendingIn(account: string): PendingIn[]
  hasPendingIn(account: string, jid: string): boolean
  putPendingIn(account: string, jid: string, stanza: string): void
  removePendingIn(account: string, jid: string): boolean
  /** Runs `fn` in one transaction: a failure leaves the file as it was. */
  tx<T>(fn: () => T): T
  close(): void
}

interface Row {
  jid: string
  name: string | null
  subscription: Subscription
  ask: number
  groups: string
}

const toItem = (r: Row): RosterItem => ({ jid: r.jid, name: r.name, subscription: r.subscription, ask: r.ask === 1, groups: JSON.parse(r.groups) as string[] })

/** Opens (creating it) the file; throws XMPPD_ERR_ROSTER_FILE naming the file and the cause. */
export function openRosterStore(file: string): RosterStore {
  const created = !existsSync(file)
  const db = openServerFile({ file, version: SCHEMA_VERSION, schema: V1, error: XMPPD_ERR_ROSTER_FILE, empty: 'empty rosters' })

  const selectAll = db.prepare('SELECT jid, name, subscription, ask, groups FROM roster WHERE account = ? ORDER BY jid')
  const selectOne = db.prepare('SELECT jid, name, subscription, ask, groups FROM roster WHERE account = ? AND jid = ?')
  const upsert = db.prepare(
    `INSERT INTO roster (account, jid, name, subscription, ask, groups) VALUES (?, ?, ?, ?, ?, ?)
     ON CONFLICT (account, jid) DO UPDATE SET name = excluded.name, subscription = excluded.subscription, ask = excluded.ask, groups = excluded.groups`,
  )
  const del = db.prepare('DELETE FROM roster WHERE account = ? AND jid = ?')
  const selectPending = db.prepare('SELECT jid, stanza FROM pending_in WHERE account = ? ORDER BY rowid')
  const onePending = db.prepare('SELECT 1 FROM pending_in WHERE account = ? AND jid = ?')
  const putPending = db.prepare('INSERT OR REPLACE INTO pending_in (account, jid, stanza) VALUES (?, ?, ?)')
  const delPending = db.prepare('DELETE FROM pending_in WHERE account = ? AND jid = ?')

  return {
    created,
    items: (account) => (selectAll.all(account) as Row[]).map(toItem),
    item(account, jid) {
      const row = selectOne.get(account, jid) as Row | undefined
      return row && toItem(row)
    },
    put: (account, i) => void upsert.run(account, i.jid, i.name, i.subscription, i.ask ? 1 : 0, JSON.stringify(i.groups)),
    remove: (account, jid) => del.run(account, jid).changes > 0,
    pendingIn: (account) => selectPending.all(account) as PendingIn[],
    hasPendingIn: (account, jid) => onePending.get(account, jid) !== undefined,
    putPendingIn: (account, jid, stanza) => void putPending.run(account, jid, stanza),
    removePendingIn: (account, jid) => delPending.run(account, jid).changes > 0,
    tx: (fn) => db.transaction(fn)(),
    close: () => db.close(),
  }
}
