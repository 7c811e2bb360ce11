// Presence (RFC 6121 §4). Who gets an account's presence depends on its vhost's roster mode:
// "stored" (roster/): its own other resources and the contacts subscribed to it (from|both); at
// its initial presence it gets the presence of the contacts it is subscribed to (to|both) and the
// subscription requests it has not answered. "shared": every account on a vhost is implicitly a
// contact of every other one, which is enough for clients to show who is online.
// Fires the user_available / user_unavailable hooks when a resource comes online or leaves, and
// hands a resource that becomes able to take the account's messages what offline storage kept.
// XEP-0191 §3.3: blockChanged() tells the contacts a block list change concerns (blocking.ts calls it).
import type { JID } from '@xmpp/jid'
import type { Accounts } from './accounts.js'
import type { HookRegistry } from '../plugins/hooks.js'
import { candidates } from './blocking/blocking.js'
import type { Subscriptions } from './roster/subscriptions.js'
import type { ClientSession, SessionRegistry } from './sessions.js'
import { Element, type LtxElement } from './transport.js'

export interface PresenceDeps {
  isVhost(domain: string): boolean
  accounts: Accounts
  sessions: SessionRegistry
  hooksOf(host: string): HookRegistry | undefined
  bounce(from: ClientSession, stanza: LtxElement, condition: string): void
  /** Delivers what offline storage kept for the session's account (offline/offline.ts). */
  flushOffline(session: ClientSession): void
  /** Whether the vhost keeps stored rosters ("stored") or shares one ("shared"). */
  stored(host: string): boolean
  subscriptions: Subscriptions
  /** XEP-0191: whether `account` blocks `j` (blocking/blocking.ts); a broadcast skips either way. */
  blocks?(account: string, j: JID): boolean
}

const SUBSCRIPTION_TYPES = new Set(['subscribe', 'subscribed', 'unsubscribe', 'unsubscribed'])

export function createPresence(deps: PresenceDeps) {
  const { isVhost, accounts, sessions, hooksOf, bounce, flushOffline, stored, subscriptions, blocks } = deps
  /** Presence between two sessions of different accounts when neither blocks the other. */
  const open = (a: ClientSession, b: ClientSession) => !blocks || (!blocks(a.bare, b.jid) && !blocks(b.bare, a.jid))

  /** The sessions of other accounts allowed to get `bare`'s presence, blocked or not, available or not. */
  function* contacts(bare: string): Iterable<ClientSession> {
    const host = bare.slice(bare.indexOf('@') + 1)
    if (!stored(host)) {
      for (const other of sessions.onHost(host)) if (other.bare !== bare) yield other
      return
    }
    for (const sub of subscriptions.subscribers(bare)) if (sub !== bare) yield* sessions.resources(sub)
  }

  /** The available sessions that get `from`'s broadcast presence. */
  function* audience(from: ClientSession): Iterable<ClientSession> {
    for (const own of sessions.resources(from.bare)) if (own !== from && own.available) yield own
    for (const s of contacts(from.bare)) if (s.available && open(from, s)) yield s
  }

  /** The available sessions whose presence a newcomer gets at its initial presence. */
  function* visibleTo(session: ClientSession): Iterable<ClientSession> {
    if (!stored(session.host)) {
      for (const other of sessions.onHost(session.host)) {
        if (other !== session && other.available && (other.bare === session.bare || open(session, other))) yield other
      }
      return
    }
    for (const own of sessions.resources(session.bare)) if (own !== session && own.available) yield own
    for (const bare of subscriptions.publishers(session.bare)) for (const s of sessions.resources(bare)) if (s.available && open(session, s)) yield s
  }

  /**
   * XEP-0191 §3.3, called once `account`'s block list changed: the available contacts allowed to get
   * its presence that a newly `blocked` item matches get an unavailable presence from each available
   * resource (unless they block that resource themselves); those an `unblocked` item matches and
   * nothing blocks any more get each available resource's last presence.
   */
  function blockChanged(account: string, blocked: readonly string[], unblocked: readonly string[]): void {
    const own = [...sessions.resources(account)].filter((r) => r.available && r.presence)
    if (own.length === 0) return
    const concerns = (items: readonly string[], j: JID) => items.length > 0 && candidates(j).some((c) => items.includes(c))
    for (const s of contacts(account)) {
      if (!s.available) continue
      const gone = concerns(blocked, s.jid)
      const back = !gone && concerns(unblocked, s.jid)
      for (const r of own) {
        if (gone && !blocks?.(s.bare, r.jid)) s.send(new Element('presence', { from: r.jid.toString(), to: s.jid.toString(), type: 'unavailable' }))
        else if (back && open(r, s) && r.presence) s.send(r.presence)
      }
    }
  }

  function goUnavailable(session: ClientSession, stanza?: LtxElement): void {
    if (!session.available) return
    const unavailable = stanza ?? new Element('presence', { from: session.jid.toString(), type: 'unavailable' })
    for (const s of audience(session)) s.send(unavailable)
    session.available = false
    session.presence = null
    hooksOf(session.host)?.run('user_unavailable', session.jid)
  }

  function goAvailable(session: ClientSession, stanza: LtxElement): void {
    const first = !session.available
    const tookMessages = session.available && session.priority >= 0
    session.available = true
    session.priority = Number.parseInt(stanza.getChildText('priority') ?? '0', 10) || 0
    session.presence = stanza
    for (const s of audience(session)) s.send(stanza)
    if (first) {
      // Initial presence: tell the newcomer who is already online.
      for (const other of visibleTo(session)) if (other.presence) session.send(other.presence)
      if (stored(session.host)) subscriptions.deliverPending(session)
      hooksOf(session.host)?.run('user_available', session.jid)
    }
    // RFC 6121 §8.5.2.1.1: a resource with a negative priority takes no messages to the bare JID;
    // kept ones go to the first resource able to take them (initial presence, or a priority raised).
    if (!tookMessages && session.priority >= 0) flushOffline(session)
  }

  function directed(from: ClientSession, stanza: LtxElement, to: JID): void {
    const type = stanza.attrs.type
    if (!isVhost(to.domain)) return bounce(from, stanza, 'remote-server-not-found')
    if (!to.local) return // presence to the server itself: nothing to do
    const bare = `${to.local}@${to.domain}`
    const isStored = stored(from.host)
    if (isStored && SUBSCRIPTION_TYPES.has(type ?? '')) return subscriptions.outbound(from, stanza, bare)
    if (!accounts.exists(bare)) return
    if (type === 'probe') {
      if (isStored && !subscriptions.mayProbe(from.bare, bare)) return
      for (const s of sessions.resources(bare)) if (s.available && s.presence) from.send(s.presence)
      return
    }
    if (type === 'subscribe') {
      // Shared roster: everyone on the vhost is already subscribed both ways: confirm at once.
      from.send(new Element('presence', { from: bare, to: from.bare, type: 'subscribed' }))
      return
    }
    const target = to.resource ? sessions.full(bare, to.resource) : undefined
    if (to.resource) return target?.send(stanza)
    for (const s of sessions.resources(bare)) if (s.available) s.send(stanza)
  }

  function presence(from: ClientSession, stanza: LtxElement, to: JID | null): void {
    const type = stanza.attrs.type
    if (to) return directed(from, stanza, to)
    if (type === undefined) return goAvailable(from, stanza)
    if (type === 'unavailable') return goUnavailable(from, stanza)
    // probe/subscribe/... without a `to`, or error: nothing to route
  }

  return { presence, goUnavailable, blockChanged }
}
