// Reading the streams for the operator: listings, replays and the retention purge of dead
// letters, and the counts the gauges show. These read the streams themselves (direct gets), so
// every node sees and does the same; none of it is on the path of a notification.
import type { JetStreamManager, StoredMsg } from '@nats-io/jetstream'
import type { JetStreamClient } from '@nats-io/jetstream'
import { deadLetterFrom, decodeEvent, decodeHeaders, encodeEvent, encodeHeaders, msgId, type Names } from './jetstream-codec.js'
import { jidMatcher, limitOf, listedDead, newestOf, type Listed } from './dead-letter.js'
import type { DeadCounts, Delivery, DeliveryQuery, HandlerCounts, ReplayResult, ReplaySelector } from './outbox.js'

/** Messages a listing or replay examines at most, per stream: a bound on what one command costs. */
export const SCAN_MAX = 20_000

export class Scanner {
  constructor(
    private readonly jsm: JetStreamManager,
    private readonly js: JetStreamClient,
    private readonly names: Names,
  ) {}

  /** Messages of `filter` in stream order from `seq`, until `visit` says stop or SCAN_MAX were seen. */
  async scan(stream: string, filter: string, visit: (m: StoredMsg) => boolean | void, seq = 1): Promise<void> {
    for (let seen = 0; seen < SCAN_MAX; seen++) {
      const m = await this.jsm.direct.getMessage(stream, { seq, next_by_subj: filter }).catch((err: Error) => {
        if (/not found|no message/i.test(err.message)) return null
        throw err
      })
      if (!m) return
      if (visit(m) === false) return
      seq = m.seq + 1
    }
  }

  async deliveries(host: string, query: DeliveryQuery): Promise<Delivery[]> {
    const limit = limitOf(query)
    const jid = jidMatcher(query.jid)
    const found: Listed[] = []
    const filterOf = (dead: boolean) =>
      query.handler !== undefined
        ? dead
          ? this.names.deadSubject(host, query.handler)
          : this.names.subject(host, query.handler)
        : this.names.hostFilter(host, dead)
    if (query.state !== 'failed') {
      await this.scan(this.names.stream, filterOf(false), (m) => {
        const at = m.time.getTime()
        const c = decodeHeaders(m.header, at)
        if (query.since !== undefined && c.acceptedAt < query.since) return
        const event = decodeEvent(m.data)
        if (jid && !jid(event)) return
        const handler = this.names.parse(m.subject)?.handler ?? ''
        const item: Delivery = {
          webhookId: c.webhookId,
          host,
          handler,
          state: 'pending',
          event,
          attempts: c.attempts,
          acceptedAt: c.acceptedAt,
          firstAttemptAt: c.firstAttemptAt,
          lastAttemptAt: c.lastAttemptAt,
          status: c.lastStatus,
          error: c.lastError,
          dueAt: c.dueAt ?? at,
        }
        found.push({ acceptedAt: c.acceptedAt, key: m.seq, item })
      })
    }
    if (query.state !== 'pending') {
      await this.scan(this.names.dead, filterOf(true), (m) => {
        const d = this.deadOf(m)
        if (query.since !== undefined && d.failedAt < query.since) return
        if (jid && !jid(d.event)) return
        const { replays: _replays, ...letter } = d
        found.push(listedDead(letter))
      })
    }
    return newestOf(found, limit)
  }

  private deadOf(m: StoredMsg) {
    const { handler } = this.names.parse(m.subject) ?? { handler: '' }
    return deadLetterFrom(m.seq, this.hostOf(m), handler, m.header, m.data, m.time.getTime())
  }

  private hostOf(m: StoredMsg): string {
    return this.names.parse(m.subject)?.host ?? ''
  }

  /**
   * Dead letters back into the work stream: published with a new message id (the webhook-id and
   * the replay count), then removed from the dead letters. Counted only where the removal is ours
   * (two nodes replaying at once publish the same id, which JetStream keeps once).
   */
  async replay(host: string, selector: ReplaySelector, now: number): Promise<ReplayResult> {
    const ids = 'ids' in selector ? new Set(selector.ids) : undefined
    const picked: StoredMsg[] = []
    const filter = 'failed' in selector && selector.handler !== undefined ? this.names.deadSubject(host, selector.handler) : this.names.hostFilter(host, true)
    await this.scan(this.names.dead, filter, (m) => {
      const c = decodeHeaders(m.header, m.time.getTime())
      if (ids) {
        if (ids.has(c.webhookId)) picked.push(m)
        return
      }
      const since = (selector as { since?: number }).since
      if (since !== undefined && this.deadOf(m).failedAt < since) return
      picked.push(m)
    })
    const seen = new Set<string>()
    const left = new Map<string, number>()
    let replayed = 0
    for (const m of picked) {
      const d = this.deadOf(m)
      seen.add(d.webhookId)
      // No handler of its name runs (a reload removed it): it could never be delivered.
      if (selector.live && !selector.live.has(d.handler)) {
        left.set(d.handler, (left.get(d.handler) ?? 0) + 1)
        continue
      }
      const carried = { webhookId: d.webhookId, acceptedAt: now, attempts: 0, replays: d.replays + 1 }
      await this.js.publish(this.names.subject(host, d.handler), encodeEvent(d.event), { msgID: msgId(carried, 'new'), headers: encodeHeaders(carried) })
      if (await this.remove(this.names.dead, m.seq)) replayed++
    }
    return {
      replayed,
      notFound: ids ? [...ids].filter((id) => !seen.has(id)) : [],
      noHandler: [...left].map(([handler, count]) => ({ handler, count })),
    }
  }

  /** Removes the dead letters of a host that failed before `cutoff`; returns how many this call removed. */
  async purgeDead(host: string, cutoff: number): Promise<number> {
    const old: number[] = []
    // The dead stream is in failure order (a dead letter is published once it failed): stop at the first newer one.
    await this.scan(this.names.dead, this.names.hostFilter(host, true), (m) => {
      if (m.time.getTime() >= cutoff) return false
      if (this.deadOf(m).failedAt < cutoff) old.push(m.seq)
    })
    let purged = 0
    for (const seq of old) if (await this.remove(this.names.dead, seq)) purged++
    return purged
  }

  private async remove(stream: string, seq: number): Promise<boolean> {
    return this.jsm.streams.deleteMessage(stream, seq, false).catch(() => false)
  }

  /** Messages per subject of a stream: pending per handler (work stream) or dead letters (dead stream). */
  async counts(dead: boolean): Promise<Map<string, number>> {
    const stream = dead ? this.names.dead : this.names.stream
    const info = await this.jsm.streams.info(stream, { subjects_filter: '>' })
    return new Map(Object.entries(info.state.subjects ?? {}))
  }

  /** When the first message of a handler still in the stream was accepted (ms). */
  async oldest(host: string, handler: string): Promise<number | undefined> {
    let at: number | undefined
    await this.scan(this.names.stream, this.names.subject(host, handler), (m) => {
      at = decodeHeaders(m.header, m.time.getTime()).acceptedAt
      return false
    })
    return at
  }

  /** Counts per handler of one host, from a subject → count map. */
  byHandler(counts: Map<string, number>, host: string): Array<{ handler: string; n: number }> {
    const out: Array<{ handler: string; n: number }> = []
    for (const [subject, n] of counts) {
      const p = this.names.parse(subject)
      if (p && p.host === host && n > 0) out.push({ handler: p.handler, n })
    }
    return out
  }
}

export type { HandlerCounts, DeadCounts }
