// Stanzas for specs, built with ltx (what node-xmpp-server hands the hooks), and their JIDs.
import { createRequire } from 'node:module'
import { jid } from '@xmpp/jid'
import type { Element, JID } from '../../lib/contract.js'

interface LtxElement extends Element {
  c(name: string, attrs?: Record<string, string>): LtxElement
  t(text: string): LtxElement
  up(): LtxElement
  root(): LtxElement
}
const require = createRequire(import.meta.url)
const ltx = require('ltx') as { Element: new (name: string, attrs?: Record<string, string>) => LtxElement }

/** What the host passes to user_send_packet. */
export interface Sent {
  packet: Element
  from: JID
  to: JID
}

export function element(name: string, attrs: Record<string, string> = {}): LtxElement {
  return new ltx.Element(name, attrs)
}

/** A stanza from `from`; `to` defaults to the sender's domain, as the host does. */
export function sent(packet: LtxElement, from: string): Sent {
  const sender = jid(from)
  const to = packet.attrs.to ? jid(packet.attrs.to) : jid(sender.domain)
  packet.attrs.from = from
  return { packet, from: sender, to }
}

/** `<message type=...><body>text</body></message>`; body undefined: no <body> at all. */
export function message(from: string, to: string, body: string | undefined, type = 'chat'): Sent {
  const m = element('message', { to, type, id: 'm1' })
  if (body !== undefined) m.c('body').t(body)
  return sent(m, from)
}

export const chat = (from: string, to: string, body: string) => message(from, to, body, 'chat')

/** A chat state notification without a body (XEP-0085). */
export function chatState(from: string, to: string, state = 'composing'): Sent {
  const m = element('message', { to, type: 'chat' })
  m.c(state, { xmlns: 'http://jabber.org/protocol/chatstates' })
  return sent(m, from)
}

export function presence(from: string, to?: string): Sent {
  return sent(element('presence', to ? { to } : {}), from)
}

export function iq(from: string, to: string): Sent {
  const q = element('iq', { to, type: 'get', id: 'q1' })
  q.c('ping', { xmlns: 'urn:xmpp:ping' })
  return sent(q, from)
}
