// The roster as one piece for main.ts: roster.sqlite opened, pushes, subscriptions and the
// jabber:iq:roster handler wired, and the embedded default's demo accounts made contacts of each
// other when the file is new. A read or write of the file that fails (a full disk, a broken file)
// is logged and counted (xmppd_roster_store_failures_total), runs in a transaction so the file is
// left as it was, and is answered: the iq or the subscription stanza gets internal-server-error;
// a presence broadcast then reaches the account's own resources only.
import { Counter, type Registry } from 'prom-client'
import type { Logger } from '../../../contract.js'
import type { Accounts } from '../accounts.js'
import type { ClientSession, SessionRegistry } from '../sessions.js'
import { errorReply, type LtxElement } from '../transport.js'
import { createPusher } from './push.js'
import { createRosterIq } from './roster.js'
import { openRosterStore } from './store.js'
import { createSubscriptions, type Subscriptions } from './subscriptions.js'

export interface RosterServiceDeps {
  /** `<data_dir>/roster.sqlite`. */
  file: string
  sessions: SessionRegistry
  accounts: Accounts
  stored(host: string): boolean
  /** Accounts subscribed to each other (both) when the file is created (the embedded default). */
  seed?: readonly string[]
  registry: Registry
  log: Logger
}

/** Throws XMPPD_ERR_ROSTER_FILE when the file cannot serve. */
export function createRosterService({ file, sessions, accounts, stored, seed = [], registry, log }: RosterServiceDeps) {
  const store = openRosterStore(file)
  const pusher = createPusher(sessions)
  const subscriptions = createSubscriptions({ store, sessions, accounts, pusher, stored })
  const rosterIq = createRosterIq({ store, accounts, pusher, subscriptions, stored })
  try {
    if (store.created) {
      const bare = seed.map((j) => j.toLowerCase())
      store.tx(() => {
        for (let i = 0; i < bare.length; i++) for (let k = i + 1; k < bare.length; k++) subscriptions.mutual(bare[i], bare[k])
      })
    }
  } catch (err) {
    store.close()
    throw err
  }
  const failures = new Counter({
    name: 'xmppd_roster_store_failures_total',
    help: 'Reads or writes of roster.sqlite that failed; the stanza was answered internal-server-error, or a presence reached the own resources only',
    registers: [registry],
  })
  failures.inc(0)
  function failed(err: unknown, what: string, jid: string): void {
    failures.inc()
    log.error({ err, jid }, `roster storage failed: ${what}`)
  }
  /** A read for presence: on failure, nobody (counted, logged). */
  const read =
    <T>(what: string, fn: (bare: string, other?: string) => T, fallback: T) =>
    (bare: string, other?: string): T => {
      try {
        return fn(bare, other)
      } catch (err) {
        failed(err, what, bare)
        return fallback
      }
    }

  const guarded: Subscriptions = {
    ...subscriptions,
    outbound(from: ClientSession, stanza: LtxElement, contact: string) {
      try {
        store.tx(() => subscriptions.outbound(from, stanza, contact))
      } catch (err) {
        failed(err, `presence ${stanza.attrs.type}`, from.bare)
        from.send(errorReply(stanza, 'wait', 'internal-server-error', 'the roster could not be written'))
      }
    },
    deliverPending: (session) => read('pending requests', () => subscriptions.deliverPending(session), undefined)(session.bare),
    subscribers: read('subscribers', subscriptions.subscribers, []),
    publishers: read('contacts', subscriptions.publishers, []),
    mayProbe: read('probe', (prober, contact) => subscriptions.mayProbe(prober, contact!), false),
  }

  function iq(from: ClientSession, stanza: LtxElement, payload: LtxElement): void {
    try {
      store.tx(() => rosterIq.handle(from, stanza, payload))
    } catch (err) {
      failed(err, `roster ${stanza.attrs.type}`, from.bare)
      from.send(errorReply(stanza, 'wait', 'internal-server-error', 'the roster could not be read or written'))
    }
  }

  return { iq, subscriptions: guarded, close: () => store.close() }
}

export type RosterService = ReturnType<typeof createRosterService>
