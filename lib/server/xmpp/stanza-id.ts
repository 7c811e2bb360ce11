// XEP-0359 unique and stable stanza ids: the server stamps every message for a local account with
// `<stanza-id xmlns='urn:xmpp:sid:0' by='<recipient bare JID>' id='…'/>` before user_send_packet
// runs, so plugins, offline storage and the recipient all see the same id. A stanza-id the client
// wrote claiming to be by the recipient is removed first: only the server may vouch for it.
import { randomBytes } from 'node:crypto'
import { Element, type LtxElement } from './transport.js'

export const NS_SID = 'urn:xmpp:sid:0'

/** Ids are drawn from a pooled random buffer: 12 bytes (96 bits) each, base64url. */
const POOL_IDS = 256
let pool = Buffer.alloc(0)
let offset = 0

function nextId(): string {
  if (offset >= pool.length) {
    pool = randomBytes(12 * POOL_IDS)
    offset = 0
  }
  const id = pool.toString('base64url', offset, offset + 12)
  offset += 12
  return id
}

/** Stamps `message` for the account `bare` (lower case); returns the id. */
export function stampStanzaId(message: LtxElement, bare: string): string {
  const children = message.children
  for (let i = children.length - 1; i >= 0; i--) {
    const c = children[i]
    if (typeof c !== 'string' && c.name === 'stanza-id' && c.attrs.xmlns === NS_SID && String(c.attrs.by ?? '').toLowerCase() === bare) {
      children.splice(i, 1)
    }
  }
  const id = nextId()
  message.cnode(new Element('stanza-id', { xmlns: NS_SID, by: bare, id }))
  return id
}
