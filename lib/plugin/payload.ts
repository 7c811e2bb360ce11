// What a notification carries and how it goes over the wire: the Notification handed to
// callbacks, the seed's form body, optional callback-built body and headers, and the endpoint URL.
// Pure functions; a callback's error propagates to the caller.
import type { Element, JID } from '../contract.js'
import type { CallbackModule } from './callback-module.js'

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

export const FORM_CONTENT_TYPE = 'application/x-www-form-urlencoded'

/** One queued notification, ready for the pool. */
export interface NotificationRequest extends RequestParts {
  url: string
}

export interface RequestParts {
  body: string | Buffer
  /** Extra headers from prepareHeaders (lower-case names); undefined: the pool's defaults only. */
  headers: Record<string, string> | undefined
}

export function notificationOf(host: string, packet: Element, from: JID, to: JID): Notification {
  return {
    host,
    sender: from.local ?? '',
    receiver: to.local ?? '',
    message: packet.getChildText('body') ?? '',
    packet,
    from,
    to,
  }
}

/**
 * `author, server, receiver, message`, in that order, in standard form encoding (URLSearchParams
 * is the WHATWG serializer: any form parser returns the exact strings).
 */
export function formBody(n: Notification): string {
  return new URLSearchParams([
    ['author', n.sender],
    ['server', n.from.domain],
    ['receiver', n.receiver],
    ['message', n.message],
  ]).toString()
}

// Framing is got's business: a callback that sets these would corrupt the request.
const RESERVED_HEADERS = new Set(['content-length', 'transfer-encoding', 'connection', 'host'])

export function requestParts(n: Notification, callback: CallbackModule | undefined): RequestParts {
  const body = callback?.prepareBody ? checkedBody(callback.prepareBody(n)) : formBody(n)
  const headers = callback?.prepareHeaders ? checkedHeaders(callback.prepareHeaders(n)) : undefined
  return { body, headers }
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
    if (!RESERVED_HEADERS.has(key)) out[key] = value
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
