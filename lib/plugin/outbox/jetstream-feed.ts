// The pull side of one (vhost, handler) on this node: fetches from the handler's shared durable
// consumer into a small buffer that the deliverer leases from, and says when something arrived
// (another node published it, or a delayed redelivery came back). The buffer is bounded, so a
// node whose endpoint is down holds few messages; those it holds are kept alive (in progress) so
// that JetStream does not hand them to another node, and given back (nak) when the feed stops.
import type { Consumer, JetStreamClient, JsMsg } from '@nats-io/jetstream'
import { dueAtOf } from './jetstream-codec.js'

/** Messages a feed holds before the deliverer leases them. */
export const PREFETCH = 64
/** How long one pull waits on the server for messages (the client's minimum is 1 s). */
const PULL_EXPIRES = 10_000
const RETRY_MS = 1000

export interface Arrived {
  msg: JsMsg
  /** When it arrived here (ms): in-progress heartbeats start from it. */
  at: number
}

export class Feed {
  readonly ready: Arrived[] = []
  private stopped = false
  private pull: { stop(): void } | undefined
  private roomWaiter: (() => void) | undefined
  private arrivalWaiters: Array<() => void> = []
  private consumer: Consumer | undefined
  private failing = false

  constructor(
    private readonly js: JetStreamClient,
    private readonly stream: string,
    private readonly durable: string,
    /** Something can be leased now. */
    private readonly onArrival: () => void,
    private readonly onError: (err: Error | undefined) => void,
  ) {
    void this.run()
  }

  /** Takes up to `max` arrived messages; the feed fetches more in their place. */
  take(max: number): Arrived[] {
    const taken = this.ready.splice(0, max)
    if (taken.length > 0) this.room()
    return taken
  }

  /** Removes the arrived messages `pick` selects (the expiry sweep). */
  takeWhere(pick: (a: Arrived) => boolean): Arrived[] {
    const taken: Arrived[] = []
    for (let i = this.ready.length - 1; i >= 0; i--) if (pick(this.ready[i])) taken.unshift(...this.ready.splice(i, 1))
    if (taken.length > 0) this.room()
    return taken
  }

  /** Resolves at the next arrival, or after `ms`. */
  arrival(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const t = setTimeout(resolve, ms)
      this.arrivalWaiters.push(() => {
        clearTimeout(t)
        resolve()
      })
    })
  }

  /** Stops pulling and gives back what it held, due at once for whoever pulls next. */
  stop(): void {
    this.stopped = true
    this.pull?.stop()
    this.room()
    for (const a of this.ready.splice(0)) a.msg.nak()
  }

  private room(): void {
    const w = this.roomWaiter
    this.roomWaiter = undefined
    w?.()
  }

  private async run(): Promise<void> {
    while (!this.stopped) {
      const room = PREFETCH - this.ready.length
      if (room <= 0) {
        await new Promise<void>((resolve) => (this.roomWaiter = resolve))
        continue
      }
      try {
        this.consumer ??= await this.js.consumers.get(this.stream, this.durable)
        const pull = await this.consumer.fetch({ max_messages: room, expires: PULL_EXPIRES })
        this.pull = pull
        if (this.stopped) pull.stop()
        for await (const msg of pull) this.arrive(msg)
        if (this.failing) {
          this.failing = false
          this.onError(undefined)
        }
      } catch (err) {
        this.consumer = undefined
        if (!this.failing) {
          this.failing = true
          this.onError(err as Error)
        }
        if (!this.stopped) await new Promise((resolve) => setTimeout(resolve, RETRY_MS).unref())
      } finally {
        this.pull = undefined
      }
    }
  }

  private arrive(msg: JsMsg): void {
    if (this.stopped) {
      msg.nak()
      return
    }
    const now = Date.now()
    // A retry's copy arrives at once with the time it is due: JetStream holds it until then.
    const dueAt = dueAtOf(msg.headers)
    if (dueAt !== undefined && dueAt > now + 5) {
      msg.nak(dueAt - now)
      return
    }
    this.ready.push({ msg, at: now })
    for (const w of this.arrivalWaiters.splice(0)) w()
    this.onArrival()
  }
}
