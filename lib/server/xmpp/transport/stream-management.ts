// XEP-0198 Stream Management (v1.6) on client streams: <enable/> → <enabled/>, the count of
// stanzas handled each way, <r/> and <a/> both ways, an outbound queue of the stanzas the client has
// not acknowledged, a session DETACHED (still bound) when its socket drops, <resume/> on a new stream
// (<resumed/>, the unacknowledged stanzas sent again, or <failed/>), and the resume_timeout after which
// a detached session ends with its unacknowledged stanzas handed back to the server (unacked.ts).
// (Part of the transport layer: see ../transport.ts.) The decisions are in docs/server.md.
import nxs, { type LtxElement } from 'node-xmpp-server'
import type { RawSession } from '../transport.js'
import type { SmRegistry } from './sm-registry.js'

export const NS_SM = 'urn:xmpp:sm:3'
const NS_STANZAS = 'urn:ietf:params:xml:ns:xmpp-stanzas'
/** Stanzas sent unacknowledged before the server asks for an ack (else it asks after REQUEST_AFTER_MS).
 * It asks once the event-loop turn's writes are done: a burst routed in one turn gets one <r/>. */
const REQUEST_EVERY = 5
const REQUEST_AFTER_MS = 1000
/** <r/>, serialized once. */
const REQUEST = '<r xmlns="urn:xmpp:sm:3"/>'

/** One client connection as stream management writes to it. */
export interface SmLink {
  /** Writes as is (a nonza, or a stanza already counted and queued). */
  write(el: LtxElement | string): void
  /** The server ends this stream (the session ends with it: no detach); a stream error when a condition is given. */
  end(condition?: string, text?: string): void
  /** Another connection resumed the session: this one goes, without a word and without ending the session. */
  drop(): void
}

export interface SmCounters {
  /** Detached sessions: +1 when one detaches, -1 when it resumes or ends. */
  detached(delta: number): void
  resumed(): void
  resumeFailed(): void
  /** A session past max_unacked_stanzas (counted with the streams closed as slow_reader). */
  overflow(): void
}

export interface SmOptions {
  /** listen.c2s.resume_timeout, seconds. */
  resumeTimeout: number
  /** listen.c2s.max_unacked_stanzas. */
  maxUnacked: number
  counters: SmCounters
  /** A detached session ended (resume_timeout, too many for its account, over max_unacked_stanzas, server stop). */
  expired(sm: SmSession, unacked: LtxElement[]): void
}

const STANZAS = new Set(['message', 'presence', 'iq'])
export const isStanza = (el: LtxElement | string): el is LtxElement => typeof el !== 'string' && STANZAS.has(el.name)

/** Stream management on one bound session; outlives its connection while detached. */
export class SmSession {
  /** Stanzas received from the client (h), modulo 2^32. */
  inbound = 0
  link: SmLink | null
  ended = false
  expiry: NodeJS.Timeout | null = null
  /** Seconds a detached session waits for <resume/> (the max offered in <enabled/>). */
  resumeTimeout = 0
  /** Stanzas the client acknowledged, modulo 2^32; the queue holds those sent after them. */
  private acked = 0
  private queue: LtxElement[] = []
  private sinceRequest = 0
  private requestTimer: NodeJS.Timeout | null = null
  private requestSoon: NodeJS.Immediate | null = null
  private readonly requestNow = () => this.request()

  constructor(
    /** The resumption id; null when the client did not ask for resumption (acks only). */
    readonly id: string | null,
    /** The authenticated bare JID, lower case. */
    readonly account: string,
    /** The session as the server knows it: it stays the same across resumptions. */
    readonly raw: RawSession,
    /** The bound full JID (the library's object), given to the connection that resumes. */
    readonly jid: unknown,
    link: SmLink,
    private readonly registry: SmRegistry,
  ) {
    this.link = link
  }

  get unacked(): number {
    return this.queue.length
  }

  /** A stanza to the client: counted and kept until acknowledged; written when attached. */
  send(el: LtxElement): void {
    if (this.ended) return
    this.queue.push(el)
    if (this.queue.length > this.registry.opts.maxUnacked) return this.registry.overflow(this)
    const link = this.link
    if (!link) return
    link.write(el)
    if (++this.sinceRequest >= REQUEST_EVERY) this.requestSoon ??= setImmediate(this.requestNow)
    else if (!this.requestTimer) this.requestTimer = setTimeout(this.requestNow, REQUEST_AFTER_MS).unref()
  }

  /** A stanza received from the client. */
  handled(): void {
    this.inbound = (this.inbound + 1) >>> 0
  }

  /** The client's <r/>. */
  answer(): void {
    this.link?.write(new nxs.Element('a', { xmlns: NS_SM, h: String(this.inbound) }))
  }

  /** Whether `h` acknowledges no more than was sent. */
  canAck(h: number): boolean {
    return (h - this.acked) >>> 0 <= this.queue.length
  }

