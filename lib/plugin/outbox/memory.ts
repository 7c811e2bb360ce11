// outbox = "memory": the outbox in this process's memory, bounded by max_queue per handler, for
// operators who want no disk. Same rules as the durable backends (wait, do not fail, while the
// endpoint is unreachable); what it holds is lost when the process ends.
import type {
  AddRefusal,
  DeadCounts,
  DeadInfo,
  Delivery,
  DeliveryQuery,
  HandlerCounts,
  Later,
  Outbox,
  OutboxEntry,
  ReplayResult,
  ReplaySelector,
  StoredEvent,
} from './outbox.js'
import { applyTry, deadLetterOf, jidMatcher, limitOf, listedDead, listedPending, newestOf, ReplayTally, type Listed } from './dead-letter.js'
import { DeadStore } from './memory-dead.js'
import { MinHeap } from './min-heap.js'

interface Waiting {
  entry: OutboxEntry
  dueAt: number
  unreachable: boolean
}

/** One handler's entries: due ones in arrival order, the others by due time, and those leased. */
class Lane {
  readonly ready: OutboxEntry[] = []
  head = 0
  readonly later = new MinHeap<Waiting>((a, b) => a.dueAt - b.dueAt || a.entry.key - b.entry.key)
  readonly leased = new Set<OutboxEntry>()

  get size(): number {
    return this.ready.length - this.head + this.later.size + this.leased.size
  }

  push(entry: OutboxEntry): void {
    this.ready.push(entry)
  }

  peek(): OutboxEntry | undefined {
    return this.head === this.ready.length ? undefined : this.ready[this.head]
  }

  shift(): OutboxEntry | undefined {
    if (this.head === this.ready.length) return undefined
    const entry = this.ready[this.head]
    this.ready[this.head++] = undefined as unknown as OutboxEntry
    // Compact once the consumed head is half the array: shifts stay O(1) amortised.
    if (this.head > 1024 && this.head * 2 > this.ready.length) {
      this.ready.splice(0, this.head)
      this.head = 0
    }
    return entry
  }

  *all(): Iterable<OutboxEntry> {
    for (const [entry] of this.withDue()) yield entry
  }

  /** Each entry with its due time (undefined: leased). */
  *withDue(): Iterable<[OutboxEntry, number | undefined]> {
    for (let i = this.head; i < this.ready.length; i++) yield [this.ready[i], this.ready[i].acceptedAt]
    for (const w of this.later.items()) yield [w.entry, w.dueAt]
    for (const e of this.leased) yield [e, undefined]
  }
}

export class MemoryOutbox implements Outbox {
  readonly backend = 'memory'
  readonly location = 'process memory (lost on restart)'
  private readonly lanes = new Map<string, Map<string, Lane>>()
  private readonly dead = new DeadStore()
  private seq = 0

  add(host: string, handler: string, webhookId: string, event: StoredEvent, limit: number): AddRefusal | undefined {
    const lane = this.lane(host, handler)
    if (lane.size >= limit) return 'queue_full'
    lane.push({ key: ++this.seq, host, handler, webhookId, event, attempts: 0, acceptedAt: event.time })
    return undefined
  }

  async lease(host: string, handler: string, max: number, now: number): Promise<OutboxEntry[]> {
    const lane = this.lanes.get(host)?.get(handler)
    if (!lane) return []
    // Oldest due first, as the sqlite backend: a fresh entry is due since it was accepted, a
    // waiting one at its due time.
    const out: OutboxEntry[] = []
    while (out.length < max) {
      const waiting = lane.later.peek()
      const fresh = lane.peek()
      let entry: OutboxEntry | undefined
      if (
        waiting &&
        waiting.dueAt <= now &&
        (!fresh || waiting.dueAt < fresh.acceptedAt || (waiting.dueAt === fresh.acceptedAt && waiting.entry.key < fresh.key))
      ) {
        entry = lane.later.pop()!.entry
      } else entry = lane.shift()
      if (!entry) break
      lane.leased.add(entry)
      out.push(entry)
    }
    return out
  }

  async nextDue(host: string, handler: string): Promise<number | undefined> {
    const lane = this.lanes.get(host)?.get(handler)
    if (!lane) return undefined
    if (lane.head < lane.ready.length) return 0
    return lane.later.peek()?.dueAt
  }

  settle(entry: OutboxEntry): void {
    this.leasedLane(entry)?.leased.delete(entry)
  }

  fail(entry: OutboxEntry, dead: DeadInfo): void {
    if (this.leasedLane(entry)?.leased.delete(entry)) this.dead.add(deadLetterOf(entry, dead))
  }

