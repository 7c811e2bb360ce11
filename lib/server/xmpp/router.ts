// Routing between local sessions (no server-to-server): messages and iqs to full or bare JIDs,
// with the RFC 6120/6121 errors for unknown hosts, unknown accounts and offline recipients.
// Presence has its own module; iqs addressed to the server (or on behalf of an account) go to
// server-iq.ts.
import type { JID } from '@xmpp/jid'
import type { Accounts } from './accounts.js'
import type { ClientSession, SessionRegistry } from './sessions.js'
import { errorReply, type LtxElement } from './transport.js'

export interface RouterDeps {
  isVhost(domain: string): boolean
  accounts: Accounts
  sessions: SessionRegistry
  /** Handles an iq addressed to the server or to an account's bare JID. */
  serverIq(from: ClientSession, iq: LtxElement, to: JID | null): void
}

const IQ_TYPES = new Set(['get', 'set', 'result', 'error'])

export function createRouter({ isVhost, accounts, sessions, serverIq }: RouterDeps) {
  /** `from` null: a stanza the server routes again (XEP-0198 unacked), never bounced to anyone. */
  function bounce(from: ClientSession | null, stanza: LtxElement, condition: string, type = 'cancel'): void {
    if (stanza.attrs.type === 'error' || !from) return // never answer an error with an error
    from.send(errorReply(stanza, type, condition))
  }

  /** Sessions a message to a bare JID goes to: available ones with priority >= 0, else any bound. */
  function bareTargets(bare: string): ClientSession[] {
    const bound = [...sessions.resources(bare)]
    const available = bound.filter((s) => s.available && s.priority >= 0)
    return available.length > 0 ? available : bound.filter((s) => !s.available)
  }

  /** `from` null: routed again by the server (unacked.ts); errors then go to no one. */
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
      if (session) return session.send(stanza)
      if (type !== 'chat' && type !== 'normal') {
        return type === 'groupchat' ? bounce(from, stanza, 'service-unavailable') : undefined
      }
    }
    const targets = bareTargets(bare)
    if (targets.length === 0) {
      // No offline storage: chat, normal and groupchat bounce; headline and error are dropped.
      if (type === 'headline' || type === 'error') return
      return bounce(from, stanza, 'service-unavailable')
    }
    for (const session of targets) session.send(stanza)
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
