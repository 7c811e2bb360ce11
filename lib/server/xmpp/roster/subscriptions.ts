// Presence subscriptions between local accounts on stored-roster vhosts (RFC 6121 §3): the
// subscribe / subscribed / unsubscribe / unsubscribed handshake with its roster state table, a
// roster push for every item that changes, pending-in requests kept until answered and delivered
// again at each login, and the audiences presence.ts broadcasts to. There is no server-to-server:
// a subscription to another domain bounces with remote-server-not-found.
import { parse as parseXml } from 'ltx'
import type { Accounts } from '../accounts.js'
import type { ClientSession, SessionRegistry } from '../sessions.js'
import { Element, type LtxElement } from '../transport.js'
import type { Pusher } from './push.js'
import type { RosterItem, RosterStore } from './store.js'

export interface SubscriptionDeps {
  store: RosterStore
  sessions: SessionRegistry
  accounts: Accounts
  pusher: Pusher
  /** Whether the vhost keeps stored rosters (general.roster / host_config: "stored"). */
  stored(host: string): boolean
}

const hostOf = (bare: string) => bare.slice(bare.indexOf('@') + 1)
const hasFrom = (i?: RosterItem) => i?.subscription === 'from' || i?.subscription === 'both'
const hasTo = (i?: RosterItem) => i?.subscription === 'to' || i?.subscription === 'both'
const newItem = (jid: string): RosterItem => ({ jid, name: null, subscription: 'none', ask: false, groups: [] })

export function createSubscriptions({ store, sessions, accounts, pusher, stored }: SubscriptionDeps) {
  function save(account: string, item: RosterItem): void {
    store.put(account, item)
    pusher.push(account, item)
  }

  /** Sends to every available resource of the account. */
  function deliver(bare: string, stanza: LtxElement): void {
    for (const s of sessions.resources(bare)) if (s.available) s.send(stanza)
  }

  const sub = (type: string, from: string, to: string) => new Element('presence', { from, to, type })

  /** The current presence of `from`'s available resources, to `to`'s available resources. */
  function sendPresence(from: string, to: string): void {
    for (const s of sessions.resources(from)) if (s.available && s.presence) deliver(to, s.presence)
  }

  function sendUnavailable(from: string, to: string): void {
    for (const s of sessions.resources(from)) if (s.available) deliver(to, new Element('presence', { from: s.jid.toString(), to, type: 'unavailable' }))
  }

  // What the contact's side does with a subscription stanza from `user` (RFC 6121 §3.1.3 …).
  function inboundSubscribe(contact: string, user: string, original: LtxElement): void {
    if (!accounts.exists(contact)) return inboundUnsubscribed(user, contact)
    if (!stored(hostOf(contact)) || hasFrom(store.item(contact, user))) {
      // Already approved (or a shared-roster vhost, where everyone is): answered at once.
      inboundSubscribed(user, contact)
      return sendPresence(contact, user)
    }
    const stanza = sub('subscribe', user, contact)
    for (const c of original.children) if (typeof c !== 'string') stanza.cnode(c)
    store.putPendingIn(contact, user, stanza.toString())
    deliver(contact, stanza)
  }

  function inboundSubscribed(user: string, contact: string): void {
    const item = store.item(user, contact)
    if (!item?.ask) return // nothing asked: ignored (RFC 6121 §3.1.6)
    save(user, { ...item, ask: false, subscription: item.subscription === 'from' ? 'both' : 'to' })
    deliver(user, sub('subscribed', contact, user))
  }

  function inboundUnsubscribed(user: string, contact: string): void {
    const item = store.item(user, contact)
    if (!item || (!hasTo(item) && !item.ask)) return
    save(user, { ...item, ask: false, subscription: item.subscription === 'both' ? 'from' : 'none' })
    deliver(user, sub('unsubscribed', contact, user))
  }

  function inboundUnsubscribe(contact: string, user: string): void {
    const pending = store.removePendingIn(contact, user)
    const item = store.item(contact, user)
    if (hasFrom(item)) {
      save(contact, { ...item!, subscription: item!.subscription === 'both' ? 'to' : 'none' })
      sendUnavailable(contact, user)
    }
    if (pending || hasFrom(item)) deliver(contact, sub('unsubscribe', user, contact))
  }

  /** A subscription stanza an account on a stored-roster vhost sent to `contact` (a local bare JID). */
  function outbound(from: ClientSession, stanza: LtxElement, contact: string): void {
    const user = from.bare
    if (contact === user) return
    const item = store.item(user, contact)
    switch (stanza.attrs.type) {
      case 'subscribe': {
        if (hasTo(item)) return from.send(sub('subscribed', contact, user))
        if (!item?.ask) save(user, { ...(item ?? newItem(contact)), ask: true })
        return inboundSubscribe(contact, user, stanza)
      }
      case 'subscribed': {
        if (!store.hasPendingIn(user, contact)) return // no request to approve (no pre-approval)
        store.removePendingIn(user, contact)
        const base = item ?? newItem(contact)
        save(user, { ...base, subscription: base.subscription === 'to' ? 'both' : 'from' })
        inboundSubscribed(contact, user)
        return sendPresence(user, contact)
      }
      case 'unsubscribed': {
        const pending = store.removePendingIn(user, contact)
        if (hasFrom(item)) {
          save(user, { ...item!, subscription: item!.subscription === 'both' ? 'to' : 'none' })
          sendUnavailable(user, contact)
        }
        if (pending || hasFrom(item)) inboundUnsubscribed(contact, user)
        return
      }
      case 'unsubscribe': {
        if (!item || (!hasTo(item) && !item.ask)) return
        save(user, { ...item, ask: false, subscription: item.subscription === 'both' ? 'from' : 'none' })
        return inboundUnsubscribe(contact, user)
      }
    }
  }

  /** Roster remove (RFC 6121 §2.5.3): cancels both directions, then the item goes. */
  function removeItem(user: string, item: RosterItem): void {
    const local = accounts.exists(item.jid)
    if (local && (hasTo(item) || item.ask)) inboundUnsubscribe(item.jid, user)
    const pending = store.removePendingIn(user, item.jid)
    if (hasFrom(item)) sendUnavailable(user, item.jid)
    if (local && (hasFrom(item) || pending)) inboundUnsubscribed(item.jid, user)
    store.remove(user, item.jid)
    pusher.push(user, item, true)
  }

  /** At an initial presence: subscription requests not answered yet, again. */
  function deliverPending(session: ClientSession): void {
    for (const p of store.pendingIn(session.bare)) session.send(parseXml(p.stanza) as LtxElement)
  }

  /** Makes two accounts subscribed to each other (the embedded default's demo accounts). */
  function mutual(a: string, b: string): void {
    store.put(a, { ...(store.item(a, b) ?? newItem(b)), subscription: 'both', ask: false })
    store.put(b, { ...(store.item(b, a) ?? newItem(a)), subscription: 'both', ask: false })
  }

  return {
    outbound,
    removeItem,
    deliverPending,
    mutual,
    /** Bare JIDs that receive the account's presence (from|both). */
    subscribers: (bare: string) =>
      store
        .items(bare)
        .filter(hasFrom)
        .map((i) => i.jid),
    /** Bare JIDs whose presence the account receives (to|both). */
    publishers: (bare: string) =>
      store
        .items(bare)
        .filter(hasTo)
        .map((i) => i.jid),
    /** Whether `prober` may learn `contact`'s presence (RFC 6121 §4.3.2). */
    mayProbe: (prober: string, contact: string) => hasFrom(store.item(contact, prober)),
  }
}

export type Subscriptions = ReturnType<typeof createSubscriptions>
