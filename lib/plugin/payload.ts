// What a notification carries and how it goes over the wire: the event a hook saw, the
// Notification handed to callbacks, the seed's form body (or the JSON one, json-payload.ts),
// callback-built bodies and headers, static headers, and the endpoint URL. Pure functions; a
// callback's error propagates to the caller.
import type { Element, JID } from '../contract.js'
import { ConfigError } from '../errors.js'
import type { CallbackModule } from './callback-module.js'
import { jsonBody, JSON_CONTENT_TYPE } from './json-payload.js'
import { stanzaIdOf } from './stanza-id.js'

/** The seed's four fields plus context (DESIGN.md). */
export interface Notification {
  /** The vhost. */
  host: string
  /** Sender's localpart. */
  sender: string
  /** Recipient's localpart ("" for a bare-domain `to`). */
  receiver: string
  /** Body text ("" when the packet has none). */
  message: string
  packet: Element
  from: JID
  to: JID
}

/** What a hook saw, once per packet or presence change, shared by every handler that takes it. */
export interface PushEvent {
  event: 'message' | 'presence'
  host: string
  /** The sender's full JID (presence: the resource that came or went). */
  from: JID
  /** The stanza's `to`, the vhost when it has none; presence: the vhost. */
  to: JID
  /** Message: its type attribute, "normal" when absent. Presence: "available" or "unavailable". */
  type: string
  /** The stanza's id attribute; null when absent (always for presence). */
  id: string | null
  /** The first <body>'s text; null without one (always for presence). */
  body: string | null
  /** Message: the recipient's XEP-0359 stanza id (stanza-id.ts); null without one (always for presence). */
  stanzaId: string | null
  /** Milliseconds since the epoch, when the hook ran. */
  time: number
  /** Message events: what callback modules receive. */
  notification: Notification | undefined
}

export const FORM_CONTENT_TYPE = 'application/x-www-form-urlencoded'

/** One request as the pool sends it. */
export interface HttpRequest {
  url: string
  body: string | Buffer
  /** Lower-case names, merged over the pool's defaults; undefined: the defaults only. */
  headers: Record<string, string> | undefined
}

/** How one handler turns an event into a request body and headers; fixed at start. */
export interface RequestShape {
  format: 'form' | 'json'
  /** Form bodies get `event` and `type` after the seed's four fields. */
  extendedForm: boolean
  /** Static headers plus the format's content type; undefined: nothing beyond the pool's defaults. */
  headers: Record<string, string> | undefined
  callback: CallbackModule | undefined
}

export function notificationOf(host: string, packet: Element, from: JID, to: JID, body = packet.getChildText('body')): Notification {
  return {
    host,
    sender: from.local ?? '',
    receiver: to.local ?? '',
    message: body ?? '',
    packet,
    from,
    to,
  }
}

export function messageEvent(host: string, packet: Element, from: JID, to: JID, time: number): PushEvent {
  const body = packet.getChildText('body')
  return {
    event: 'message',
    host,
    from,
    to,
    type: packet.attrs.type ?? 'normal',
    id: packet.attrs.id ?? null,
    body,
    stanzaId: stanzaIdOf(packet, to),
    time,
    notification: notificationOf(host, packet, from, to, body),
  }
}

/** `to` is the vhost's JID: a presence broadcast has no `to`, and the host fills in the vhost. */
export function presenceEvent(host: string, hostJid: JID, from: JID, type: 'available' | 'unavailable', time: number): PushEvent {
  return { event: 'presence', host, from, to: hostJid, type, id: null, body: null, stanzaId: null, time, notification: undefined }
}

type FormSource = Pick<Notification, 'sender' | 'receiver' | 'message' | 'from'>

/**
 * `author, server, receiver, message`, in that order, in standard form encoding: any form parser
 * returns the exact strings. `extra` fields follow. The fast path writes the fields with
 * encodeURIComponent (spaces as "+", as URLSearchParams does); a string it cannot encode (a lone
 * surrogate) falls back to URLSearchParams, which writes U+FFFD for it.
 */
export function formBody(n: FormSource, extra?: { event: string; type: string }): string {
  try {
    let out = `author=${formEncode(n.sender)}&server=${formEncode(n.from.domain)}&receiver=${formEncode(n.receiver)}&message=${formEncode(n.message)}`
    if (extra) out += `&event=${formEncode(extra.event)}&type=${formEncode(extra.type)}`
    return out
  } catch {
    const params = new URLSearchParams([
      ['author', n.sender],
      ['server', n.from.domain],
      ['receiver', n.receiver],
      ['message', n.message],
    ])
    if (extra) {
      params.append('event', extra.event)
      params.append('type', extra.type)
    }
    return params.toString()
  }
}

