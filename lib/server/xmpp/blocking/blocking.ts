// XEP-0191 blocking command (v1.3): each account keeps a list of blocked JIDs (blocking.sqlite,
// store.ts), read, extended and cleared with iqs in urn:xmpp:blocking to the own account, with
// pushes of every change to the account's resources that have read the list. A stanza the check
// stops is never routed, never stamped, never seen by user_send_packet (so never notified by a
// plugin) and never kept offline (so offline_message does not fire): c2s.ts calls stops() first.
//   - from a blocked JID to the account (XEP-0191 §3.5): messages and iq requests get
//     service-unavailable back, as if the account did not exist; presence and the rest are dropped;
//   - from the account to a blocked JID (§3.4): not-acceptable with <blocked xmlns=
//     'urn:xmpp:blocking:errors'/>; an iq result or error is dropped.
// Items match as XEP-0016 says: a full JID, a bare JID (any resource), domain/resource, a domain
// (every JID at it). Stanzas to the server itself and within one account are never stopped.
// After a change, `changed` (presence.ts) sends or withdraws the account's presence (§3.3).
import type { JID } from '@xmpp/jid'
import { Counter, type Registry } from 'prom-client'
import type { Logger } from '../../../contract.js'
import { parseBoundedJid } from '../jid-cache.js'
import type { IqExtension } from '../server-iq.js'
import type { ClientSession, SessionRegistry } from '../sessions.js'
import { Element, errorReply, type LtxElement } from '../transport.js'
import type { BlockingStore } from './store.js'

export const NS_BLOCKING = 'urn:xmpp:blocking'
const NS_BLOCKED_ERR = 'urn:xmpp:blocking:errors'
/** Items one account may block: a bound on the memory and the pushes a client can cause. */
export const MAX_BLOCKED = 10_000

export interface BlockingDeps {
  store: BlockingStore
  sessions: SessionRegistry
  isVhost(domain: string): boolean
  /** The vhosts: their series exist from start at 0. */
  hosts: readonly string[]
  registry: Registry
  log: Logger
  /** Called after a block, unblock or unblock-all changed `account`'s list (presence.ts, XEP-0191 §3.3). */
  changed?(account: string, blocked: string[], unblocked: string[]): void
}

/** An item's JID, normalised (lower-case local and domain parts); throws on a malformed one. */
function parseItem(address: string): string {
  const j = parseBoundedJid(address)
  if (!j.domain || /[@/\s]/.test(j.domain)) throw new Error('malformed domain')
  return j.toString()
}

/** The entries of a list that would match `j` (XEP-0016 §2.1), most specific first. */
export function candidates(j: JID): string[] {
  const out: string[] = []
  if (j.local) {
    if (j.resource) out.push(`${j.local}@${j.domain}/${j.resource}`)
    out.push(`${j.local}@${j.domain}`)
  }
  if (j.resource) out.push(`${j.domain}/${j.resource}`)
  out.push(j.domain)
  return out
}

