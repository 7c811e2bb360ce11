// iqs the server answers itself: to the vhost, or to an account's bare JID on its behalf.
// XEP-0199 ping, XEP-0030 disco#info/#items, the roster (roster/roster.ts), and
// service-unavailable for everything else. Extra namespaces (admin commands) register here.
import type { JID } from '@xmpp/jid'
import type { ClientSession } from './sessions.js'
import { Element, errorReply, type LtxElement } from './transport.js'

const NS_PING = 'urn:xmpp:ping'
const NS_DISCO_INFO = 'http://jabber.org/protocol/disco#info'
const NS_DISCO_ITEMS = 'http://jabber.org/protocol/disco#items'
const NS_ROSTER = 'jabber:iq:roster'

/** Answers one iq addressed to the server; returns false to fall through. */
export type IqExtension = (from: ClientSession, iq: LtxElement, payload: LtxElement, to: JID | null) => boolean

export interface ServerIqDeps {
  /** jabber:iq:roster get/set of the account's own resource (roster/roster.ts). */
  roster(from: ClientSession, iq: LtxElement, payload: LtxElement): void
  /** Extra disco#info features of the server (e.g. ad-hoc commands). */
  features?: () => string[]
  /** Extra disco#info features of an account's bare JID (what the server answers on its behalf). */
  accountFeatures?: () => string[]
}

export function createServerIq({ roster, features = () => [], accountFeatures = () => [] }: ServerIqDeps) {
  const extensions: IqExtension[] = []

  function result(iq: LtxElement): LtxElement {
    const attrs: Record<string, string> = { type: 'result', id: iq.attrs.id }
    if (iq.attrs.to) attrs.from = iq.attrs.to
    attrs.to = iq.attrs.from
    return new Element('iq', attrs)
  }

  function discoInfo(iq: LtxElement, to: JID | null): LtxElement {
    const reply = result(iq)
    const query = reply.c('query', { xmlns: NS_DISCO_INFO })
    const forAccount = Boolean(to?.local)
    query.c('identity', forAccount ? { category: 'account', type: 'registered' } : { category: 'server', type: 'im', name: 'xmppd' })
    const list = forAccount ? [NS_DISCO_INFO, NS_PING, ...accountFeatures()] : [NS_DISCO_INFO, NS_DISCO_ITEMS, NS_PING, NS_ROSTER, ...features()]
    for (const v of list) query.c('feature', { var: v })
    return reply
  }

  function handle(from: ClientSession, iq: LtxElement, to: JID | null): void {
    const type = iq.attrs.type
    if (type !== 'get' && type !== 'set') return // results and errors addressed to us end here
    const payload = iq.children.find((c): c is LtxElement => typeof c !== 'string')
    if (!payload) return from.send(errorReply(iq, 'modify', 'bad-request'))
    const ns = payload.attrs.xmlns
    const ownAccount = !to || (to.local && `${to.local}@${to.domain}` === from.bare)
    if (type === 'get' && ns === NS_PING) return from.send(result(iq))
    if (type === 'get' && ns === NS_DISCO_INFO && !payload.attrs.node) return from.send(discoInfo(iq, to))
    if (type === 'get' && ns === NS_DISCO_ITEMS && !to?.local && !payload.attrs.node) {
      const reply = result(iq)
      reply.c('query', { xmlns: NS_DISCO_ITEMS })
      return from.send(reply)
    }
    if (ns === NS_ROSTER && ownAccount) return roster(from, iq, payload)
    for (const ext of extensions) if (ext(from, iq, payload, to)) return
    from.send(errorReply(iq, 'cancel', 'service-unavailable'))
  }

  return { handle, use: (ext: IqExtension) => void extensions.push(ext) }
}
