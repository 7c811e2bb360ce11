// The roster as one piece for main.ts: roster.sqlite opened, pushes, subscriptions and the
// jabber:iq:roster handler wired, and the embedded default's demo accounts made contacts of each
// other when the file is new.
import type { Accounts } from '../accounts.js'
import type { SessionRegistry } from '../sessions.js'
import { createPusher } from './push.js'
import { createRosterIq } from './roster.js'
import { openRosterStore } from './store.js'
import { createSubscriptions } from './subscriptions.js'

export interface RosterServiceDeps {
  /** `<data_dir>/roster.sqlite`. */
  file: string
  sessions: SessionRegistry
  accounts: Accounts
  stored(host: string): boolean
  /** Accounts subscribed to each other (both) when the file is created (the embedded default). */
  seed?: readonly string[]
}

/** Throws XMPPD_ERR_ROSTER_FILE when the file cannot serve. */
export function createRosterService({ file, sessions, accounts, stored, seed = [] }: RosterServiceDeps) {
  const store = openRosterStore(file)
  const pusher = createPusher(sessions)
  const subscriptions = createSubscriptions({ store, sessions, accounts, pusher, stored })
  const rosterIq = createRosterIq({ store, accounts, pusher, subscriptions, stored })
  if (store.created) {
    const bare = seed.map((j) => j.toLowerCase())
    for (let i = 0; i < bare.length; i++) for (let k = i + 1; k < bare.length; k++) subscriptions.mutual(bare[i], bare[k])
  }
  return { iq: rosterIq.handle, subscriptions, close: () => store.close() }
}

export type RosterService = ReturnType<typeof createRosterService>
