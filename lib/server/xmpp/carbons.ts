// XEP-0280 message carbons (v1.0.1): a resource that enabled them (an iq set <enable/> in
// urn:xmpp:carbons:2 to its own account; <disable/> ends it; a new session starts disabled) gets a
// copy of the account's eligible messages that were not delivered to it:
//   - <received/>: a message for the account delivered to another of its resources;
//   - <sent/>: a message another of its resources sent (and the server routed or kept offline).
// Each copy is a new message from the account's bare JID to the resource, the original inside
// <forwarded xmlns='urn:xmpp:forward:0'>. Eligible (§6): type chat, or normal with a body, or a
// message carrying chat states, receipts or chat markers (not groupchat, headline or error); never
// one with a <private/> (XEP-0280) or <no-copy/> (XEP-0334) hint, nor a carbon itself. Only
// attached resources with an available presence get copies. router.ts calls copy() once a
// message has been delivered to its sessions or kept offline.
import type { ClientSession, SessionRegistry } from './sessions.js'
import type { IqExtension } from './server-iq.js'
import { Element, errorReply, type LtxElement } from './transport.js'

export const NS_CARBONS = 'urn:xmpp:carbons:2'
const NS_FORWARD = 'urn:xmpp:forward:0'
const NS_HINTS = 'urn:xmpp:hints'
/** Payloads of IM messages without a body that are eligible anyway (§6.1). */
const IM_PAYLOADS = new Set(['http://jabber.org/protocol/chatstates', 'urn:xmpp:receipts', 'urn:xmpp:chat-markers:0'])

function eligible(stanza: LtxElement): boolean {
  const type = stanza.attrs.type ?? 'normal'
  if (type !== 'chat' && type !== 'normal') return false
  let im = type === 'chat'
  for (const c of stanza.children) {
    if (typeof c === 'string') continue
    const ns = c.attrs.xmlns
    if (ns === NS_CARBONS) return false // private, or already a carbon
    if (ns === NS_HINTS && c.name === 'no-copy') return false
    if (c.name === 'body' || IM_PAYLOADS.has(ns)) im = true
  }
  return im
}

export function createCarbons({ sessions }: { sessions: SessionRegistry }) {
  /** Sessions with carbons enabled; a session that ends drops out with it. */
  const enabled = new WeakSet<ClientSession>()

  function wrap(kind: 'sent' | 'received', account: string, to: ClientSession, original: LtxElement): LtxElement {
    const copy = new Element('message', { from: account, to: to.jid.toString(), type: original.attrs.type ?? 'normal' })
    copy.c(kind, { xmlns: NS_CARBONS }).c('forwarded', { xmlns: NS_FORWARD }).cnode(original.clone())
    return copy
  }

  /** Copies to the enabled, available, attached resources of `account`, except `skip`. */
  function copyTo(kind: 'sent' | 'received', account: string, original: LtxElement, skip: readonly ClientSession[]): void {
    for (const s of sessions.resources(account)) {
      if (enabled.has(s) && s.available && !s.detached && !skip.includes(s)) s.send(wrap(kind, account, s, original))
    }
  }

  /**
   * A message from `from` (null: re-routed by the server) for the account `recipient` (lower-case
   * bare JID) was delivered to `delivered` (empty: kept offline).
   */
  function copy(from: ClientSession | null, stanza: LtxElement, recipient: string, delivered: readonly ClientSession[]): void {
    if (!eligible(stanza)) return
    const own = from?.bare === recipient
    // Within one account the other resources get one copy, as <received/>.
    if (from && !own) copyTo('sent', from.bare, stanza, [from])
    if (delivered.length > 0) copyTo('received', recipient, stanza, from && own ? [...delivered, from] : delivered)
  }

  /** server-iq.ts extension: <enable/> and <disable/> to the requester's own account. */
  const iq: IqExtension = (from, stanza, payload, to) => {
    if (payload.attrs.xmlns !== NS_CARBONS) return false
    if (to?.local && `${to.local}@${to.domain}` !== from.bare) return false
    if (stanza.attrs.type !== 'set' || (payload.name !== 'enable' && payload.name !== 'disable')) {
      from.send(errorReply(stanza, 'modify', 'bad-request'))
      return true
    }
    if (payload.name === 'enable') enabled.add(from)
    else enabled.delete(from)
    from.send(new Element('iq', { type: 'result', id: stanza.attrs.id, to: stanza.attrs.from }))
    return true
  }

  return { iq, copy, isEnabled: (s: ClientSession) => enabled.has(s) }
}

export type Carbons = ReturnType<typeof createCarbons>
