// Recent response times for the status command's percentiles: the histogram's buckets are too
// coarse for p99, so keep the last `size` samples (a fixed ring, no allocation per sample).

export class LatencyReservoir {
  private readonly samples: Float64Array
  private next = 0
  private filled = 0

  constructor(size = 1024) {
    this.samples = new Float64Array(size)
  }

  add(seconds: number): void {
    this.samples[this.next] = seconds
    this.next = (this.next + 1) % this.samples.length
    if (this.filled < this.samples.length) this.filled++
  }

  /** Nearest-rank quantiles over the samples held; null when there are none. */
  quantiles<Q extends number>(qs: readonly Q[]): Record<Q, number | null> {
    const sorted = this.samples.slice(0, this.filled).sort()
    const out = {} as Record<Q, number | null>
    for (const q of qs) out[q] = sorted.length === 0 ? null : sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))]
    return out
  }
}
