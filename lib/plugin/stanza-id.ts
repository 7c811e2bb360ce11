// The XEP-0359 stanza id the recipient's server gave a message: the `<stanza-id
// xmlns='urn:xmpp:sid:0'/>` child whose `by` is the recipient's bare JID. The host stamps it
// before user_send_packet runs and keeps it on what it stores (offline_message), so a webhook
// consumer can match a notification to the message it announces. Another entity's stanza-id
// (a MUC's, a remote archive's) is not the recipient's and is ignored.
import type { Element, JID } from '../contract.js'

export const STANZA_ID_NS = 'urn:xmpp:sid:0'

/** The recipient's stanza id, or null (a message the server did not stamp, or to no account). */
export function stanzaIdOf(packet: Element, to: JID): string | null {
  if (!to.local) return null
  const recipient = `${to.local}@${to.domain}`.toLowerCase()
  for (const child of packet.children) {
    if (typeof child === 'string' || !child.is('stanza-id', STANZA_ID_NS)) continue
    const { by, id } = child.attrs
    if (by !== undefined && id !== undefined && id !== '' && by.toLowerCase() === recipient) return id
  }
  return null
}