  release(entry: OutboxEntry): void {
    const lane = this.leasedLane(entry)
    if (!lane?.leased.delete(entry)) return
    lane.later.push({ entry, dueAt: 0, unreachable: false })
  }

  retryLater(entry: OutboxEntry, later: Later): void {
    const lane = this.leasedLane(entry)
    if (!lane?.leased.delete(entry)) return
    entry.attempts = later.attempts
    applyTry(entry, later.last)
    lane.later.push({ entry, dueAt: later.dueAt, unreachable: later.unreachable })
  }

  wakeUnreachable(host: string, handler: string, now: number): void {
    const lane = this.lanes.get(host)?.get(handler)
    if (!lane) return
    let woke = false
    for (const w of lane.later.items()) {
      if (w.unreachable && w.dueAt > now) {
        w.dueAt = now
        w.unreachable = false
        woke = true
      }
    }
    if (woke) lane.later.heapify()
  }

  async expire(host: string, cutoff: number, now = Date.now()): Promise<OutboxEntry[]> {
    const out: OutboxEntry[] = []
    for (const lane of this.lanes.get(host)?.values() ?? []) {
      const keep: OutboxEntry[] = []
      for (let e = lane.shift(); e; e = lane.shift()) (e.acceptedAt < cutoff ? out : keep).push(e)
      for (const e of keep) lane.push(e)
      const removed = lane.later.removeWhere((w) => w.entry.acceptedAt < cutoff)
      for (const w of removed) out.push(w.entry)
    }
    for (const e of out) this.dead.add(deadLetterOf(e, { reason: 'expired', failedAt: now }))
    return out
  }

  async deliveries(host: string, query: DeliveryQuery): Promise<Delivery[]> {
    const limit = limitOf(query)
    const found: Listed[] = []
    if (query.state !== 'failed') {
      const match = jidMatcher(query.jid)
      for (const [handler, lane] of this.lanes.get(host) ?? []) {
        if (query.handler !== undefined && handler !== query.handler) continue
        for (const [e, dueAt] of lane.withDue()) {
          if ((query.since === undefined || e.acceptedAt >= query.since) && (!match || match(e.event))) found.push(listedPending(e, dueAt))
        }
      }
    }
    if (query.state !== 'pending') for (const d of this.dead.list(host, query, limit)) found.push(listedDead(d))
    return newestOf(found, limit)
  }

  async replay(host: string, selector: ReplaySelector, now: number): Promise<ReplayResult> {
    const tally = new ReplayTally(selector.live)
    for (const d of this.dead.take(host, selector, tally)) {
      const entry: OutboxEntry = { key: d.key, host, handler: d.handler, webhookId: d.webhookId, event: d.event, attempts: 0, acceptedAt: now }
      this.lane(host, d.handler).later.push({ entry, dueAt: now, unreachable: false })
    }
    return tally.result()
  }

  async purgeDead(host: string, cutoff: number): Promise<number> {
    return this.dead.purge(host, cutoff)
  }

  deadByHandler(host: string): DeadCounts[] {
    return this.dead.byHandler(host)
  }

  pending(host: string, handler: string): number {
    return this.lanes.get(host)?.get(handler)?.size ?? 0
  }

  pendingByHandler(host: string): HandlerCounts[] {
    return [...(this.lanes.get(host) ?? [])].filter(([, lane]) => lane.size > 0).map(([handler, lane]) => ({ host, handler, pending: lane.size }))
  }

  oldestPending(host: string, handler: string): number | undefined {
    const lane = this.lanes.get(host)?.get(handler)
    if (!lane) return undefined
    let oldest: number | undefined
    for (const e of lane.all()) if (oldest === undefined || e.acceptedAt < oldest) oldest = e.acceptedAt
    return oldest
  }

  /** Everything still pending, for a stop that counts it (nothing survives this backend, dead letters included). */
  drainAll(host: string): OutboxEntry[] {
    const out: OutboxEntry[] = []
    for (const lane of this.lanes.get(host)?.values() ?? []) out.push(...lane.all())
    this.lanes.delete(host)
    this.dead.forget(host)
    return out
  }

  flush(): void {}

  async close(): Promise<void> {
    this.lanes.clear()
  }

  private lane(host: string, handler: string): Lane {
    let byHandler = this.lanes.get(host)
    if (!byHandler) this.lanes.set(host, (byHandler = new Map()))
    let lane = byHandler.get(handler)
    if (!lane) byHandler.set(handler, (lane = new Lane()))
    return lane
  }

  private leasedLane(entry: OutboxEntry): Lane | undefined {
    return this.lanes.get(entry.host)?.get(entry.handler)
  }
}
