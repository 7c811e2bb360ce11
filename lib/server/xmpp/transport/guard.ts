// What a hostile or broken client can hold on the c2s listener: connections in total and per IP
// (refused at accept), the time to finish TLS, SASL and bind, silence after bind (an XEP-0199
// ping, then a deadline), and bytes queued towards a client that does not read. (Part of the
// transport layer: see ../transport.ts.) One sweep timer serves every connection, so a timer per
// socket is never armed and re-armed on each read.
import type { Socket } from 'node:net'

export interface GuardLimits {
  /** Seconds. */
  handshakeTimeout: number
  idleTimeout: number
  pingTimeout: number
  maxConnections: number
  maxConnectionsPerIp: number
  /** Bytes. */
  maxSendBuffer: number
}

export type RefusedReason = 'max_connections' | 'max_connections_per_ip'
/** Why the server closed a stream: the guard's (timeout, slow_reader) and the input scan's (limit, forbidden_input). */
export type GuardCloseReason = 'timeout' | 'slow_reader' | 'limit' | 'forbidden_input'

export interface GuardCounters {
  refused(reason: RefusedReason): void
  closed(reason: GuardCloseReason): void
}

/** One accepted connection as the guard sees it. */
export interface Guarded {
  readonly acceptedAt: number
  /** When input last arrived (ms since the epoch). */
  lastInput(): number
  bound(): boolean
  /** Bytes written but not yet taken by the kernel. */
  buffered(): number
  ping(): void
  /** Sends a stream error, forgets the session, and destroys the socket after a grace period. */
  close(condition: string, text: string): void
}

interface Entry {
  g: Guarded
  pingSentAt: number
}

/** How often deadlines are checked: a deadline is late by at most this. */
const SWEEP_MS = 250

export class ConnectionGuard {
  private total = 0
  private readonly perIp = new Map<string, number>()
  private readonly live = new Map<Guarded, Entry>()
  private readonly timer: NodeJS.Timeout

  constructor(
    readonly limits: GuardLimits,
    private readonly counters: GuardCounters,
  ) {
    this.timer = setInterval(() => this.sweep(Date.now()), SWEEP_MS)
    this.timer.unref()
  }

  /** Counts `socket` in, or returns why it is refused. The count drops when the socket closes. */
  admit(socket: Socket): RefusedReason | null {
    const ip = socket.remoteAddress ?? ''
    const fromIp = this.perIp.get(ip) ?? 0
    const reason: RefusedReason | null =
      this.total >= this.limits.maxConnections ? 'max_connections' : fromIp >= this.limits.maxConnectionsPerIp ? 'max_connections_per_ip' : null
    if (reason) {
      this.counters.refused(reason)
      return reason
    }
    this.total++
    this.perIp.set(ip, fromIp + 1)
    socket.once('close', () => {
      this.total--
      const n = (this.perIp.get(ip) ?? 1) - 1
      if (n <= 0) this.perIp.delete(ip)
      else this.perIp.set(ip, n)
    })
    return null
  }

  watch(g: Guarded): void {
    this.live.set(g, { g, pingSentAt: 0 })
  }

  forget(g: Guarded): void {
    this.live.delete(g)
  }

  /** After a write: a client that lets more than max_send_buffer pile up is a slow reader. */
  afterSend(g: Guarded): void {
    if (g.buffered() <= this.limits.maxSendBuffer) return
    this.end(g, 'slow_reader', 'policy-violation', `more than max_send_buffer (${this.limits.maxSendBuffer} bytes) queued: the client does not read`)
  }

  private sweep(now: number): void {
    const { handshakeTimeout, idleTimeout, pingTimeout } = this.limits
    for (const entry of this.live.values()) {
      const { g } = entry
      if (!g.bound()) {
        if (now - g.acceptedAt > handshakeTimeout * 1000) {
          this.end(g, 'timeout', 'connection-timeout', `TLS, authentication and bind not done within handshake_timeout (${handshakeTimeout} s)`)
        }
        continue
      }
      const last = g.lastInput()
      if (entry.pingSentAt && last >= entry.pingSentAt) entry.pingSentAt = 0 // any input answers
      if (!entry.pingSentAt) {
        if (now - last > idleTimeout * 1000) {
          entry.pingSentAt = now
          g.ping()
        }
      } else if (now - entry.pingSentAt > pingTimeout * 1000) {
        this.end(g, 'timeout', 'connection-timeout', `no answer to a ping within ping_timeout (${pingTimeout} s)`)
      }
    }
  }

  /** A stream the input scan closed (its own stream error): counted with the guard's closes. */
  closedFor(reason: 'limit' | 'forbidden_input'): void {
    this.counters.closed(reason)
  }

  private end(g: Guarded, reason: GuardCloseReason, condition: string, text: string): void {
    if (!this.live.delete(g)) return
    this.counters.closed(reason)
    g.close(condition, text)
  }

  stop(): void {
    clearInterval(this.timer)
  }
}