  /** The client's <a h/> (or the h of its <resume/>): acknowledged stanzas leave the queue. */
  ack(h: number): boolean {
    if (!this.canAck(h)) return false
    this.queue.splice(0, (h - this.acked) >>> 0)
    this.acked = h >>> 0
    return true
  }

  /** After <resumed/>: what the client has not acknowledged goes out again, then an ack is asked. */
  retransmit(): void {
    const link = this.link
    if (!link) return
    for (const el of this.queue) link.write(el)
    this.request()
  }

  /** The server ends the session: its stream if attached, at once if detached. */
  close(condition?: string, text?: string): void {
    if (this.ended) return
    if (this.link) return this.link.end(condition, text)
    this.registry.expire(this)
  }

  /** Stops the timers and hands over the unacknowledged stanzas (once). */
  finish(): LtxElement[] {
    this.ended = true
    this.stopTimers()
    const unacked = this.queue
    this.queue = []
    return unacked
  }

  stopTimers(): void {
    if (this.requestTimer) clearTimeout(this.requestTimer)
    if (this.requestSoon) clearImmediate(this.requestSoon)
    if (this.expiry) clearTimeout(this.expiry)
    this.requestTimer = this.expiry = null
    this.requestSoon = null
  }

  private request(): void {
    if (this.requestTimer) clearTimeout(this.requestTimer)
    if (this.requestSoon) clearImmediate(this.requestSoon)
    this.requestTimer = this.requestSoon = null
    this.sinceRequest = 0
    if (this.link && this.queue.length > 0) this.link.write(REQUEST)
  }
}

/** What the nonza handler needs of one connection. */
export interface SmStream {
  readonly bound: boolean
  readonly sm: SmSession | null
  readonly link: SmLink
  readonly raw: RawSession
  /** The authenticated bare JID, lower case. */
  account(): string
  jid(): unknown
  enabled(sm: SmSession): void
  /** This connection now carries `sm` (bound, its full JID); called before <resumed/> is written. */
  resumed(sm: SmSession): void
  /** After the retransmission: the server is told. */
  afterResume(sm: SmSession): void
}

function failed(condition: string, h?: number): LtxElement {
  const el = new nxs.Element('failed', h === undefined ? { xmlns: NS_SM } : { xmlns: NS_SM, h: String(h) })
  return el.c(condition, { xmlns: NS_STANZAS }).up()
}

function parseH(value: unknown): number | null {
  const h = Number(value)
  return typeof value === 'string' && value !== '' && Number.isInteger(h) && h >= 0 && h <= 0xffffffff ? h : null
}

/** An element in urn:xmpp:sm:3 from an authenticated stream; false when it is none of ours. */
export function onSmElement(stream: SmStream, registry: SmRegistry, el: LtxElement): boolean {
  const { sm, link } = stream
  switch (el.name) {
    case 'enable': {
      if (!stream.bound || sm) return (link.write(failed('unexpected-request')), true)
      const resume = el.attrs.resume === 'true' || el.attrs.resume === '1'
      const next = registry.enable(resume, stream.account(), stream.raw, stream.jid(), link)
      next.resumeTimeout = resumeMax(el.attrs.max, registry.opts.resumeTimeout)
      stream.enabled(next)
      const attrs: Record<string, string> = { xmlns: NS_SM }
      if (next.id) Object.assign(attrs, { id: next.id, resume: 'true', max: String(next.resumeTimeout) })
      link.write(new nxs.Element('enabled', attrs))
      return true
    }
    case 'r':
      sm?.answer()
      return true
    case 'a': {
      const h = parseH(el.attrs.h)
      if (sm && (h === null || !sm.ack(h))) link.end('undefined-condition', `<a h='${String(el.attrs.h)}'/> acknowledges more than was sent`)
      return true
    }
    case 'resume': {
      if (stream.bound || sm) return (link.write(failed('unexpected-request')), true)
      const h = parseH(el.attrs.h)
      const found = typeof el.attrs.previd === 'string' ? registry.find(el.attrs.previd, stream.account()) : null
      if (!found || h === null || !found.canAck(h)) {
        registry.opts.counters.resumeFailed()
        link.write(failed('item-not-found'))
        return true
      }
      registry.reattach(found, link)
      found.ack(h)
      stream.resumed(found)
      link.write(new nxs.Element('resumed', { xmlns: NS_SM, h: String(found.inbound), previd: found.id }))
      found.retransmit()
      registry.opts.counters.resumed()
      stream.afterResume(found)
      return true
    }
    default:
      return false
  }
}

/** The resumption time offered: resume_timeout, or less when the client asked for less. */
function resumeMax(asked: unknown, resumeTimeout: number): number {
  const n = Number(asked)
  return Number.isInteger(n) && n > 0 && n < resumeTimeout ? n : resumeTimeout
}
