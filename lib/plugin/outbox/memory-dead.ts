// The memory backend's dead letters: per host, by webhook-id, in the order they failed, with
// their counts per handler. Bounded only by dead_letter_retention (the purge), like the file's.
import { Counts } from './counts.js'
import { jidMatcher, newestFirst, type DeadLetter, type ReplayTally } from './dead-letter.js'
import type { DeadCounts, DeliveryQuery, ReplaySelector } from './outbox.js'

export class DeadStore {
  private readonly byHost = new Map<string, Map<string, DeadLetter>>()
  private readonly counts = new Counts()

  add(d: DeadLetter): void {
    let letters = this.byHost.get(d.host)
    if (!letters) this.byHost.set(d.host, (letters = new Map()))
    letters.set(d.webhookId, d)
    this.counts.bump(d.host, d.handler, 1)
  }

  /** Matching dead letters, newest first, up to `limit`. */
  list(host: string, query: DeliveryQuery, limit: number): DeadLetter[] {
    const match = jidMatcher(query.jid)
    const out: DeadLetter[] = []
    for (const d of this.byHost.get(host)?.values() ?? []) {
      if (query.handler !== undefined && d.handler !== query.handler) continue
      if (query.since !== undefined && d.failedAt < query.since) continue
      if (match && !match(d.event)) continue
      out.push(d)
    }
    return out.sort(newestFirst).slice(0, limit)
  }

  /** Removes and returns the selected dead letters of handlers that run; the tally keeps the rest of the answer. */
  take(host: string, selector: ReplaySelector, tally: ReplayTally): DeadLetter[] {
    const letters = this.byHost.get(host)
    const rows: DeadLetter[] = []
    const notFound: string[] = []
    if ('ids' in selector) {
      for (const id of new Set(selector.ids)) {
        const d = letters?.get(id)
        if (d) rows.push(d)
        else notFound.push(id)
      }
    } else {
      for (const d of letters?.values() ?? []) {
        if (selector.handler !== undefined && d.handler !== selector.handler) continue
        if (selector.since !== undefined && d.failedAt < selector.since) continue
        rows.push(d)
      }
    }
    const taken = tally.take({ rows, notFound })
    for (const d of taken) this.remove(d)
    return taken
  }

  purge(host: string, cutoff: number): number {
    let n = 0
    for (const d of this.byHost.get(host)?.values() ?? []) {
      if (d.failedAt >= cutoff) continue
      this.remove(d)
      n++
    }
    return n
  }

  byHandler(host: string): DeadCounts[] {
    return this.counts.nonZero(host).map(([handler, dead]) => ({ host, handler, dead }))
  }

  forget(host: string): void {
    this.byHost.delete(host)
    this.counts.forget(host)
  }

  private remove(d: DeadLetter): void {
    this.byHost.get(d.host)?.delete(d.webhookId)
    this.counts.bump(d.host, d.handler, -1)
  }
}
