// One handler on one vhost: its filter, its bounded queue of fresh notifications, the ones it
// holds for a retry, its endpoint URL and pool. The hook calls accepts(), admit() and enqueue()
// synchronously; the pool pulls work through next().
import type { Element, JID } from '../contract.js'
import type { DeliveryPolicy } from './delivery.js'
import type { Dispatcher, HandlerRef, RetryHold } from './dispatcher.js'
import type { Filter } from './filter.js'
import type { EventKind } from './options.js'
import { BoundedQueue } from './queue.js'
import { requestParts, type NotificationRequest, type PushEvent, type RequestShape } from './payload.js'
import type { Feeder, Pool } from './pool.js'

export interface HandlerDeps {
  name: string
  url: string
  maxQueue: number
  events: readonly EventKind[]
  filter: Filter
  shape: RequestShape
  policy: DeliveryPolicy
  pool: Pool
  dispatcher: Dispatcher
}

export class Handler implements Feeder, HandlerRef {
  readonly name: string
  readonly url: string
  readonly pool: Pool
  readonly policy: DeliveryPolicy
  readonly wantsMessages: boolean
  readonly wantsPresence: boolean
  private readonly queue: BoundedQueue<NotificationRequest>
  /** Retries whose wait is over, served in turn with the fresh queue. */
  private readonly due: BoundedQueue<NotificationRequest>
  /** Retries still waiting, by their timer. */
  private readonly waiting = new Map<NodeJS.Timeout, NotificationRequest>()
  private readonly filter: Filter
  private readonly shape: RequestShape
  private readonly dispatcher: Dispatcher
  private retryTurn = false
  private stopping = false
  private idleWaiters: Array<() => void> = []
  private readonly freshDone = () => {
    this.queue.done()
    this.notifyIfIdle()
  }
  private readonly retryDone = () => {
    this.due.done()
    this.notifyIfIdle()
  }

  constructor(deps: HandlerDeps) {
    this.name = deps.name
    this.url = deps.url
    this.pool = deps.pool
    this.policy = deps.policy
    this.wantsMessages = deps.events.includes('message')
    this.wantsPresence = deps.events.includes('presence')
    this.queue = new BoundedQueue(deps.maxQueue)
    this.due = new BoundedQueue(deps.maxQueue)
    this.filter = deps.filter
    this.shape = deps.shape
    this.dispatcher = deps.dispatcher
  }

  get queueDepth(): number {
    return this.queue.size
  }

  get maxQueue(): number {
    return this.queue.capacity
  }

  get inFlight(): number {
    return this.queue.inFlight + this.due.inFlight
  }

  /** Notifications between two attempts: waiting for their retry, or due and waiting for a slot. */
  get retrying(): number {
    return this.waiting.size + this.due.size
  }

  /** Runs the filter. A throwing filter counts as accepted and failed (callback). */
  accepts(packet: Element, from: JID, to: JID): boolean {
    let verdict: boolean
    try {
      verdict = this.filter(packet, from, to)
    } catch (err) {
      this.dispatcher.accepted()
      this.dispatcher.fail(this, 'callback', err)
      return false
    }
    if (verdict) this.dispatcher.accepted()
    return verdict
  }

  /**
   * For an accepted packet, before any payload is built (it would be wasted): false, and the
   * notification failed, when the queue is full (the newest fails, so what waits longest still
   * gets its turn) or the breaker is open and there is no retry to wait for (the outcome a
   * dispatch would give, without its cost).
   */
  admit(): boolean {
    if (this.queue.size >= this.queue.capacity) {
      this.dispatcher.fail(this, 'queue_full')
      return false
    }
    if (this.policy.retries === 0 && this.pool.refusing) {
      this.dispatcher.fail(this, 'breaker_open')
      return false
    }
    return true
  }

  /** Builds the request and queues it; call once the event was accepted and admitted. */
  enqueue(ev: PushEvent): void {
    let req: NotificationRequest
    try {
      const { body, headers } = requestParts(ev, this.shape)
      req = { url: this.url, body, headers, attempt: 0, id: undefined }
    } catch (err) {
      this.dispatcher.fail(this, 'callback', err)
      return
    }
    if (!this.queue.push(req)) {
      this.dispatcher.fail(this, 'queue_full')
      return
    }
    this.pool.wake(this)
  }

  // Due retries and fresh notifications take turns, so neither holds the other up for long: a
  // fresh one waits at most one retry per slot that frees, and there are at most max_queue retries.
  next(): Promise<void> | undefined {
    if (this.due.size > 0 && (this.retryTurn || this.queue.size === 0)) {
      this.retryTurn = false
      return this.dispatcher.run(this, this.due.take()!).then(this.retryDone, this.retryDone)
    }
    const req = this.queue.take()
    if (req === undefined) return undefined
    this.retryTurn = true
    return this.dispatcher.run(this, req).then(this.freshDone, this.freshDone)
  }

  /**
   * Holds a notification for its next attempt on a timer: it keeps no pool slot and no place in
   * the fresh queue. At most max_queue are held; once stopping, none.
   */
  retryLater(req: NotificationRequest, delayMs: number): RetryHold {
    if (this.stopping) return 'stopping'
    if (this.retrying >= this.due.capacity) return 'backlog_full'
    const timer = setTimeout(() => {
      this.waiting.delete(timer)
      this.makeDue(req)
    }, delayMs)
    timer.unref()
    this.waiting.set(timer, req)
    return 'scheduled'
  }

  /** Stop: no more retries are scheduled, and the waiting ones are attempted now, within the drain. */
  stopRetrying(): void {
    this.stopping = true
    for (const [timer, req] of this.waiting) {
      clearTimeout(timer)
      this.makeDue(req)
    }
    this.waiting.clear()
  }

  /** Resolves when nothing waits, nothing is due and nothing of this handler is in flight. */
  idle(): Promise<void> {
    if (this.isIdle()) return Promise.resolve()
    return new Promise((resolve) => this.idleWaiters.push(resolve))
  }

  /** Fails whatever still waits (reason shutdown); in-flight requests are the pool's to abort. */
  /** The pool's breaker opened: queued notifications without retries fail now (breaker_open). */
  failQueuedOnOpen(): void {
    if (this.policy.retries > 0) return // they may wait for the breaker to half-open
    for (const _ of this.queue.clear()) this.dispatcher.fail(this, 'breaker_open')
    this.notifyIfIdle()
  }

  dropQueued(): void {
    for (const _ of this.queue.clear()) this.dispatcher.fail(this, 'shutdown')
    for (const req of this.due.clear()) this.dispatcher.fail(this, 'shutdown', undefined, req.attempt)
    for (const [timer, req] of this.waiting) {
      clearTimeout(timer)
      this.dispatcher.fail(this, 'shutdown', undefined, req.attempt)
    }
    this.waiting.clear()
    this.notifyIfIdle()
  }

  private makeDue(req: NotificationRequest): void {
    // Cannot fail: waiting + due never exceeds the capacity of `due`.
    this.due.push(req)
    this.pool.wake(this)
  }

  private isIdle(): boolean {
    return this.queue.size === 0 && this.queue.inFlight === 0 && this.due.size === 0 && this.due.inFlight === 0 && this.waiting.size === 0
  }

  private notifyIfIdle(): void {
    if (this.idleWaiters.length === 0 || !this.isIdle()) return
    const waiters = this.idleWaiters
    this.idleWaiters = []
    for (const resolve of waiters) resolve()
  }
}
