// One handler on one vhost, fixed at start: which events it wants (and from which hook), its filter, its bound on what
// may be pending, and how one try of a stored notification becomes a request (body and headers
// built now, at each try, from the stored event: static headers and signing secrets never reach
// the outbox). Its deliverer serves it as a lane; the hook asks it only accepts().
import type { Element, JID } from '../contract.js'
import type { Lane } from './deliverer.js'
import type { DeliveryPolicy } from './delivery.js'
import { pushEventOf } from './event.js'
import type { Filter } from './filter.js'
import type { EventKind } from './options.js'
import type { OutboxEntry } from './outbox/outbox.js'
import { requestParts, type HttpRequest, type RequestShape } from './payload.js'
import { webhookTimestamp } from './signing.js'

export interface HandlerDeps {
  host: string
  name: string
  url: string
  poolName: string
  maxQueue: number
  events: readonly EventKind[]
  /** only_offline_recipient: its messages come from offline_message instead of user_send_packet (default false). */
  onlyOffline?: boolean
  filter: Filter
  shape: RequestShape
  policy: DeliveryPolicy
}

export class Handler implements Lane {
  readonly host: string
  readonly name: string
  readonly url: string
  readonly poolName: string
  readonly maxQueue: number
  readonly policy: DeliveryPolicy
  readonly wantsMessages: boolean
  readonly wantsPresence: boolean
  /** The hook its message events come from: offline_message (only_offline_recipient) or user_send_packet. */
  readonly messageHook: 'user_send_packet' | 'offline_message'
  /** Its callback module reads the packet: the stanza's XML is stored with its events. */
  readonly needsStanza: boolean
  private readonly filter: Filter
  private readonly shape: RequestShape

  constructor(deps: HandlerDeps) {
    this.host = deps.host
    this.name = deps.name
    this.url = deps.url
    this.poolName = deps.poolName
    this.maxQueue = deps.maxQueue
    this.policy = deps.policy
    this.wantsMessages = deps.events.includes('message')
    this.wantsPresence = deps.events.includes('presence')
    this.messageHook = deps.onlyOffline ? 'offline_message' : 'user_send_packet'
    this.needsStanza = deps.shape.callback?.prepareBody !== undefined || deps.shape.callback?.prepareHeaders !== undefined
    this.filter = deps.filter
    this.shape = deps.shape
  }

  /** The filter's verdict; a callback's error propagates (the instance counts it). */
  accepts(packet: Element, from: JID, to: JID): boolean {
    return this.filter(packet, from, to)
  }

  /**
   * The request of one try. Every request carries the notification's webhook-id (fixed when it
   * was accepted, the same on every try) and this try's webhook-timestamp; with signing, the
   * signatures over id.timestamp.body, so a retry is never stale at the receiver. Throws when a
   * callback does.
   */
  request(entry: OutboxEntry): HttpRequest {
    const { body, headers } = requestParts(pushEventOf(this.host, entry.event), this.shape)
    const timestamp = webhookTimestamp()
    const out: Record<string, string> = { ...headers, 'webhook-id': entry.webhookId, 'webhook-timestamp': timestamp }
    if (this.policy.signer) out['webhook-signature'] = this.policy.signer.sign(entry.webhookId, timestamp, body)
    return { url: this.url, body, headers: out }
  }
}
