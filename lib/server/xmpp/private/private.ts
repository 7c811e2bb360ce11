// XEP-0049 private XML storage (jabber:iq:private), enough for XEP-0048 bookmarks: an account
// keeps one element set per namespace, readable and replaceable by its own resources only.
// XEP-0049 has no disco feature: nothing is advertised.
import type { JID } from '@xmpp/jid'
import type { Logger } from '../../../contract.js'
import { parse as parseXml } from 'ltx'
import type { ClientSession } from '../sessions.js'
import type { IqExtension } from '../server-iq.js'
import { Element, errorReply, type LtxElement } from '../transport.js'
import type { PrivateStore } from './store.js'

export const NS_PRIVATE = 'jabber:iq:private'
/** One namespace's stored elements, serialised (UTF-8 bytes). */
export const MAX_ELEMENT_BYTES = 64 * 1024
/** Everything one account stores, over all its namespaces. */
export const MAX_ACCOUNT_BYTES = 256 * 1024

/** XEP-0049 §2.3: namespaces beginning with jabber: or http://jabber.org/, and vcard-temp. */
export const isReserved = (ns: string) => ns.startsWith('jabber:') || ns.startsWith('http://jabber.org/') || ns === 'vcard-temp'

const elementsOf = (el: LtxElement) => el.children.filter((c): c is LtxElement => typeof c !== 'string')
const bytes = (s: string) => Buffer.byteLength(s, 'utf8')

export function createPrivate({ store, log }: { store: PrivateStore; log: Logger }): IqExtension {
  function reply(iq: LtxElement): LtxElement {
    const attrs: Record<string, string> = { type: 'result', id: iq.attrs.id, to: iq.attrs.from }
    if (iq.attrs.to) attrs.from = iq.attrs.to
    return new Element('iq', attrs)
  }

  function get(from: ClientSession, iq: LtxElement, wanted: LtxElement, ns: string): void {
    const result = reply(iq)
    const query = result.c('query', { xmlns: NS_PRIVATE })
    const kept = store.get(from.bare, ns)
    if (kept === undefined) {
      // Nothing stored: the requested element comes back empty (what clients expect of XEP-0048).
      query.c(wanted.name, { xmlns: ns })
    } else {
      for (const el of elementsOf(parseXml(`<kept>${kept}</kept>`) as unknown as LtxElement)) query.cnode(el)
    }
    from.send(result)
  }

  function set(from: ClientSession, iq: LtxElement, children: LtxElement[]): void {
    const groups = new Map<string, string>()
    for (const el of children) groups.set(el.attrs.xmlns, (groups.get(el.attrs.xmlns) ?? '') + el.toString())
    let total = store.size(from.bare)
    for (const [ns, xml] of groups) {
      if (bytes(xml) > MAX_ELEMENT_BYTES) {
        return from.send(errorReply(iq, 'modify', 'policy-violation', `private storage keeps at most ${MAX_ELEMENT_BYTES} bytes per namespace (${ns})`))
      }
      total += bytes(xml) - bytes(store.get(from.bare, ns) ?? '')
    }
    if (total > MAX_ACCOUNT_BYTES) {
      return from.send(errorReply(iq, 'modify', 'policy-violation', `private storage keeps at most ${MAX_ACCOUNT_BYTES} bytes per account`))
    }
    store.put(from.bare, groups)
    from.send(reply(iq))
  }

  return function privateStorage(from: ClientSession, iq: LtxElement, payload: LtxElement, to: JID | null): boolean {
    if (payload.attrs.xmlns !== NS_PRIVATE || payload.name !== 'query') return false
    const own = !to || (Boolean(to.local) && `${to.local}@${to.domain}` === from.bare)
    if (!own) return (from.send(errorReply(iq, 'auth', 'forbidden', 'private storage is only for the account itself')), true)
    const children = elementsOf(payload)
    if (children.length === 0) return (from.send(errorReply(iq, 'modify', 'bad-request', 'name the element to store or read')), true)
    if (children.some((el) => !el.attrs.xmlns || el.name.includes(':'))) {
      return (from.send(errorReply(iq, 'modify', 'bad-request', 'each element names its own namespace (xmlns)')), true)
    }
    const reserved = children.find((el) => isReserved(el.attrs.xmlns))
    if (reserved) return (from.send(errorReply(iq, 'modify', 'not-acceptable', `${reserved.attrs.xmlns} is a reserved namespace`)), true)
    if (iq.attrs.type === 'get' && children.length > 1) return (from.send(errorReply(iq, 'modify', 'bad-request', 'read one namespace per request')), true)
    try {
      if (iq.attrs.type === 'get') get(from, iq, children[0], children[0].attrs.xmlns)
      else set(from, iq, children)
    } catch (err) {
      // A full disk or a broken file: the client learns that nothing was read or kept.
      log.error({ err, account: from.bare }, 'private storage failed')
      from.send(errorReply(iq, 'wait', 'internal-server-error', 'private storage failed'))
    }
    return true
  }
}
