// XEP-0198: every session with stream management on one listener, by resumption id, and the
// detached ones by account (at most MAX_DETACHED_PER_ACCOUNT each), with their resume_timeout.
// (Part of the transport layer: see ../transport.ts; the protocol is in stream-management.ts.)
import { randomBytes } from 'node:crypto'
import type { LtxElement, RawSession } from '../transport.js'
import { SmSession, type SmLink, type SmOptions } from './stream-management.js'

/** Detached sessions one account may have: one more and the oldest ends at once. */
export const MAX_DETACHED_PER_ACCOUNT = 10

/** Every session with stream management on one listener: resumption ids and detached sessions. */
export class SmRegistry {
  private readonly byId = new Map<string, SmSession>()
  /** Detached sessions by account, oldest first. */
  private readonly detachedOf = new Map<string, Set<SmSession>>()

  constructor(readonly opts: SmOptions) {}

  enable(resume: boolean, account: string, raw: RawSession, jid: unknown, link: SmLink): SmSession {
    const sm = new SmSession(resume ? randomBytes(15).toString('base64url') : null, account, raw, jid, link, this)
    if (sm.id) this.byId.set(sm.id, sm)
    return sm
  }

  /** The connection went without closing its stream: the session waits resume_timeout for a <resume/>. */
  detach(sm: SmSession): void {
    sm.link = null
    sm.stopTimers()
    let set = this.detachedOf.get(sm.account)
    if (!set) this.detachedOf.set(sm.account, (set = new Set()))
    set.add(sm)
    this.opts.counters.detached(1)
    sm.expiry = setTimeout(() => this.expire(sm), (sm.resumeTimeout || this.opts.resumeTimeout) * 1000).unref()
    if (set.size > MAX_DETACHED_PER_ACCOUNT) this.expire(set.values().next().value!)
  }

  /** A resumable session of `account` by its id; null when unknown, ended or another account's. */
  find(previd: string, account: string): SmSession | null {
    const sm = this.byId.get(previd)
    return sm && !sm.ended && sm.account === account ? sm : null
  }

  /** `link` takes the session over; a connection still attached to it is dropped. */
  reattach(sm: SmSession, link: SmLink): void {
    const old = sm.link
    sm.link = link
    if (old) old.drop()
    else this.undetach(sm)
    sm.stopTimers()
  }

  /** Forgets the session (ended by its stream or the server); returns its unacknowledged stanzas. */
  end(sm: SmSession): LtxElement[] {
    if (sm.id && this.byId.get(sm.id) === sm) this.byId.delete(sm.id)
    if (!sm.link) this.undetach(sm)
    return sm.finish()
  }

  /** Ends a detached session: the server is told, with its unacknowledged stanzas. */
  expire(sm: SmSession): void {
    if (sm.ended) return
    this.opts.expired(sm, this.end(sm))
  }

  /** Past max_unacked_stanzas: a stream is closed with policy-violation; a detached session ends. */
  overflow(sm: SmSession): void {
    this.opts.counters.overflow()
    if (sm.link) sm.link.end('policy-violation', `more than max_unacked_stanzas (${this.opts.maxUnacked}) unacknowledged`)
    else this.expire(sm)
  }

  get detachedCount(): number {
    let n = 0
    for (const set of this.detachedOf.values()) n += set.size
    return n
  }

  /** Server stop: timers stop (the sessions end with the server). */
  stop(): void {
    for (const sm of this.byId.values()) sm.stopTimers()
  }

  private undetach(sm: SmSession): void {
    const set = this.detachedOf.get(sm.account)
    if (!set?.delete(sm)) return
    if (set.size === 0) this.detachedOf.delete(sm.account)
    this.opts.counters.detached(-1)
  }
}
