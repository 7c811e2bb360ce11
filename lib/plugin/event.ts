// The event as the outbox keeps it, and back. A hook turns what it saw into a StoredEvent once
// per packet (plain strings: what a file or a broker can hold); each try turns it back into the
// PushEvent that payloads and callback modules read. The stanza's XML is kept only when a
// handler's callback module builds bodies or headers from the packet.
import { jid } from '@xmpp/jid'
import { Element as XmlElement, parse as parseXml } from 'ltx'
import type { Element, JID } from '../contract.js'
import type { StoredEvent } from './outbox/outbox.js'
import { notificationOf, type PushEvent } from './payload.js'
import { stanzaIdOf } from './stanza-id.js'

export function storedMessage(packet: Element, from: JID, to: JID, time: number, keepStanza: boolean): StoredEvent {
  return {
    event: 'message',
    from: from.toString(),
    to: to.toString(),
    type: packet.attrs.type ?? 'normal',
    id: packet.attrs.id ?? null,
    body: packet.getChildText('body'),
    stanzaId: stanzaIdOf(packet, to),
    time,
    stanza: keepStanza ? packet.toString() : null,
  }
}

/** Presence has no `to`: the vhost stands in (as the host fills in for a broadcast). */
export function storedPresence(host: string, who: JID, type: 'available' | 'unavailable', time: number): StoredEvent {
  return { event: 'presence', from: who.toString(), to: host, type, id: null, body: null, stanzaId: null, time, stanza: null }
}

/**
 * The PushEvent of a stored one. A message without its stanza gets a stand-in packet rebuilt
 * from the stored fields (the built-in payloads read only those); with it, the parsed stanza.
 */
export function pushEventOf(host: string, stored: StoredEvent): PushEvent {
  const from = jid(stored.from)
  const to = jid(stored.to)
  if (stored.event === 'presence') {
    return { event: 'presence', host, from, to, type: stored.type, id: null, body: null, stanzaId: null, time: stored.time, notification: undefined }
  }
  const packet = stored.stanza !== null ? (parseXml(stored.stanza) as unknown as Element) : standIn(stored)
  return {
    event: 'message',
    host,
    from,
    to,
    type: stored.type,
    id: stored.id,
    body: stored.body,
    stanzaId: stored.stanzaId ?? null,
    time: stored.time,
    notification: notificationOf(host, packet, from, to, stored.body),
  }
}

function standIn(stored: StoredEvent): Element {
  const attrs: Record<string, string> = { from: stored.from, to: stored.to, type: stored.type }
  if (stored.id !== null) attrs.id = stored.id
  const packet = new XmlElement('message', attrs)
  if (stored.body !== null) packet.c('body').t(stored.body)
  return packet as unknown as Element
}
