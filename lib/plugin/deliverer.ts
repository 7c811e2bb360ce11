// The deliverer of one pool on one vhost: leases what is due from the outbox for each handler on
// the pool, in turn, as slots free up; makes one try through the pool (breaker + got); hands the
// result to the handler's decision and carries that out on the outbox. Nothing is leased while the
// breaker is open; when it half-opens one entry is the probe, and when it closes everything that
// waited for the endpoint becomes due at once.
import { tryOnce } from './attempt.js'
import type { HttpRequest } from './payload.js'
import { decide, type Decision, type DecisionPolicy, type TryResult } from './decision.js'
import { errorText } from './outbox/dead-letter.js'
import type { DeadReason, Outbox, OutboxEntry } from './outbox/outbox.js'
import type { Pool } from './pool.js'

/** One handler as its deliverer serves it. */
export interface Lane {
  readonly name: string
  readonly policy: DecisionPolicy
  /** The request of one try, built now (headers and signatures too); throws if a callback does. */
  request(entry: OutboxEntry): HttpRequest
}

/** Where decisions are counted: the instance's one place for outcomes. */
export interface Accounting {
  /** `attemptsBefore`: the attempts made before this try. */
  decided(lane: Lane, entry: OutboxEntry, decision: Decision, attemptsBefore: number): void
  /** Final without a try: the lane's request builder threw (callback), or it waited too long (expired). */
  notTried(lane: Lane, entry: OutboxEntry, reason: 'callback' | 'expired', err?: unknown): void
}

interface LaneState {
  lane: Lane
  /** Leased, waiting for a slot. */
  buffer: OutboxEntry[]
  /** Something may be due: worth a lease. */
  maybeDue: boolean
  /** Its tries in flight. */
  running: number
  timer: NodeJS.Timeout | undefined
}

const LEASE_BATCH = 64

export class Deliverer {
  private readonly lanes: LaneState[]
  private readonly byName = new Map<string, LaneState>()
  private turn = 0
  private running = 0
  private pumping = false
  /** Kicked while pumping: pump again once done (a backend whose reads are real I/O). */
  private again = false
  private pumpScheduled = false
  private stopped = false
  /** Tries still out after the stop gave up on them: their results are ignored. */
  private abandoned = false
  private idleWaiters: Array<() => void> = []

  constructor(
    private readonly host: string,
    private readonly pool: Pool,
    private readonly outbox: Outbox,
    lanes: Lane[],
    private readonly accounting: Accounting,
    /** max_pending_age in ms: an entry leased after it is failed (expired) instead of tried. */
    private readonly maxPendingAge: number,
    private readonly now: () => number = Date.now,
  ) {
    this.lanes = lanes.map((lane) => ({ lane, buffer: [], maybeDue: true, running: 0, timer: undefined }))
    for (const s of this.lanes) this.byName.set(s.lane.name, s)
  }

  get inFlight(): number {
    return this.running
  }

  /** A handler's tries in flight, and those leased waiting for a slot. */
  inFlightOf(handler: string): number {
    const s = this.byName.get(handler)
    return s ? s.running + s.buffer.length : 0
  }

  /** New work for a handler (the hook added some): cheap, no I/O here; the pump runs later. */
  offered(handler: string): void {
    const s = this.byName.get(handler)
    if (s) s.maybeDue = true
    this.kick()
  }

  /** The breaker closed (or the instance started): what waited for the endpoint is due now. */
  endpointBack(): void {
    const now = this.now()
    for (const s of this.lanes) {
      this.outbox.wakeUnreachable(this.host, s.lane.name, now)
      s.maybeDue = true
    }
    this.kick()
  }

  /** Something may be due (a timer, the breaker half-opened). */
  kick(): void {
    if (this.pumpScheduled || this.stopped) return
    this.pumpScheduled = true
    setImmediate(() => {
      this.pumpScheduled = false
      void this.pump()
    })
  }

  /** Stops leasing; what is leased but not started goes back. Resolves when nothing is in flight. */
  async stop(): Promise<void> {
    this.stopped = true
    for (const s of this.lanes) {
      clearTimeout(s.timer)
      for (const e of s.buffer.splice(0)) this.outbox.release(e)
    }
    await this.idle()
  }

  /** The stop gave up waiting: tries that end from now on change nothing and count nothing. */
  abandon(): void {
    this.abandoned = true
    this.running = 0
    for (const s of this.lanes) s.running = 0
    this.notifyIfIdle()
  }

  idle(): Promise<void> {
    if (this.running === 0 && !this.pumping) return Promise.resolve()
    return new Promise((resolve) => this.idleWaiters.push(resolve))
  }

  private slots(): number {
    if (this.pool.refusing) return 0
    // Half-open: one request is the probe; the rest waits for its verdict.
    if (this.pool.state === 'half-open') return this.running === 0 ? 1 : 0
    return this.pool.size - this.running
  }

