// One handler on one vhost: its filter, its bounded queue, its endpoint URL and pool. The hook
// calls accepts() and enqueue() synchronously; the pool pulls work through next().
import type { Element, JID } from '../contract.js'
import type { CallbackModule } from './callback-module.js'
import type { Dispatcher, HandlerRef } from './dispatcher.js'
import type { Filter } from './filter.js'
import { BoundedQueue } from './queue.js'
import { requestParts, type Notification, type NotificationRequest } from './payload.js'
import type { Feeder, Pool } from './pool.js'

export interface HandlerDeps {
  name: string
  url: string
  maxQueue: number
  filter: Filter
  callback: CallbackModule | undefined
  pool: Pool
  dispatcher: Dispatcher
  setDepth(depth: number): void
}

export class Handler implements Feeder, HandlerRef {
  readonly name: string
  readonly url: string
  readonly pool: Pool
  private readonly queue: BoundedQueue<NotificationRequest>
  private readonly filter: Filter
  private readonly callback: CallbackModule | undefined
  private readonly dispatcher: Dispatcher
  private readonly setDepth: (depth: number) => void
  private readonly settled = () => this.queue.done()

  constructor(deps: HandlerDeps) {
    this.name = deps.name
    this.url = deps.url
    this.pool = deps.pool
    this.queue = new BoundedQueue(deps.maxQueue)
    this.filter = deps.filter
    this.callback = deps.callback
    this.dispatcher = deps.dispatcher
    this.setDepth = deps.setDepth
  }

  get queueDepth(): number {
    return this.queue.size
  }

  get maxQueue(): number {
    return this.queue.capacity
  }

  get inFlight(): number {
    return this.queue.inFlight
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

  /** Builds the request and queues it; only call after accepts() returned true. */
  enqueue(n: Notification): void {
    let req: NotificationRequest
    try {
      const { body, headers } = requestParts(n, this.callback)
      req = { url: this.url, body, headers }
    } catch (err) {
      this.dispatcher.fail(this, 'callback', err)
      return
    }
    // Full: the newest fails, so what waits longest still gets its turn.
    if (!this.queue.push(req)) {
      this.dispatcher.fail(this, 'queue_full')
      return
    }
    this.setDepth(this.queue.size)
    this.pool.wake(this)
  }

  next(): Promise<void> | undefined {
    const req = this.queue.take()
    if (req === undefined) return undefined
    this.setDepth(this.queue.size)
    return this.dispatcher.run(this, req).then(this.settled, this.settled)
  }

  /** Resolves when the queue is empty and nothing of this handler is in flight. */
  idle(): Promise<void> {
    return this.queue.idle()
  }

  /** Fails whatever still waits (reason shutdown); in-flight requests are the pool's to abort. */
  dropQueued(): void {
    for (const _ of this.queue.clear()) this.dispatcher.fail(this, 'shutdown')
    this.setDepth(0)
  }
}
