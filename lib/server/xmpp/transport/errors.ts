// Stanza error replies (RFC 6120 §8.3), built here because elements come from node-xmpp-server.
// (Part of the transport layer: see ../transport.ts.)
import nxs, { type LtxElement } from 'node-xmpp-server'

const NS_STANZAS = 'urn:ietf:params:xml:ns:xmpp-stanzas'

/** An iq/message/presence error reply to `stanza` (RFC 6120 §8.3), addressed back to its sender. */
export function errorReply(stanza: LtxElement, type: string, condition: string, text?: string): LtxElement {
  const attrs: Record<string, string> = { type: 'error' }
  if (stanza.attrs.id) attrs.id = stanza.attrs.id
  if (stanza.attrs.to) attrs.from = stanza.attrs.to
  if (stanza.attrs.from) attrs.to = stanza.attrs.from
  const reply = new nxs.Element(stanza.name, attrs)
  const error = reply.c('error', { type })
  error.c(condition, { xmlns: NS_STANZAS })
  if (text) error.c('text', { xmlns: NS_STANZAS }).t(text)
  return reply
}
