// jabber:iq:roster (RFC 6121 §2) for an account's own resources. On a stored-roster vhost: get
// returns the account's items from roster.sqlite, set adds or updates one item (name, groups),
// subscription="remove" removes it (cancelling both directions of its subscription), and every
// change is pushed to the account's interested resources. On a shared-roster vhost: every other
// account of the vhost, subscription both, read-only (set: not-allowed). No roster versioning.
import { jid as parseJid } from '@xmpp/jid'
import type { Accounts } from '../accounts.js'
import type { ClientSession } from '../sessions.js'
import { Element, errorReply, type LtxElement } from '../transport.js'
import { itemElement, NS_ROSTER, type Pusher } from './push.js'
import type { RosterItem, RosterStore } from './store.js'
import type { Subscriptions } from './subscriptions.js'

/** Bounds of one item and of a roster (RFC 6121 §2.3.3 lets a server set them). */
export const MAX_ITEMS = 1000
export const MAX_NAME = 1023

export interface RosterIqDeps {
  store: RosterStore
  accounts: Accounts
  pusher: Pusher
  subscriptions: Subscriptions
  stored(host: string): boolean
}

export function createRosterIq({ store, accounts, pusher, subscriptions, stored }: RosterIqDeps) {
  function result(iq: LtxElement): LtxElement {
    const attrs: Record<string, string> = { type: 'result', id: iq.attrs.id }
    if (iq.attrs.to) attrs.from = iq.attrs.to
    attrs.to = iq.attrs.from
    return new Element('iq', attrs)
  }

  function get(from: ClientSession, iq: LtxElement): LtxElement {
    const reply = result(iq)
    const query = reply.c('query', { xmlns: NS_ROSTER })
    if (!stored(from.host)) {
      for (const jid of accounts.onHost(from.host)) {
        if (jid !== from.bare) query.c('item', { jid, subscription: 'both', name: jid.slice(0, jid.indexOf('@')) })
      }
      return reply
    }
    for (const item of store.items(from.bare)) query.cnode(itemElement(item))
    return reply
  }

  /** The item's bare JID, lower case, or an error condition. */
  function contactOf(raw: string | undefined): string | { condition: string; text: string } {
    if (!raw) return { condition: 'bad-request', text: 'the item has no jid' }
    try {
      const j = parseJid(raw)
      if (j.resource) return { condition: 'bad-request', text: 'a roster item is a bare JID' }
      return j.local ? `${j.local}@${j.domain}`.toLowerCase() : j.domain.toLowerCase()
    } catch {
      return { condition: 'jid-malformed', text: 'not a JID' }
    }
  }

  function set(from: ClientSession, iq: LtxElement, payload: LtxElement): LtxElement {
    const fail = (type: string, condition: string, text: string) => errorReply(iq, type, condition, text)
    if (!stored(from.host)) return fail('cancel', 'not-allowed', 'the roster of this vhost is shared and read-only')
    const items = payload.getChildren('item')
    if (items.length !== 1) return fail('modify', 'bad-request', 'a roster set holds exactly one item')
    const el = items[0]
    const jid = contactOf(el.attrs.jid)
    if (typeof jid !== 'string') return fail('modify', jid.condition, jid.text)
    if (jid === from.bare) return fail('cancel', 'not-allowed', 'the own account is not a contact')
    const existing = store.item(from.bare, jid)
    if (el.attrs.subscription === 'remove') {
      if (!existing) return fail('cancel', 'item-not-found', 'no such item')
      subscriptions.removeItem(from.bare, existing)
      return result(iq)
    }
    const groups = el.getChildren('group').map((g) => g.getText())
    if (new Set(groups).size !== groups.length) return fail('modify', 'bad-request', 'a group is named twice')
    if (groups.some((g) => g.length === 0 || g.length > MAX_NAME)) return fail('modify', 'not-acceptable', `group names have 1 to ${MAX_NAME} characters`)
    const name = el.attrs.name ? String(el.attrs.name) : null
    if (name && name.length > MAX_NAME) return fail('modify', 'not-acceptable', `names have at most ${MAX_NAME} characters`)
    if (!existing && store.items(from.bare).length >= MAX_ITEMS) return fail('wait', 'resource-constraint', `a roster holds at most ${MAX_ITEMS} items`)
    // subscription and ask are the server's: what the client wrote there is ignored (RFC 6121 §2.1.2).
    const item: RosterItem = { ...(existing ?? { jid, subscription: 'none', ask: false }), name, groups }
    store.put(from.bare, item)
    pusher.push(from.bare, item)
    return result(iq)
  }

  /** Answers a roster get or set of the account's own resource. */
  function handle(from: ClientSession, iq: LtxElement, payload: LtxElement): void {
    if (iq.attrs.type === 'get') {
      pusher.interested(from)
      return from.send(get(from, iq))
    }
    from.send(set(from, iq, payload))
  }

  return { handle }
}