  private async pump(): Promise<void> {
    if (this.pumping) {
      this.again = true
      return
    }
    this.pumping = true
    try {
      for (;;) {
        let free = this.slots()
        if (free <= 0 || this.stopped) break
        const started = this.startBuffered(free)
        free -= started
        if (free <= 0) continue
        const leased = await this.leaseSome(free)
        if (!leased && started === 0) break
      }
    } finally {
      this.pumping = false
      if (this.again) {
        this.again = false
        this.kick()
      }
      this.notifyIfIdle()
    }
  }

  /** Starts up to `max` leased entries, one lane after another. */
  private startBuffered(max: number): number {
    let started = 0
    for (let tried = 0; tried < this.lanes.length && started < max;) {
      const s = this.lanes[this.turn % this.lanes.length]
      const entry = s.buffer.shift()
      if (entry) {
        this.start(s, entry)
        started++
        tried = 0
      } else tried++
      this.turn++
    }
    return started
  }

  /** Leases for lanes with empty buffers that may have due work; false when none had any. */
  private async leaseSome(free: number): Promise<boolean> {
    let any = false
    const now = this.now()
    for (const s of this.lanes) {
      if (this.stopped) break
      if (s.buffer.length > 0 || !s.maybeDue) continue
      const want = Math.min(LEASE_BATCH, Math.max(free, 1))
      const got = await this.outbox.lease(this.host, s.lane.name, want, now)
      if (this.stopped) {
        for (const e of got) this.outbox.release(e)
        break
      }
      s.buffer.push(...got)
      if (got.length > 0) any = true
      if (got.length < want) {
        s.maybeDue = false
        await this.wakeAtNextDue(s)
      }
    }
    return any
  }

  private async wakeAtNextDue(s: LaneState): Promise<void> {
    clearTimeout(s.timer)
    s.timer = undefined
    const at = await this.outbox.nextDue(this.host, s.lane.name)
    if (at === undefined || this.stopped) return
    // Timers cap at about 24.8 days; waking early only costs a lease.
    const delay = Math.min(Math.max(at - this.now(), 0), 2 ** 31 - 1)
    s.timer = setTimeout(() => {
      s.timer = undefined
      s.maybeDue = true
      this.kick()
    }, delay)
    s.timer.unref()
  }

  private start(s: LaneState, entry: OutboxEntry): void {
    if (this.now() - entry.acceptedAt > this.maxPendingAge) {
      this.outbox.fail(entry, { reason: 'expired', failedAt: this.now() })
      this.accounting.notTried(s.lane, entry, 'expired')
      return
    }
    let req: HttpRequest
    try {
      req = s.lane.request(entry)
    } catch (err) {
      this.outbox.fail(entry, { reason: 'callback', failedAt: this.now(), error: errorText(err) })
      this.accounting.notTried(s.lane, entry, 'callback', err)
      return
    }
    this.running++
    s.running++
    void tryOnce(this.pool, req).then((result) => this.finish(s, entry, result))
  }

  private finish(s: LaneState, entry: OutboxEntry, result: TryResult): void {
    if (this.abandoned) return
    this.running--
    s.running--
    const before = entry.attempts
    const decision = decide(result, before, s.lane.policy, this.now())
    switch (decision.kind) {
      case 'sent':
        this.outbox.settle(entry)
        break
      case 'failed':
        // decide() fails only after a try that reached the endpoint: status, timeout or connection.
        this.outbox.fail(entry, {
          reason: decision.reason as DeadReason,
          failedAt: this.now(),
          attempts: decision.attempts,
          last: { at: this.now(), reached: true, status: decision.status, error: errorText(decision.err) },
        })
        break
      case 'release':
        this.outbox.release(entry)
        break
      case 'wait': {
        const last = { at: this.now(), reached: false, error: result.kind === 'unreachable' ? errorText(result.err) : undefined }
        this.outbox.retryLater(entry, { dueAt: decision.dueAt, attempts: entry.attempts, unreachable: true, last })
        break
      }
      case 'retry': {
        const last = { at: this.now(), reached: true, status: decision.status, error: result.kind === 'broken' ? errorText(result.err) : undefined }
        this.outbox.retryLater(entry, { dueAt: decision.dueAt, attempts: decision.attempts, unreachable: false, last })
        break
      }
    }
    if (decision.kind === 'wait' || decision.kind === 'retry') {
      // Its lane has something due later: make sure the lane's timer is set early enough for it.
      if (!s.maybeDue) void this.wakeAtNextDue(s)
    }
    this.accounting.decided(s.lane, entry, decision, before)
    if (!this.stopped) this.kick()
    this.notifyIfIdle()
  }

  private notifyIfIdle(): void {
    if (this.running !== 0 || this.pumping || this.idleWaiters.length === 0) return
    for (const resolve of this.idleWaiters.splice(0)) resolve()
  }
}
