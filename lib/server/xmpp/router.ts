// Routing between local sessions (no server-to-server): messages and iqs to full or bare JIDs,
// with the RFC 6120/6121 errors for unknown hosts and unknown accounts. A message no session takes
// goes to offline storage (offline/offline.ts), which keeps or bounces it. Presence has its own
// module; iqs addressed to the server (or on behalf of an account) go to server-iq.ts.
import type { JID } from '@xmpp/jid'
import type { Accounts } from './accounts.js'
import type { Offline } from './offline/offline.js'
import type { ClientSession, SessionRegistry } from './sessions.js'
import { errorReply, type LtxElement } from './transport.js'

export interface RouterDeps {
  isVhost(domain: string): boolean
  accounts: Accounts
  sessions: SessionRegistry
  /** Handles an iq addressed to the server or to an account's bare JID. */
  serverIq(from: ClientSession, iq: LtxElement, to: JID | null): void
  offline: Pick<Offline, 'keepOrBounce'>
  /** XEP-0280: a message was delivered to `delivered` (empty: kept offline) — carbons.ts's copy. */
  delivered?(from: ClientSession | null, stanza: LtxElement, recipient: string, delivered: readonly ClientSession[]): void
}

const IQ_TYPES = new Set(['get', 'set', 'result', 'error'])

export function createRouter({ isVhost, accounts, sessions, serverIq, offline, delivered = () => {} }: RouterDeps) {
  /** Answers `stanza` with an error; a stanza the server re-routes (from null) is never answered. */
  function bounce(from: ClientSession | null, stanza: LtxElement, condition: string, type = 'cancel'): void {
    if (!from || stanza.attrs.type === 'error') return // never answer an error with an error
    from.send(errorReply(stanza, type, condition))
  }

  /**
   * Sessions a message to a bare JID goes to (RFC 6121 §8.5.2.1.1): available, priority >= 0 and
   * attached (a detached stream-management session is not there to read it). Sessions bound
   * without an initial presence get nothing: the message is kept and flushed on that presence.
   */
  function bareTargets(bare: string): ClientSession[] {
    const targets: ClientSession[] = []
    for (const s of sessions.resources(bare)) if (s.available && s.priority >= 0 && !s.detached) targets.push(s)
    return targets
  }

  /**
   * Routes a message. `from` is the sender's session, or null when the server re-routes a message
   * it already accepted (stream management's unacknowledged ones): then `to` is required, nothing
   * is ever bounced, and the stanza keeps its `from` and its stanza-id.
   */
  function message(from: ClientSession | null, stanza: LtxElement, to: JID | null): void {
    const type = stanza.attrs.type ?? 'normal'
    const target = to ?? from?.jid.bare()
    if (!target) return
    if (!isVhost(target.domain)) return bounce(from, stanza, 'remote-server-not-found')
    if (!target.local) return bounce(from, stanza, 'service-unavailable')
    const bare = `${target.local}@${target.domain}`
    if (!accounts.exists(bare)) return bounce(from, stanza, 'service-unavailable')
    if (target.resource) {
      const session = sessions.full(bare, target.resource)
      if (session) return void (session.send(stanza), delivered(from, stanza, bare, [session]))
      // RFC 6121 §8.5.3.2.1: a resource that is gone means the bare JID, for chat and normal.
      if (type !== 'chat' && type !== 'normal') {
        return type === 'groupchat' ? bounce(from, stanza, 'service-unavailable') : undefined
      }
    }
    const targets = bareTargets(bare)
    if (targets.length === 0) {
      if (offline.keepOrBounce(from, stanza, target) === 'kept') delivered(from, stanza, bare, [])
      return
    }
    for (const session of targets) session.send(stanza)
    delivered(from, stanza, bare, targets)
  }

  function iq(from: ClientSession, stanza: LtxElement, to: JID | null): void {
    const type = stanza.attrs.type
    const isRequest = type === 'get' || type === 'set'
    if (!IQ_TYPES.has(type ?? '') || !stanza.attrs.id) return bounce(from, stanza, 'bad-request', 'modify')
    if (isRequest && stanza.children.filter((c) => typeof c !== 'string').length !== 1) {
      return bounce(from, stanza, 'bad-request', 'modify')
    }
    if (!to || !to.local) {
      if (to && !isVhost(to.domain)) return isRequest ? bounce(from, stanza, 'remote-server-not-found') : undefined
      return serverIq(from, stanza, to)
    }
    if (!isVhost(to.domain)) return isRequest ? bounce(from, stanza, 'remote-server-not-found') : undefined
    const bare = `${to.local}@${to.domain}`
    if (!accounts.exists(bare)) return isRequest ? bounce(from, stanza, 'service-unavailable') : undefined
    if (!to.resource) return serverIq(from, stanza, to) // the server answers for the account
    const session = sessions.full(bare, to.resource)
    if (session) return session.send(stanza)
    if (isRequest) bounce(from, stanza, 'service-unavailable')
  }

  return { message, iq, bounce }
}

export type Router = ReturnType<typeof createRouter>