function formEncode(value: string): string {
  const encoded = encodeURIComponent(value)
  return encoded.includes('%20') ? encoded.replaceAll('%20', '+') : encoded
}

function builtinBody(ev: PushEvent, shape: RequestShape): string {
  if (shape.format === 'json') return jsonBody(ev)
  const source: FormSource = ev.notification ?? { sender: ev.from.local ?? '', receiver: ev.to.local ?? '', message: '', from: ev.from }
  return formBody(source, shape.extendedForm ? ev : undefined)
}

// Framing is got's business: a callback that sets these would corrupt the request.
const RESERVED_HEADERS = new Set(['content-length', 'transfer-encoding', 'connection', 'host'])
// Set on every try by the handler (handler.ts, signing.ts); a static or callback value would contradict them.
const WEBHOOK_HEADERS = new Set(['webhook-id', 'webhook-timestamp', 'webhook-signature'])

/**
 * The body and headers of one event for one handler. Callbacks shape message events only:
 * presence events have no packet to hand them, so they always get the built-in body.
 */
export function requestParts(ev: PushEvent, shape: RequestShape): Pick<HttpRequest, 'body' | 'headers'> {
  const n = ev.notification
  const callback = n ? shape.callback : undefined
  const body = n && callback?.prepareBody ? checkedBody(callback.prepareBody(n)) : builtinBody(ev, shape)
  const headers = n && callback?.prepareHeaders ? { ...shape.headers, ...checkedHeaders(callback.prepareHeaders(n)) } : shape.headers
  return { body, headers }
}

/**
 * A handler's fixed headers: the JSON content type, then the static `headers` (lower-cased; they
 * may override the content type). Framing and webhook-* names are config errors at `at.<name>`.
 */
export function staticHeaders(format: 'form' | 'json', headers: Record<string, string>, at: string): Record<string, string> | undefined {
  const out: Record<string, string> = format === 'json' ? { 'content-type': JSON_CONTENT_TYPE } : {}
  for (const [name, value] of Object.entries(headers)) {
    const key = name.toLowerCase()
    if (RESERVED_HEADERS.has(key)) throw new ConfigError(`${at}.${name}`, 'is set by the HTTP client and cannot be configured')
    if (WEBHOOK_HEADERS.has(key))
      throw new ConfigError(`${at}.${name}`, "is set on every request (the notification's id, the try's timestamp, signing_secrets) and cannot be configured")
    out[key] = value
  }
  return Object.keys(out).length > 0 ? out : undefined
}

function checkedBody(body: unknown): string | Buffer {
  if (typeof body === 'string' || Buffer.isBuffer(body)) return body
  if (body instanceof Uint8Array) return Buffer.from(body.buffer, body.byteOffset, body.byteLength)
  throw new TypeError(`prepareBody must return a string or a Buffer, not ${describe(body)}`)
}

function checkedHeaders(headers: unknown): Record<string, string> {
  if (typeof headers !== 'object' || headers === null || Array.isArray(headers)) {
    throw new TypeError(`prepareHeaders must return an object of strings, not ${describe(headers)}`)
  }
  const out: Record<string, string> = {}
  for (const [name, value] of Object.entries(headers)) {
    if (typeof value !== 'string') throw new TypeError(`prepareHeaders: header "${name}" is ${describe(value)}, not a string`)
    const key = name.toLowerCase()
    if (!RESERVED_HEADERS.has(key) && !WEBHOOK_HEADERS.has(key)) out[key] = value
  }
  return out
}

function describe(value: unknown): string {
  return value === null ? 'null' : Array.isArray(value) ? 'an array' : typeof value
}

/**
 * Joins URL parts with exactly one `/` between non-empty parts: the seed's
 * ("http://localhost:8000", "/webservice", "/notifications") gives
 * http://localhost:8000/webservice/notifications. A trailing slash on the last part is kept
 * (some endpoints need it).
 */
export function joinUrl(...parts: string[]): string {
  let url = ''
  for (const part of parts) {
    const inner = part.replace(/^\/+/, '').replace(/\/+$/, '')
    if (inner) url = url ? `${url}/${inner}` : inner
  }
  const last = parts.findLast((p) => p.replace(/^\/+/, '') !== '')
  return last !== undefined && last.endsWith('/') && url !== '' ? `${url}/` : url
}

/** The URL without credentials, for logs and the status command. */
export function displayUrl(url: string): string {
  try {
    const u = new URL(url)
    if (!u.username && !u.password) return url
    u.username = ''
    u.password = ''
    return u.href
  } catch {
    return url
  }
}
