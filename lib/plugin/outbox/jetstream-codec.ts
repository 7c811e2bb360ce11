// How a notification lives in JetStream: its subject (stream, vhost, handler), its consumer's name,
// and its message (the stored event as JSON; the delivery state in headers, which the deliverer
// sets when it republishes a retry). The attempts are counted in a header, never taken from
// JetStream's delivery count, which also counts naks and redeliveries.
import { headers as natsHeaders, type MsgHdrs } from '@nats-io/transport-node'
import type { DeadLetter } from './dead-letter.js'
import type { DeadReason, OutboxEntry, StoredEvent } from './outbox.js'

const H = {
  webhookId: 'Xmppd-Webhook-Id',
  acceptedAt: 'Xmppd-Accepted-At',
  attempts: 'Xmppd-Attempts',
  replays: 'Xmppd-Replays',
  dueAt: 'Xmppd-Due-At',
  firstAttemptAt: 'Xmppd-First-Attempt-At',
  lastAttemptAt: 'Xmppd-Last-Attempt-At',
  lastStatus: 'Xmppd-Last-Status',
  lastError: 'Xmppd-Last-Error',
  failedAt: 'Xmppd-Failed-At',
  reason: 'Xmppd-Reason',
} as const

/** Subject tokens and consumer names may not hold '.', '*', '>', whitespace or slashes: escape all but [A-Za-z0-9-]. */
export function token(s: string): string {
  let out = ''
  for (const ch of s) {
    if (/[A-Za-z0-9-]/.test(ch)) out += ch
    else for (const b of Buffer.from(ch)) out += `_${b.toString(16).padStart(2, '0')}`
  }
  return out
}

/** The names one stream setting gives: the work stream, its dead letters' stream, and their subjects. */
export class Names {
  readonly dead: string
  /** Work subjects by host and handler: asked for on every add (a handful of pairs per process). */
  private readonly subjects = new Map<string, string>()
  constructor(readonly stream: string) {
    this.dead = `${stream}_DEAD`
  }

  subject(host: string, handler: string): string {
    const k = `${host}\0${handler}`
    let s = this.subjects.get(k)
    if (s === undefined) this.subjects.set(k, (s = `${this.stream}.${token(host)}.${token(handler)}`))
    return s
  }

  deadSubject(host: string, handler: string): string {
    return `${this.dead}.${token(host)}.${token(handler)}`
  }

  /** Every handler of a host, in one of the streams. */
  hostFilter(host: string, dead = false): string {
    return `${dead ? this.dead : this.stream}.${token(host)}.*`
  }

  /** The shared durable pull consumer of one (vhost, handler). */
  consumer(host: string, handler: string): string {
    return `${token(host)}__${token(handler)}`
  }

  /** A subject of either stream back to its vhost and handler. */
  parse(subject: string): { host: string; handler: string } | undefined {
    const parts = subject.split('.')
    if (parts.length !== 3) return undefined
    return { host: decode(parts[1]), handler: decode(parts[2]) }
  }
}

function decode(t: string): string {
  const bytes: number[] = []
  for (let i = 0; i < t.length; i++) {
    if (t[i] === '_') {
      bytes.push(parseInt(t.slice(i + 1, i + 3), 16))
      i += 2
    } else bytes.push(t.charCodeAt(i))
  }
  return Buffer.from(bytes).toString('utf8')
}

/** What the headers carry besides the event: the entry's delivery state and its replays. */
export interface Carried {
  webhookId: string
  acceptedAt: number
  attempts: number
  replays: number
  /** Not before this (ms): a retry republished with its backoff. */
  dueAt?: number
  firstAttemptAt?: number
  lastAttemptAt?: number
  lastStatus?: number
  lastError?: string
}

/** Header values are one line. */
const oneLine = (s: string) => s.replace(/[\r\n]+/g, ' ')

