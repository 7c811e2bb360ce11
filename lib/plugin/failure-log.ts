// Failure lines at warn, rate-limited per (handler, reason): the first failure of a window is
// logged with its details, the rest of the window only counted, and one summary line at the
// window's end says how many were suppressed. A dead endpoint thus costs at most two lines per
// window and cause, however many notifications fail.
import type { Logger } from '../contract.js'

interface Window {
  until: number
  suppressed: number
  timer: NodeJS.Timeout | undefined
}

export const FAILURE_LOG_WINDOW_MS = 10_000

export class FailureLog {
  private readonly windows = new Map<string, Map<string, Window>>()

  constructor(
    private readonly log: Logger,
    private readonly windowMs: number = FAILURE_LOG_WINDOW_MS,
    private readonly now: () => number = Date.now,
  ) {}

  /**
   * Logs `obj` at warn unless this (handler, cause) was logged within the window. `obj` may be a
   * function, called only when the line is written (a suppressed failure then costs no object).
   */
  warn(handler: string, cause: string, obj: Record<string, unknown> | (() => Record<string, unknown>), msg: string): void {
    if (this.admit(handler, cause)) this.write(handler, cause, typeof obj === 'function' ? obj() : obj, msg)
  }

  /** Counts one failure; true when it opens a window and is to be written (write()). */
  admit(handler: string, cause: string): boolean {
    let byCause = this.windows.get(handler)
    if (!byCause) this.windows.set(handler, (byCause = new Map()))
    const t = this.now()
    const w = byCause.get(cause)
    if (w && t < w.until) {
      if (w.suppressed++ === 0) {
        w.timer = setTimeout(() => this.summarise(handler, cause, w), w.until - t)
        w.timer.unref()
      }
      return false
    }
    // The timer may not have run yet (a busy loop, a late tick): the old window's count first.
    if (w) this.summarise(handler, cause, w)
    byCause.set(cause, { until: t + this.windowMs, suppressed: 0, timer: undefined })
    return true
  }

  write(handler: string, cause: string, obj: Record<string, unknown>, msg: string): void {
    this.log.warn({ ...obj, handler, reason: cause }, msg)
  }

  /** Writes the pending summaries now and forgets every window (stop). */
  flush(): void {
    for (const [handler, byCause] of this.windows) {
      for (const [cause, w] of byCause) this.summarise(handler, cause, w)
    }
    this.windows.clear()
  }

  private summarise(handler: string, cause: string, w: Window): void {
    clearTimeout(w.timer)
    w.timer = undefined
    if (w.suppressed === 0) return
    this.log.warn({ handler, reason: cause, suppressed: w.suppressed, window_ms: this.windowMs }, 'more notification failures, not logged one by one')
    w.suppressed = 0
  }
}
