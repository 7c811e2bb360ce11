// Which packets make a notification: the built-in filter (by default the seed's: a chat message
// with a non-empty body; the handler's types, body_required, sender_hosts and recipients widen or
// narrow it) or the callback module's shouldMakeReq, which decides instead. Sets are built once at
// start, so the hook only does lookups. A callback's error propagates to the caller, which counts
// it as a failure for that packet and handler. Which hook feeds a filter (only_offline_recipient:
// offline_message, otherwise user_send_packet) is the instance's business, not the filter's.
import type { Element, JID } from '../contract.js'
import type { CallbackModule } from './callback-module.js'
import type { MessageType } from './options.js'

export type Filter = (packet: Element, from: JID, to: JID) => boolean

export interface MessageFilterOptions {
  types: readonly MessageType[]
  body_required: boolean
  /** Sender domains; undefined: any. */
  sender_hosts?: readonly string[]
  /** Bare JIDs (user@domain); undefined: any. */
  recipients?: readonly string[]
}

/** The seed's should_make_req: `<message type="chat">` whose first `<body>` has text. */
export function isChatWithBody(packet: Element): boolean {
  if (packet.name !== 'message' || packet.attrs.type !== 'chat') return false
  const body = packet.getChildText('body')
  return body !== null && body !== ''
}

const defaultFilter: Filter = (packet) => isChatWithBody(packet)

export function createFilter(callback: CallbackModule | undefined, options?: MessageFilterOptions): Filter {
  if (callback) return callbackFilter(callback)
  return options ? messageFilter(options) : defaultFilter
}

function callbackFilter({ shouldMakeReq }: CallbackModule): Filter {
  return function callbackFilter(packet, from, to) {
    const verdict: unknown = shouldMakeReq(packet, from, to)
    // An async shouldMakeReq would make every packet "truthy": refuse it rather than send everything.
    if (typeof (verdict as PromiseLike<unknown> | null)?.then === 'function') {
      throw new TypeError('shouldMakeReq returned a promise; it must be synchronous')
    }
    return Boolean(verdict)
  }
}

const isDefault = (o: MessageFilterOptions) => o.types.length === 1 && o.types[0] === 'chat' && o.body_required && !o.sender_hosts && !o.recipients

/**
 * The built-in filter for a handler's options. A message without a type attribute is "normal"
 * (RFC 6121); "error" messages never pass. A message to the server itself (no localpart) never
 * passes `recipients`: it has no recipient account.
 */
export function messageFilter(o: MessageFilterOptions): Filter {
  if (isDefault(o)) return defaultFilter
  const types = new Set<string>(o.types)
  const untyped = types.has('normal')
  const bodyRequired = o.body_required
  const senders = o.sender_hosts ? new Set(o.sender_hosts.map((h) => h.toLowerCase())) : undefined
  const recipients = o.recipients ? byDomain(o.recipients) : undefined
  return function messageFilter(packet, from, to) {
    if (packet.name !== 'message') return false
    const type = packet.attrs.type
    if (type === undefined ? !untyped : !types.has(type)) return false
    if (bodyRequired) {
      const body = packet.getChildText('body')
      if (body === null || body === '') return false
    }
    if (senders && !senders.has(from.domain)) return false
    if (recipients && !(to.local && recipients.get(to.domain)?.has(to.local))) return false
    return true
  }
}

/** user@domain strings as domain → localparts (JIDs compare case-insensitively, @xmpp/jid lower-cases). */
function byDomain(jids: readonly string[]): Map<string, Set<string>> {
  const map = new Map<string, Set<string>>()
  for (const j of jids) {
    const at = j.lastIndexOf('@')
    const local = j.slice(0, at).toLowerCase()
    const domain = j.slice(at + 1).toLowerCase()
    let locals = map.get(domain)
    if (!locals) map.set(domain, (locals = new Set()))
    locals.add(local)
  }
  return map
}
