// The `status` admin command of one instance: its handlers (pending, queue depth, dead letters,
// in flight), leftovers of removed handlers, pools and breakers, and the counts of the accounting
// (accepted + recovered + replayed = sent + failed + pending), read from the metrics.
import type { Deliverer } from './deliverer.js'
import type { Handler } from './handler.js'
import type { LatencyReservoir } from './latency.js'
import type { HandlerBacklog, HostMetrics } from './metrics.js'
import type { Outbox } from './outbox/outbox.js'
import { displayUrl } from './payload.js'
import type { Pool } from './pool.js'

export interface StatusParts {
  host: string
  accepting: boolean
  /** full (an XMPP node) or deliver (xmppd deliver). */
  role: string
  /** False: deliver = false, this node only publishes to the shared outbox. */
  delivering: boolean
  outbox: Outbox
  handlers: readonly Handler[]
  pools: readonly Pool[]
  deliverers: ReadonlyMap<string, Deliverer>
  backlog: HandlerBacklog[]
  metrics: HostMetrics
  latency: LatencyReservoir
}

export async function instanceStatus(p: StatusParts) {
  const counts = await p.metrics.counts()
  const backlog = new Map(p.backlog.map((b) => [b.handler, b]))
  const pending = p.backlog.reduce((n, b) => n + b.pending, 0)
  const q = p.latency.quantiles([0.5, 0.95, 0.99])
  return {
    host: p.host,
    accepting: p.accepting,
    outbox: { backend: p.outbox.backend, location: p.outbox.location, ...(p.outbox.engineState ? { engine: p.outbox.engineState() } : {}) },
    role: p.role,
    delivering: p.delivering,
    handlers: p.handlers.map((h) => ({
      name: h.name,
      pool: h.poolName,
      url: displayUrl(h.url),
      pending: backlog.get(h.name)?.pending ?? 0,
      queue_depth: backlog.get(h.name)?.queued ?? 0,
      max_queue: h.maxQueue,
      dead_letters: backlog.get(h.name)?.dead ?? 0,
      in_flight: p.deliverers.get(h.poolName)!.inFlightOf(h.name),
    })),
    orphans: p.backlog.filter((b) => !p.handlers.some((h) => h.name === b.handler)).map((b) => ({ name: b.handler, pending: b.pending, dead_letters: b.dead })),
    pools: p.pools.map((pool) => ({ name: pool.name, breaker: pool.state, in_flight: p.deliverers.get(pool.name)!.inFlight, pool_size: pool.size })),
    accepted: counts.accepted,
    recovered: counts.recovered,
    replayed: counts.replayed,
    sent: counts.sent,
    failed: counts.failed,
    pending,
    dead_letters: p.backlog.reduce((n, b) => n + b.dead, 0),
    dead_letters_purged: counts.purged,
    retries: counts.retries,
    response_time: { ...counts.response_time, p50: q[0.5], p95: q[0.95], p99: q[0.99] },
  }
}
