// Which packets make a notification: the seed's default (a chat message with a non-empty body)
// or the callback module's shouldMakeReq. Pure; a callback's error propagates to the caller,
// which counts it as a failure for that packet and handler.
import type { Element, JID } from '../contract.js'
import type { CallbackModule } from './callback-module.js'

export type Filter = (packet: Element, from: JID, to: JID) => boolean

/** The seed's should_make_req: `<message type="chat">` whose first `<body>` has text. */
export function isChatWithBody(packet: Element): boolean {
  if (packet.name !== 'message' || packet.attrs.type !== 'chat') return false
  const body = packet.getChildText('body')
  return body !== null && body !== ''
}

const defaultFilter: Filter = (packet) => isChatWithBody(packet)

export function createFilter(callback: CallbackModule | undefined): Filter {
  if (!callback) return defaultFilter
  const { shouldMakeReq } = callback
  return function callbackFilter(packet, from, to) {
    const verdict: unknown = shouldMakeReq(packet, from, to)
    // An async shouldMakeReq would make every packet "truthy": refuse it rather than send everything.
    if (typeof (verdict as PromiseLike<unknown> | null)?.then === 'function') {
      throw new TypeError('shouldMakeReq returned a promise; it must be synchronous')
    }
    return Boolean(verdict)
  }
}
