// XEP-0198 stream management's series (docs/metrics.md): detached sessions, resumptions that
// worked and failed, and the unacknowledged messages handed back to the router when a session ends.
import { Counter, Gauge, type Registry } from 'prom-client'

export interface SmMetrics {
  /** Detached sessions: +1 when one detaches, -1 when it resumes or ends. */
  detached(delta: number): void
  resumed(): void
  resumeFailed(): void
  /** Unacknowledged messages of an ended session routed again. */
  rerouted(n: number): void
}

export function createSmMetrics(registry: Registry): SmMetrics {
  const detached = new Gauge({
    name: 'xmppd_sm_sessions_detached',
    help: 'Sessions whose connection dropped, waiting for an XEP-0198 resumption',
    registers: [registry],
  })
  const resumed = new Counter({ name: 'xmppd_sm_resumed_total', help: 'XEP-0198 sessions resumed on a new connection', registers: [registry] })
  const failed = new Counter({
    name: 'xmppd_sm_resume_failed_total',
    help: 'XEP-0198 <resume/> refused (unknown or expired id, another account, bad h)',
    registers: [registry],
  })
  const rerouted = new Counter({
    name: 'xmppd_sm_unacked_rerouted_total',
    help: 'Unacknowledged messages of an ended XEP-0198 session routed again (other resources or offline storage)',
    registers: [registry],
  })
  detached.set(0)
  return {
    detached: (delta) => detached.inc(delta),
    resumed: () => resumed.inc(),
    resumeFailed: () => failed.inc(),
    rerouted: (n) => rerouted.inc(n),
  }
}
