// outbox = "memory": the outbox in this process's memory, bounded by max_queue per handler, for
// operators who want no disk. Same rules as the durable backends (wait, do not fail, while the
// endpoint is unreachable); what it holds is lost when the process ends.
import type { HandlerCounts, Later, Outbox, OutboxEntry, StoredEvent } from './outbox.js'
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
    for (let i = this.head; i < this.ready.length; i++) yield this.ready[i]
    for (const w of this.later.items()) yield w.entry
    yield* this.leased
  }
}

export class MemoryOutbox implements Outbox {
  readonly backend = 'memory'
  readonly location = 'process memory (lost on restart)'
  private readonly lanes = new Map<string, Map<string, Lane>>()
  private seq = 0

  add(host: string, handler: string, webhookId: string, event: StoredEvent, limit: number): boolean {
    const lane = this.lane(host, handler)
    if (lane.size >= limit) return false
    lane.push({ key: ++this.seq, host, handler, webhookId, event, attempts: 0, acceptedAt: event.time })
    return true
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

  fail(entry: OutboxEntry): void {
    this.leasedLane(entry)?.leased.delete(entry)
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

  async expire(host: string, cutoff: number): Promise<OutboxEntry[]> {
    const out: OutboxEntry[] = []
    for (const lane of this.lanes.get(host)?.values() ?? []) {
      const keep: OutboxEntry[] = []
      for (let e = lane.shift(); e; e = lane.shift()) (e.acceptedAt < cutoff ? out : keep).push(e)
      for (const e of keep) lane.push(e)
      const removed = lane.later.removeWhere((w) => w.entry.acceptedAt < cutoff)
      for (const w of removed) out.push(w.entry)
    }
    return out
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

  /** Everything still held, for a stop that counts it (nothing survives this backend). */
  drainAll(host: string): OutboxEntry[] {
    const out: OutboxEntry[] = []
    for (const lane of this.lanes.get(host)?.values() ?? []) out.push(...lane.all())
    this.lanes.delete(host)
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
