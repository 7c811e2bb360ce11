// Presence without rosters: every account on a vhost is implicitly a contact of every other one
// (a shared roster, see server-iq.ts), which is enough for clients to show who is online.
// Fires the user_available / user_unavailable hooks when a resource comes online or leaves, and
// hands a resource that becomes able to take the account's messages what offline storage kept.
import type { JID } from '@xmpp/jid'
import type { Accounts } from './accounts.js'
import type { HookRegistry } from '../plugins/hooks.js'
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
}

export function createPresence({ isVhost, accounts, sessions, hooksOf, bounce, flushOffline }: PresenceDeps) {
  function broadcast(from: ClientSession, stanza: LtxElement): void {
    for (const other of sessions.onHost(from.host)) {
      if (other !== from && other.available) other.send(stanza)
    }
  }

  function goUnavailable(session: ClientSession, stanza?: LtxElement): void {
    if (!session.available) return
    session.available = false
    session.presence = null
    broadcast(session, stanza ?? new Element('presence', { from: session.jid.toString(), type: 'unavailable' }))
    hooksOf(session.host)?.run('user_unavailable', session.jid)
  }

  function goAvailable(session: ClientSession, stanza: LtxElement): void {
    const first = !session.available
    const tookMessages = session.available && session.priority >= 0
    session.available = true
    session.priority = Number.parseInt(stanza.getChildText('priority') ?? '0', 10) || 0
    session.presence = stanza
    broadcast(session, stanza)
    if (first) {
      // Initial presence: tell the newcomer who is already online.
      for (const other of sessions.onHost(session.host)) {
        if (other !== session && other.available && other.presence) session.send(other.presence)
      }
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
    if (!accounts.exists(bare)) return
    if (type === 'probe') {
      for (const s of sessions.resources(bare)) if (s.available && s.presence) from.send(s.presence)
      return
    }
    if (type === 'subscribe') {
      // Everyone on the vhost is already subscribed both ways: confirm at once.
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

  return { presence, goUnavailable }
}
