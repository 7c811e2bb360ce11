// What the JetStream outbox's gauges read, from the streams themselves so that every node shows
// the same: messages per subject of the work stream (pending per handler) and of the dead-letter
// stream, and when each handler's first message still there was accepted. Read every second in
// the background: the gauges are read synchronously by prom-client. While the engine is away they
// keep their last reading; the connection's state says whether it is reachable.
import type { NatsConnection } from '@nats-io/transport-node'
import type { Names } from './jetstream-codec.js'
import type { Scanner } from './jetstream-scan.js'
import type { EngineState } from './outbox.js'

const EVERY_MS = 1000

export class StreamGauges {
  private pending = new Map<string, number>()
  private dead = new Map<string, number>()
  private oldest = new Map<string, number>()
  private readonly timer: NodeJS.Timeout
  private state: EngineState = { reachable: true }

  constructor(
    private readonly nc: NatsConnection,
    private readonly names: Names,
    private readonly scanner: Scanner,
    log: (msg: string) => void,
  ) {
    this.timer = setInterval(() => void this.refresh(), EVERY_MS)
    this.timer.unref()
    void this.refresh()
    void this.watch(log)
  }

  /** Messages in the work stream for one handler. */
  pendingOf(host: string, handler: string): number {
    return this.pending.get(this.names.subject(host, handler)) ?? 0
  }

  pendingByHandler(host: string) {
    return this.scanner.byHandler(this.pending, host)
  }

  deadByHandler(host: string) {
    return this.scanner.byHandler(this.dead, host)
  }

  oldestOf(host: string, handler: string): number | undefined {
    return this.oldest.get(this.names.subject(host, handler))
  }

  engineState(): EngineState {
    return this.nc.isClosed() ? { reachable: false, error: 'connection closed' } : this.state
  }

  stop(): void {
    clearInterval(this.timer)
  }

  private async refresh(): Promise<void> {
    try {
      this.pending = await this.scanner.counts(false)
      this.dead = await this.scanner.counts(true)
      const oldest = new Map<string, number>()
      for (const [subject, n] of this.pending) {
        const p = this.names.parse(subject)
        if (!p || n === 0) continue
        const at = await this.scanner.oldest(p.host, p.handler)
        if (at !== undefined) oldest.set(subject, at)
      }
      this.oldest = oldest
    } catch {
      // The engine is away: the gauges keep their last reading (engineState says why).
    }
  }

  private async watch(log: (msg: string) => void): Promise<void> {
    for await (const s of this.nc.status()) {
      if (s.type === 'disconnect') {
        this.state = { reachable: false, error: `disconnected from ${s.server}` }
        log(`lost nats-server ${s.server}; reconnecting`)
      } else if (s.type === 'reconnect') {
        this.state = { reachable: true }
        log(`reconnected to nats-server ${s.server}`)
      }
    }
  }
}