export function encodeHeaders(c: Carried, dead?: { failedAt: number; reason: DeadReason }): MsgHdrs {
  const h = natsHeaders()
  h.set(H.webhookId, c.webhookId)
  h.set(H.acceptedAt, String(c.acceptedAt))
  h.set(H.attempts, String(c.attempts))
  h.set(H.replays, String(c.replays))
  if (c.dueAt !== undefined) h.set(H.dueAt, String(c.dueAt))
  if (c.firstAttemptAt !== undefined) h.set(H.firstAttemptAt, String(c.firstAttemptAt))
  if (c.lastAttemptAt !== undefined) h.set(H.lastAttemptAt, String(c.lastAttemptAt))
  if (c.lastStatus !== undefined) h.set(H.lastStatus, String(c.lastStatus))
  if (c.lastError !== undefined) h.set(H.lastError, oneLine(c.lastError))
  if (dead) {
    h.set(H.failedAt, String(dead.failedAt))
    h.set(H.reason, dead.reason)
  }
  return h
}

const num = (h: MsgHdrs | undefined, k: string): number | undefined => {
  const v = h?.get(k)
  return v ? Number(v) : undefined
}

export function decodeHeaders(h: MsgHdrs | undefined, fallbackAt: number): Carried {
  return {
    webhookId: h?.get(H.webhookId) ?? '',
    acceptedAt: num(h, H.acceptedAt) ?? fallbackAt,
    attempts: num(h, H.attempts) ?? 0,
    replays: num(h, H.replays) ?? 0,
    dueAt: num(h, H.dueAt),
    firstAttemptAt: num(h, H.firstAttemptAt),
    lastAttemptAt: num(h, H.lastAttemptAt),
    lastStatus: num(h, H.lastStatus),
    lastError: h?.get(H.lastError) || undefined,
  }
}

/** Only the due time of a retry's copy: read for every message that arrives, before it is leased. */
export const dueAtOf = (h: MsgHdrs | undefined): number | undefined => num(h, H.dueAt)

export function decodeDead(h: MsgHdrs | undefined, fallbackAt: number): { failedAt: number; reason: DeadReason } {
  return { failedAt: num(h, H.failedAt) ?? fallbackAt, reason: (h?.get(H.reason) as DeadReason) || 'status' }
}

/**
 * The message id JetStream de-duplicates on: the webhook-id, plus the replay count once replayed,
 * plus the attempts for a retry's copy, plus "dead" for its dead letter. A publish retried after a
 * timeout keeps its id, so the engine drops the duplicate; a replay never collides with the original.
 */
export function msgId(c: Pick<Carried, 'webhookId' | 'replays' | 'attempts'>, kind: 'new' | 'retry' | 'dead'): string {
  const base = c.replays > 0 ? `${c.webhookId}.r${c.replays}` : c.webhookId
  if (kind === 'retry') return `${base}.a${c.attempts}`
  if (kind === 'dead') return `${base}.a${c.attempts}.dead`
  return base
}

export const encodeEvent = (event: StoredEvent): Uint8Array => Buffer.from(JSON.stringify(event))
export const decodeEvent = (data: Uint8Array): StoredEvent =>
  JSON.parse(Buffer.from(data.buffer, data.byteOffset, data.byteLength).toString('utf8')) as StoredEvent

/** An entry's headers as its carried state. */
export const carriedOf = (e: OutboxEntry, replays: number, dueAt?: number): Carried => ({
  webhookId: e.webhookId,
  acceptedAt: e.acceptedAt,
  attempts: e.attempts,
  replays,
  dueAt,
  firstAttemptAt: e.firstAttemptAt,
  lastAttemptAt: e.lastAttemptAt,
  lastStatus: e.lastStatus,
  lastError: e.lastError,
})

/** A dead letter's message back as the listing's record (key: its sequence in the dead stream). */
export function deadLetterFrom(
  seq: number,
  host: string,
  handler: string,
  h: MsgHdrs | undefined,
  data: Uint8Array,
  at: number,
): DeadLetter & { replays: number } {
  const c = decodeHeaders(h, at)
  const d = decodeDead(h, at)
  return {
    key: seq,
    webhookId: c.webhookId,
    host,
    handler,
    event: decodeEvent(data),
    attempts: c.attempts,
    acceptedAt: c.acceptedAt,
    firstAttemptAt: c.firstAttemptAt,
    lastAttemptAt: c.lastAttemptAt,
    failedAt: d.failedAt,
    reason: d.reason,
    status: c.lastStatus,
    error: c.lastError,
    replays: c.replays,
  }
}
