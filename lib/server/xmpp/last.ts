// XEP-0012 last activity (jabber:iq:last). To the vhost's JID: the server's uptime in seconds. To
// an account's bare JID, answered by the server on its behalf: 0 while a resource of it is
// available, else the seconds since its last available resource went away and the <status/> of
// that last unavailable presence; item-not-found when it never logged out since private.sqlite
// began keeping track. Only for requesters allowed to see the account's presence (mayQueryLast),
// forbidden for others. No `to` is the sender's own account (RFC 6120 §10.3.3). To a full JID
// the query is routed to the client (router.ts).
import type { JID } from '@xmpp/jid'
import type { Logger } from '../../contract.js'
import type { ClientSession, SessionRegistry } from './sessions.js'
import type { IqExtension } from './server-iq.js'
import type { PrivateStore } from './private/store.js'
import { Element, errorReply, type LtxElement } from './transport.js'

export const NS_LAST = 'jabber:iq:last'

/**
 * May `from` (a bare JID) learn when `to` (a bare JID) was last online? XEP-0012 §4: only with a
 * presence subscription. This is the rule of a vhost with the shared roster, where everyone sees
 * everyone's presence: the account itself, or any account on the same vhost. On a stored-roster
 * vhost main.ts passes the roster's rule instead (`to` has `from` with subscription from|both).
 */
export function mayQueryLast(from: string, to: string): boolean {
  return from === to || from.slice(from.indexOf('@') + 1) === to.slice(to.indexOf('@') + 1)
}

export interface LastDeps {
  store: Pick<PrivateStore, 'lastLogout' | 'setLastLogout'>
  sessions: SessionRegistry
  log: Logger
  mayQuery?: (from: string, to: string) => boolean
  now?: () => number
}

export function createLast({ store, sessions, log, mayQuery = mayQueryLast, now = Date.now }: LastDeps) {
  const startedAt = now()
  const seconds = (since: number) => String(Math.max(0, Math.floor((now() - since) / 1000)))
  const online = (bare: string, except?: ClientSession) => [...sessions.resources(bare)].some((s) => s !== except && s.available)

  const extension: IqExtension = function lastActivity(from, iq, payload, to) {
    if (payload.attrs.xmlns !== NS_LAST) return false
    if (iq.attrs.type !== 'get' || payload.name !== 'query')
      return (from.send(errorReply(iq, 'modify', 'bad-request', 'last activity is read with an iq get')), true)
    const attrs: Record<string, string> = { type: 'result', id: iq.attrs.id, to: iq.attrs.from }
    if (iq.attrs.to) attrs.from = iq.attrs.to
    const reply = new Element('iq', attrs)
    if (to && !to.local) return (from.send(reply.c('query', { xmlns: NS_LAST, seconds: seconds(startedAt) }).root()), true)
    // No `to`: the sender's own bare JID (RFC 6120 §10.3.3).
    const bare = to ? `${to.local}@${to.domain}` : from.bare
    if (!mayQuery(from.bare, bare)) return (from.send(errorReply(iq, 'auth', 'forbidden')), true)
    if (online(bare)) return (from.send(reply.c('query', { xmlns: NS_LAST, seconds: '0' }).root()), true)
    let last: ReturnType<typeof store.lastLogout>
    try {
      last = store.lastLogout(bare)
    } catch (err) {
      log.error({ err, account: bare }, 'last activity: failed to read a logout')
      return (from.send(errorReply(iq, 'wait', 'internal-server-error', 'last activity storage failed')), true)
    }
    if (!last) return (from.send(errorReply(iq, 'cancel', 'item-not-found', `no logout of ${bare} is known`)), true)
    const query = reply.c('query', { xmlns: NS_LAST, seconds: seconds(last.stamp) })
    if (last.status) query.t(last.status)
    from.send(reply)
    return true
  }

  /** A resource went unavailable (its unavailable presence, or its stream ended): the account's logout when it was the last one. */
  function wentUnavailable(session: ClientSession, stanza?: LtxElement): void {
    if (online(session.bare, session)) return
    try {
      store.setLastLogout(session.bare, now(), stanza?.getChildText('status') ?? '')
    } catch (err) {
      log.error({ err, account: session.bare }, 'last activity: failed to record a logout')
    }
  }

  return { extension, wentUnavailable }
}

interface PresenceLike {
  presence(from: ClientSession, stanza: LtxElement, to: JID | null): void
  goUnavailable(session: ClientSession, stanza?: LtxElement): void
}

/**
 * The presence module with logouts recorded: wraps its two ways to go unavailable so presence.ts
 * stays as it is. A session that never sent an initial presence was never online: not recorded.
 */
export function recordingLogouts<P extends PresenceLike>(presence: P, last: { wentUnavailable(session: ClientSession, stanza?: LtxElement): void }): P {
  return {
    ...presence,
    presence(from, stanza, to) {
      const leaving = !to && stanza.attrs.type === 'unavailable' && from.available
      presence.presence(from, stanza, to)
      if (leaving) last.wentUnavailable(from, stanza)
    },
    goUnavailable(session, stanza) {
      const leaving = session.available
      presence.goUnavailable(session, stanza)
      if (leaving) last.wentUnavailable(session, stanza)
    },
  }
}
