// One pool's delivery path without an instance: a real Pool (got + opossum) against a real local
// endpoint, a real outbox, real Handlers as the deliverer's lanes and the plugin's own Outcomes
// on a prom-client Registry, wired the way instance.ts wires them (half-open kicks the deliverer,
// closed wakes the unreachable). Every decision is also recorded, for specs about the deliverer.
import assert from 'node:assert/strict'
import { Registry } from 'prom-client'
import type { CallbackModule } from '../../lib/plugin/callback-module.js'
import { Deliverer, type Accounting } from '../../lib/plugin/deliverer.js'
import type { DeliveryPolicy } from '../../lib/plugin/delivery.js'
import { storedMessage } from '../../lib/plugin/event.js'
import { FailureLog } from '../../lib/plugin/failure-log.js'
import { createFilter } from '../../lib/plugin/filter.js'
import { Handler } from '../../lib/plugin/handler.js'
import { LatencyReservoir } from '../../lib/plugin/latency.js'
import { HostMetrics, type BacklogReader } from '../../lib/plugin/metrics.js'
import type { BreakerOptions } from '../../lib/plugin/options.js'
import type { Outbox } from '../../lib/plugin/outbox/outbox.js'
import { Outcomes } from '../../lib/plugin/outcomes.js'
import { Pool } from '../../lib/plugin/pool.js'
import { newWebhookId } from '../../lib/plugin/signing.js'
import { recordingLogger, type LogLine } from './fake-host.js'
import { chat } from './stanza.js'

export const RIG_HOST = 'a.test'

export interface RigOptions {
  outbox: Outbox
  /** The endpoint; each lane posts to `<url>/<lane>`. */
  url: string
  lanes?: string[]
  poolSize?: number
  breaker?: Partial<BreakerOptions>
  /** max_pending_age in ms. */
  maxPendingAge?: number
  /** How long an unreachable endpoint's notifications wait (ms). */
  unreachableWait?: number
  callback?: CallbackModule
  /** A previous rig's registry: the counts go on (a restart within one process). */
  registry?: Registry
}

export interface Decided {
  lane: string
  webhookId: string
  body: string | null
  kind: string
}

export interface Rig {
  registry: Registry
  pool: Pool
  deliverer: Deliverer
  decisions: Decided[]
  logs: LogLine[]
  /** Accepts a notification for `lane` (counted accepted, recorded, offered); its webhook-id. */
  add(lane: string, body: string, time?: number): string
  /** Stops the deliverer (aborting what is in flight when asked) and closes the pool. */
  stop(opts?: { abort?: boolean }): Promise<void>
}

export function deliveryRig(o: RigOptions): Rig {
  const registry = o.registry ?? new Registry()
  const logs: LogLine[] = []
  const log = recordingLogger(logs)
  const metrics = new HostMetrics(registry, RIG_HOST)
  const outcomes = new Outcomes(metrics, new LatencyReservoir(), new FailureLog(log), log)
  const decisions: Decided[] = []
  const accounting: Accounting = {
    decided(lane, entry, decision, attemptsBefore) {
      decisions.push({ lane: lane.name, webhookId: entry.webhookId, body: entry.event.body, kind: decision.kind })
      outcomes.decided(lane, entry, decision, attemptsBefore)
    },
    notTried(lane, entry, reason, err) {
      decisions.push({ lane: lane.name, webhookId: entry.webhookId, body: entry.event.body, kind: reason })
      outcomes.notTried(lane, entry, reason, err)
    },
  }
  const policy: DeliveryPolicy = {
    retries: 0,
    baseDelay: 1000,
    maxDelay: 60_000,
    successCodes: undefined,
    unreachableWait: o.unreachableWait ?? 60_000,
    signer: undefined,
  }
  const names = o.lanes ?? ['a']
  const lanes = names.map(
    (name) =>
      new Handler({
        host: RIG_HOST,
        name,
        url: `${o.url}/${name}`,
        poolName: 'p',
        maxQueue: 1_000_000,
        events: ['message'],
        filter: createFilter(o.callback),
        shape: { format: 'form', extendedForm: false, headers: undefined, callback: o.callback },
        policy,
      }),
  )
  // The pool reports its breaker to the deliverer built on it: wired once both exist.
  const wired: { deliverer?: Deliverer } = {}
  const breaker = { error_threshold_percentage: 50, volume_threshold: 10, rolling_window: 10_000, reset_timeout: 60_000, ...o.breaker }
  const pool = new Pool(
    { name: 'p', server: o.url, pool_size: o.poolSize ?? 10, path_prefix: '', request_timeout: 2000, tls: { verify: true } },
    {
      breaker,
      ca: undefined,
      log,
      onState(state) {
        if (state === 'half-open') wired.deliverer?.kick()
        else if (state === 'closed') wired.deliverer?.endpointBack()
      },
    },
  )
  const d = (wired.deliverer = new Deliverer(RIG_HOST, pool, o.outbox, lanes, accounting, o.maxPendingAge ?? 86_400_000))
  const backlog: BacklogReader = {
    handlers: () => names.map((handler) => ({ handler, pending: o.outbox.pending(RIG_HOST, handler), queued: 0, dead: 0 })),
    oldest: (handler) => o.outbox.oldestPending(RIG_HOST, handler),
  }
  metrics.backlog(backlog)
  const keepStanza = lanes.some((l) => l.needsStanza)
  return {
    registry,
    pool,
    deliverer: d,
    decisions,
    logs,
    add(lane, body, time = Date.now()) {
      const { packet, from, to } = chat('alice@a.test/r', 'bob@a.test', body)
      const id = newWebhookId()
      outcomes.accepted()
      assert.equal(o.outbox.add(RIG_HOST, lane, id, storedMessage(packet, from, to, time, keepStanza), 1_000_000), undefined)
      d.offered(lane)
      return id
    },
    async stop({ abort = false } = {}) {
      const stopped = d.stop()
      if (abort) pool.abort()
      await stopped
      pool.close()
      metrics.release(backlog, ['p'])
    },
  }
}