export function createBlocking({ store, sessions, isVhost, hosts, registry, log, changed: onChange }: BlockingDeps) {
  /** Sessions that read the list (XEP-0191 §3.2): only they get pushes. */
  const interested = new WeakSet<ClientSession>()
  const stopped = new Counter({
    name: 'xmppd_blocked_stanzas_total',
    help: 'Stanzas not routed because of a block list (XEP-0191): direction "in" from a blocked JID, "out" to one',
    labelNames: ['host', 'direction'],
    registers: [registry],
  })
  for (const host of hosts) for (const direction of ['in', 'out']) stopped.inc({ host, direction }, 0)
  let pushes = 0

  /** Whether `account` (a lower-case bare JID) blocks `j`. */
  function blocks(account: string, j: JID): boolean {
    for (const c of candidates(j)) if (store.has(account, c)) return true
    return false
  }

  /**
   * Called by c2s.ts for every stanza a client sends, before anything else happens to it; true when
   * the block lists stopped it (answered or dropped here: the caller does nothing more with it).
   */
  function stops(from: ClientSession, stanza: LtxElement, to: JID | null): boolean {
    if (!to?.local || !isVhost(from.host)) return false
    const bare = `${to.local}@${to.domain}`
    if (bare === from.bare) return false
    const type = stanza.attrs.type
    const request = stanza.name === 'message' || (stanza.name === 'iq' && (type === 'get' || type === 'set'))
    if (blocks(from.bare, to)) {
      stopped.inc({ host: from.host, direction: 'out' })
      if (type !== 'error' && (request || stanza.name === 'presence')) {
        const reply = errorReply(stanza, 'cancel', 'not-acceptable')
        reply.getChild('error')?.c('blocked', { xmlns: NS_BLOCKED_ERR })
        from.send(reply)
      }
      return true
    }
    if (isVhost(to.domain) && blocks(bare, from.jid)) {
      stopped.inc({ host: to.domain, direction: 'in' })
      if (request && type !== 'error') from.send(errorReply(stanza, 'cancel', 'service-unavailable'))
      return true
    }
    return false
  }

  function push(account: string, payload: LtxElement): void {
    for (const s of sessions.resources(account)) {
      if (!interested.has(s)) continue
      const iq = new Element('iq', { type: 'set', to: s.jid.toString(), id: `block-push-${++pushes}` })
      iq.cnode(payload.clone())
      s.send(iq)
    }
  }

  function payloadOf(name: 'blocklist' | 'block' | 'unblock', jids: readonly string[]): LtxElement {
    const el = new Element(name, { xmlns: NS_BLOCKING })
    for (const j of jids) el.c('item', { jid: j })
    return el
  }

  function result(iq: LtxElement): LtxElement {
    return new Element('iq', { type: 'result', id: iq.attrs.id, to: iq.attrs.from })
  }

  /** server-iq.ts extension: the list of the requester's own account. */
  const iq: IqExtension = (from, stanza, payload, to) => {
    if (payload.attrs.xmlns !== NS_BLOCKING) return false
    if (to?.local && `${to.local}@${to.domain}` !== from.bare) return false // another account's list: service-unavailable
    const type = stanza.attrs.type
    if (type === 'get' && payload.name === 'blocklist') {
      interested.add(from)
      const reply = result(stanza)
      reply.cnode(payloadOf('blocklist', store.list(from.bare)))
      from.send(reply)
      return true
    }
    if (type !== 'set' || (payload.name !== 'block' && payload.name !== 'unblock')) {
      from.send(errorReply(stanza, 'modify', 'bad-request'))
      return true
    }
    const jids: string[] = []
    for (const item of payload.getChildren('item')) {
      try {
        jids.push(parseItem(String(item.attrs.jid ?? '')))
      } catch {
        from.send(errorReply(stanza, 'modify', 'jid-malformed', `not a JID: ${String(item.attrs.jid ?? '')}`))
        return true
      }
    }
    if (payload.name === 'block' && jids.length === 0) {
      from.send(errorReply(stanza, 'modify', 'bad-request', '<block/> needs at least one <item/>'))
      return true
    }
    let changed: string[]
    try {
      if (payload.name === 'block') {
        const have = store.list(from.bare).length
        if (have + jids.length > MAX_BLOCKED) {
          from.send(errorReply(stanza, 'wait', 'resource-constraint', `a block list holds at most ${MAX_BLOCKED} items`))
          return true
        }
        changed = store.block(from.bare, jids)
      } else {
        changed = store.unblock(from.bare, jids.length === 0 ? null : jids)
      }
    } catch (err) {
      log.error({ err, jid: from.bare }, 'block list write failed')
      from.send(errorReply(stanza, 'wait', 'internal-server-error', 'the block list could not be saved'))
      return true
    }
    from.send(result(stanza))
    // Unblock-all pushes <unblock/> without items, as the XEP shows; otherwise the JIDs that changed.
    if (payload.name === 'unblock' && jids.length === 0) push(from.bare, payloadOf('unblock', []))
    else if (changed.length > 0) push(from.bare, payloadOf(payload.name, changed))
    if (changed.length > 0) onChange?.(from.bare, payload.name === 'block' ? changed : [], payload.name === 'block' ? [] : changed)
    return true
  }

  return { iq, stops, blocks, close: () => store.close() }
}

export type Blocking = ReturnType<typeof createBlocking>
