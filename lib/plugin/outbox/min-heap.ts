// A binary min-heap: what waits for a later try, earliest due first, in O(log n) a push or pop.

export class MinHeap<T> {
  private readonly heap: T[] = []

  constructor(private readonly before: (a: T, b: T) => number) {}

  get size(): number {
    return this.heap.length
  }

  peek(): T | undefined {
    return this.heap[0]
  }

  push(item: T): void {
    this.heap.push(item)
    this.up(this.heap.length - 1)
  }

  pop(): T | undefined {
    const top = this.heap[0]
    const last = this.heap.pop()
    if (this.heap.length > 0 && last !== undefined) {
      this.heap[0] = last
      this.down(0)
    }
    return top
  }

  /** In no particular order. */
  items(): readonly T[] {
    return this.heap
  }

  /** Restores the order after items were changed in place. */
  heapify(): void {
    for (let i = (this.heap.length >> 1) - 1; i >= 0; i--) this.down(i)
  }

  removeWhere(test: (item: T) => boolean): T[] {
    const removed: T[] = []
    let kept = 0
    for (const item of this.heap) {
      if (test(item)) removed.push(item)
      else this.heap[kept++] = item
    }
    this.heap.length = kept
    if (removed.length > 0) this.heapify()
    return removed
  }

  private up(i: number): void {
    const h = this.heap
    while (i > 0) {
      const parent = (i - 1) >> 1
      if (this.before(h[i], h[parent]) >= 0) return
      ;[h[i], h[parent]] = [h[parent], h[i]]
      i = parent
    }
  }

  private down(i: number): void {
    const h = this.heap
    for (;;) {
      const l = 2 * i + 1
      const r = l + 1
      let m = i
      if (l < h.length && this.before(h[l], h[m]) < 0) m = l
      if (r < h.length && this.before(h[r], h[m]) < 0) m = r
      if (m === i) return
      ;[h[i], h[m]] = [h[m], h[i]]
      i = m
    }
  }
}
