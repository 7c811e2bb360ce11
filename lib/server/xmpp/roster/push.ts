// Roster pushes (RFC 6121 §2.1.6): an item that changed goes, as an iq set, to every resource of
// the account that asked for its roster in this session (an "interested resource").
import type { ClientSession, SessionRegistry } from '../sessions.js'
import { Element, type LtxElement } from '../transport.js'
import type { RosterItem } from './store.js'

export const NS_ROSTER = 'jabber:iq:roster'

/** The <item/> of a roster result or push; `removed` writes subscription="remove". */
export function itemElement(item: RosterItem, removed = false): LtxElement {
  const attrs: Record<string, string> = { jid: item.jid, subscription: removed ? 'remove' : item.subscription }
  if (item.name) attrs.name = item.name
  if (item.ask && !removed) attrs.ask = 'subscribe'
  const el = new Element('item', attrs)
  if (!removed) for (const g of item.groups) el.c('group').t(g)
  return el
}

export function createPusher(sessions: SessionRegistry) {
  const interested = new WeakSet<ClientSession>()
  let seq = 0

  /** Sends the item (or its removal) to the account's interested resources. */
  function push(account: string, item: RosterItem, removed = false): void {
    for (const s of sessions.resources(account)) {
      if (!interested.has(s)) continue
      const iq = new Element('iq', { type: 'set', id: `push${++seq}`, to: s.jid.toString() })
      iq.c('query', { xmlns: NS_ROSTER }).cnode(itemElement(item, removed))
      s.send(iq)
    }
  }

  return { push, interested: (s: ClientSession) => void interested.add(s) }
}

export type Pusher = ReturnType<typeof createPusher>
