// The JSON body (format = "json"), version 1, described by docs/webhook-payload.schema.json.
// Field names and meanings are a contract with receivers: add fields, never change these.
import type { JID } from '../contract.js'
import type { PushEvent } from './payload.js'

export const JSON_CONTENT_TYPE = 'application/json'

export interface JsonPayloadV1 {
  version: 1
  event: 'message' | 'presence'
  host: string
  from: string
  to: string
  from_bare: string
  to_bare: string
  type: string
  id: string | null
  body: string | null
  /** The recipient's XEP-0359 stanza id; null when the message has none, and always for presence. */
  stanza_id: string | null
  timestamp: string
}

const bare = (j: JID) => (j.local ? `${j.local}@${j.domain}` : j.domain)

export function jsonPayload(ev: PushEvent): JsonPayloadV1 {
  return {
    version: 1,
    event: ev.event,
    host: ev.host,
    from: ev.from.toString(),
    to: ev.to.toString(),
    from_bare: bare(ev.from),
    to_bare: bare(ev.to),
    type: ev.type,
    id: ev.id,
    body: ev.body,
    stanza_id: ev.stanzaId,
    timestamp: new Date(ev.time).toISOString(),
  }
}

export function jsonBody(ev: PushEvent): string {
  return JSON.stringify(jsonPayload(ev))
}
