// A bounded FIFO (ring buffer: push and shift are O(1) and allocate nothing once grown) with a
// way to wait until it and the work taken from it are done.

export class BoundedQueue<T> {
  private items: Array<T | undefined>
  private head = 0
  private count = 0
  private busy = 0
  private idleWaiters: Array<() => void> = []

  constructor(readonly capacity: number) {
    // Grows on demand up to capacity: a queue of 10000 that stays short costs a few slots.
    this.items = new Array(Math.min(capacity, 16))
  }

  get size(): number {
    return this.count
  }

  /** Taken but not yet finished (see take/done). */
  get inFlight(): number {
    return this.busy
  }

  /** False when full: the caller fails the newest item, so the queue never exceeds capacity. */
  push(item: T): boolean {
    if (this.count >= this.capacity) return false
    if (this.count === this.items.length) this.grow()
    this.items[(this.head + this.count) % this.items.length] = item
    this.count++
    return true
  }

  /** The oldest item, now counted as in flight until done() is called for it. */
  take(): T | undefined {
    if (this.count === 0) return undefined
    const item = this.items[this.head]
    this.items[this.head] = undefined
    this.head = (this.head + 1) % this.items.length
    this.count--
    this.busy++
    return item
  }

  done(): void {
    this.busy--
    this.notifyIfIdle()
  }

  /** Removes and returns every waiting item (shutdown). */
  clear(): T[] {
    const out: T[] = []
    while (this.count > 0) {
      out.push(this.items[this.head] as T)
      this.items[this.head] = undefined
      this.head = (this.head + 1) % this.items.length
      this.count--
    }
    this.notifyIfIdle()
    return out
  }

  /** Resolves when nothing waits and nothing is in flight. */
  idle(): Promise<void> {
    if (this.count === 0 && this.busy === 0) return Promise.resolve()
    return new Promise((resolve) => this.idleWaiters.push(resolve))
  }

  private notifyIfIdle(): void {
    if (this.count !== 0 || this.busy !== 0 || this.idleWaiters.length === 0) return
    const waiters = this.idleWaiters
    this.idleWaiters = []
    for (const resolve of waiters) resolve()
  }

  private grow(): void {
    const next = new Array<T | undefined>(Math.min(this.capacity, this.items.length * 2))
    for (let i = 0; i < this.count; i++) next[i] = this.items[(this.head + i) % this.items.length]
    this.items = next
    this.head = 0
  }
}
