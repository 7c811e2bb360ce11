// The server's one prom-client registry (never the global one), with process metrics and the
// server's own series. Plugins get the registry in their context and register theirs in it.
import { Registry, collectDefaultMetrics, Gauge, Counter } from 'prom-client'

export interface ServerMetrics {
  registry: Registry
  /** Stanzas received from authenticated sessions, by vhost and kind (message, presence, iq). */
  stanza(host: string, kind: string): void
  /** A TCP connection refused at accept (max_connections, max_connections_per_ip). */
  connectionRefused(reason: string): void
  /** A stream the server closed to protect itself: one of SESSION_CLOSE_REASONS. */
  sessionClosed(reason: SessionCloseReason): void
  /** A failed login answered later than the minimum because of earlier failures (issue 14). */
  authThrottled(): void
}

/** Why the server closed a stream (issue 14): over an input limit, a handshake or idle timeout, a
 * client that does not read, forbidden input. All pre-initialised so the dashboard shows zeros. */
export const SESSION_CLOSE_REASONS = ['limit', 'timeout', 'slow_reader', 'forbidden_input'] as const
export type SessionCloseReason = (typeof SESSION_CLOSE_REASONS)[number]
const REFUSED_REASONS = ['max_connections', 'max_connections_per_ip'] as const

export function createMetrics(hosts: readonly string[], countSessions: (host: string) => number): ServerMetrics {
  const registry = new Registry()
  collectDefaultMetrics({ register: registry })
  new Gauge({
    name: 'xmppd_sessions',
    help: 'Bound client sessions',
    labelNames: ['host'],
    registers: [registry],
    collect() {
      for (const host of hosts) this.set({ host }, countSessions(host))
    },
  })
  const stanzas = new Counter({
    name: 'xmppd_stanzas_received_total',
    help: 'Stanzas received from authenticated client sessions',
    labelNames: ['host', 'kind'],
    registers: [registry],
  })
  // Children bound once: the per-stanza path does a map lookup, not a label hash.
  const bound = new Map<string, Counter.Internal>()
  for (const host of hosts) {
    for (const kind of ['message', 'presence', 'iq']) {
      const child = stanzas.labels({ host, kind })
      child.inc(0)
      bound.set(`${host}\0${kind}`, child)
    }
  }
  const refused = new Counter({
    name: 'xmppd_connections_refused_total',
    help: 'Client TCP connections refused at accept, by the limit that refused them',
    labelNames: ['reason'],
    registers: [registry],
  })
  for (const reason of REFUSED_REASONS) refused.labels({ reason }).inc(0)
  const closed = new Counter({
    name: 'xmppd_sessions_closed_total',
    help: 'Client streams the server closed to protect itself, by reason',
    labelNames: ['reason'],
    registers: [registry],
  })
  for (const reason of SESSION_CLOSE_REASONS) closed.labels({ reason }).inc(0)
  const throttled = new Counter({
    name: 'xmppd_auth_throttled_total',
    help: 'Failed logins answered after a delay grown by earlier failures from the same IP or for the same account',
    registers: [registry],
  })
  return {
    registry,
    stanza: (host, kind) => bound.get(`${host}\0${kind}`)?.inc(),
    connectionRefused: (reason) => refused.labels({ reason }).inc(),
    sessionClosed: (reason) => closed.labels({ reason }).inc(),
    authThrottled: () => throttled.inc(),
  }
}
