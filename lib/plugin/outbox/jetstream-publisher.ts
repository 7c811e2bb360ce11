// Publishes to JetStream from a bounded buffer in memory, so that the hook never waits for the
// engine: what was accepted is queued here and published in the background, many at once. A
// publish that fails or times out goes back to the head of the queue and is tried again with the
// same message id (JetStream drops the duplicate if the first one did land). While nats-server is
// away the queue grows up to `limit` new notifications; past that, add() refuses them and the
// caller counts them failed (outbox_unavailable). Retries' copies and dead letters are never
// refused: the message they replace stays unacknowledged in the stream until they are published.
import type { MsgHdrs } from '@nats-io/transport-node'
import type { JetStreamClient } from '@nats-io/jetstream'

export interface Job {
  subject: string
  data: Uint8Array
  headers: MsgHdrs
  msgId: string
  /** A new notification (counts against the limit and as pending of its handler), or a follow-up. */
  kind: 'new' | 'follow-up'
  /** For a new one: whose it is (pending counts, and what is lost if the process ends first). */
  host: string
  handler: string
  webhookId: string
  /** Called once JetStream has it. */
  done?: () => void
}

/** Publishes in flight at once: enough to keep a loopback engine busy. */
const CONCURRENCY = 256
const PUBLISH_TIMEOUT = 5000
/** After a failed publish, how long the queue waits before trying again (the engine is away). */
const PAUSE_MS = 250

export class Publisher {
  private queue: Job[] = []
  private head = 0
  private inFlight = 0
  /** Published but not yet confirmed: lost as well if the close comes first. */
  private readonly unconfirmed = new Set<Job>()
  private newQueued = 0
  private paused: NodeJS.Timeout | undefined
  private closed = false
  private readonly byHandler = new Map<string, number>()
  private idleWaiters: Array<() => void> = []
  private failing = false

  constructor(
    private readonly js: JetStreamClient,
    private readonly limit: number,
    private readonly onState: (failing: boolean, err?: Error) => void,
  ) {}

  /** New notifications not yet in the stream, of one handler. */
  unpublished(host: string, handler: string): number {
    return this.byHandler.get(`${host}\0${handler}`) ?? 0
  }

  /** Handlers of a host with new notifications not yet in the stream (perhaps none there yet: the engine away). */
  handlersOf(host: string): string[] {
    const prefix = `${host}\0`
    return [...this.byHandler.keys()].filter((k) => k.startsWith(prefix)).map((k) => k.slice(prefix.length))
  }

  /** False: the buffer holds `limit` new notifications already (nothing is queued). */
  add(job: Job): boolean {
    if (job.kind === 'new') {
      if (this.newQueued >= this.limit) return false
      this.newQueued++
      const k = `${job.host}\0${job.handler}`
      this.byHandler.set(k, (this.byHandler.get(k) ?? 0) + 1)
    }
    this.queue.push(job)
    this.pump()
    return true
  }

  private pump(): void {
    while (!this.paused && !this.closed && this.inFlight < CONCURRENCY && this.head < this.queue.length) {
      const job = this.queue[this.head]
      this.queue[this.head++] = undefined as unknown as Job
      if (this.head > 1024 && this.head * 2 > this.queue.length) {
        this.queue.splice(0, this.head)
        this.head = 0
      }
      this.inFlight++
      this.unconfirmed.add(job)
      this.js.publish(job.subject, job.data, { msgID: job.msgId, headers: job.headers, timeout: PUBLISH_TIMEOUT }).then(
        () => this.published(job),
        (err: Error) => this.failed(job, err),
      )
    }
    this.notifyIdle()
  }

  private published(job: Job): void {
    this.inFlight--
    if (!this.unconfirmed.delete(job)) return // confirmed after close() gave it up as lost
    if (job.kind === 'new') {
      this.newQueued--
      const k = `${job.host}\0${job.handler}`
      const n = (this.byHandler.get(k) ?? 1) - 1
      if (n === 0) this.byHandler.delete(k)
      else this.byHandler.set(k, n)
    }
    if (this.failing) {
      this.failing = false
      this.onState(false)
    }
    job.done?.()
    this.pump()
  }

  private failed(job: Job, err: Error): void {
    this.inFlight--
    if (!this.unconfirmed.delete(job)) return
    // Back to the head, same message id: if it did land, the engine drops the second one.
    if (this.head > 0) this.queue[--this.head] = job
    else this.queue.unshift(job)
    if (!this.failing) {
      this.failing = true
      this.onState(true, err)
    }
    if (!this.paused && !this.closed) {
      this.paused = setTimeout(() => {
        this.paused = undefined
        this.pump()
      }, PAUSE_MS)
      this.paused.unref()
    }
    this.notifyIdle()
  }

  private notifyIdle(): void {
    if (this.inFlight > 0 || this.head < this.queue.length) return
    for (const w of this.idleWaiters.splice(0)) w()
  }

  /**
   * Waits up to `ms` for the queue to empty, then stops. Returns the new notifications that were
   * never published (lost: the caller counts them); follow-ups left are harmless (the message
   * they replace is redelivered after ack_wait).
   */
  async close(ms: number): Promise<Job[]> {
    const deadline = Date.now() + ms
    while ((this.head < this.queue.length || this.inFlight > 0) && Date.now() < deadline) {
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, 50)
        this.idleWaiters.push(() => {
          clearTimeout(t)
          resolve()
        })
      })
    }
    this.closed = true
    clearTimeout(this.paused)
    const left = [...this.unconfirmed, ...this.queue.slice(this.head)].filter((j) => j.kind === 'new')
    this.unconfirmed.clear()
    this.queue = []
    this.head = 0
    return left
  }
}
