// One running mod_event_pusher_http on one vhost. The path reads in one direction:
// hook (user_send_packet, or offline_message for only_offline_recipient handlers; the presence
// hooks) → each handler's filter → event → the outbox (accepted is counted here, once) → the
// deliverer of the handler's pool (breaker + got) → the handler's decision → the outbox and the
// outcomes. The hooks return at once whatever the endpoints do: they only record.
import { jid } from '@xmpp/jid'
import type { Element, JID, PluginContext } from '../contract.js'
import { Deliverer } from './deliverer.js'
import { listDeliveries, replayDeliveries } from './deliveries.js'
import { extendedForm } from './delivery.js'
import { storedMessage, storedPresence } from './event.js'
import { FailureLog } from './failure-log.js'
import { createFilter } from './filter.js'
import { Handler } from './handler.js'
import { LatencyReservoir } from './latency.js'
import { HostMetrics, type BacklogReader, type HandlerBacklog } from './metrics.js'
import type { EventPusherHttpOptions } from './options.js'
import type { OutboxHandle } from './outbox/open.js'
import type { Outbox, StoredEvent } from './outbox/outbox.js'
import { Outcomes } from './outcomes.js'
import { instanceStatus } from './status.js'
import { logStarted, within } from './startup.js'
import { Pool } from './pool.js'
import type { Prepared } from './prepare.js'
import { newWebhookId } from './signing.js'

/** max_queue when a handler sets none: the sqlite outbox holds a burst on disk, memory cannot. */
export const DEFAULT_MAX_QUEUE = { sqlite: 1_000_000, memory: 10_000, jetstream: 1_000_000 } as const

/** How often pending notifications older than max_pending_age are looked for (at most). */
const EXPIRY_SWEEP_MS = 60_000

export class Instance {
  private accepting = false
  /** Message handlers fed by user_send_packet, and those fed by offline_message (only_offline_recipient). */
  private readonly sendHandlers: Handler[]
  private readonly offlineHandlers: Handler[]
  private readonly presenceHandlers: Handler[]
  private readonly hostJid: JID
  private readonly outbox: Outbox
  private readonly outcomes: Outcomes
  private readonly latency = new LatencyReservoir()
  private readonly failures: FailureLog
  private readonly metrics: HostMetrics
  private readonly pools = new Map<string, Pool>()
  private readonly deliverers = new Map<string, Deliverer>()
  private readonly backlog: BacklogReader
  private readonly keepStanza: boolean
  private readonly maxPendingAge: number
  private sweepTimer: NodeJS.Timeout | undefined
  private readonly unhooks: Array<() => void> = []
  private readonly unwatches: Array<() => void> = []
  /** This node delivers (deliver = true, the default); otherwise it only publishes to a shared outbox. */
  private readonly delivering: boolean

  /** Builds the path on an open outbox; starts nothing. */
  constructor(
    private readonly ctx: PluginContext,
    private readonly options: EventPusherHttpOptions,
    prepared: Prepared[],
    cas: Map<string, Buffer | undefined>,
    private readonly handle: OutboxHandle,
  ) {
    const host = ctx.host
    this.hostJid = jid(host)
    this.outbox = handle.outbox
    this.maxPendingAge = options.max_pending_age * 1000
    // A delivery worker delivers whatever the shared config says about the XMPP nodes (deliver = false).
    this.delivering = options.deliver || ctx.role === 'deliver'
    this.metrics = new HostMetrics(ctx.metrics, host)
    this.failures = new FailureLog(ctx.log)
    this.outcomes = new Outcomes(this.metrics, this.latency, this.failures, ctx.log)
    const handlers = prepared.map(
      ({ spec, url, callback, policy, headers }) =>
        new Handler({
          host,
          name: spec.name,
          url,
          poolName: spec.pool_name,
          maxQueue: spec.max_queue ?? DEFAULT_MAX_QUEUE[options.outbox],
          events: spec.events,
          onlyOffline: spec.only_offline_recipient,
          filter: createFilter(callback, spec),
          shape: { format: spec.format, extendedForm: extendedForm(spec), headers, callback },
          policy,
        }),
    )
    this.handlers = handlers
    const messageHandlers = handlers.filter((h) => h.wantsMessages)
    this.sendHandlers = messageHandlers.filter((h) => h.messageHook === 'user_send_packet')
    this.offlineHandlers = messageHandlers.filter((h) => h.messageHook === 'offline_message')
    this.presenceHandlers = handlers.filter((h) => h.wantsPresence)
    this.keepStanza = handlers.some((h) => h.needsStanza)
    for (const name of new Set(handlers.map((h) => h.poolName))) this.addPool(name, cas.get(name), handlers)
    this.backlog = { handlers: () => this.backlogRows(), oldest: (handler) => this.outbox.oldestPending(host, handler) }
  }

  readonly handlers: Handler[]

  /** Counts what a previous run left, starts delivering (what waited for an endpoint first), hooks in. */
  start(): void {
    const { ctx } = this
    this.metrics.recovered(this.handle.claimRecovered())
    this.metrics.backlog(this.backlog)
    for (const d of this.deliverers.values()) d.endpointBack()
    // A shared engine says when work arrives that this process did not add (other nodes' notifications).
    if (this.delivering && this.outbox.watch) {
      for (const h of this.handlers) this.unwatches.push(this.outbox.watch(ctx.host, h.name, () => this.deliverers.get(h.poolName)!.offered(h.name)))
    }
    // A reload starts this instance before the old one stops: what the old one still had leased
    // (in flight, aborted, or decided while it drained) comes back after this start's leases.
    this.handle.onHandover(() => {
      for (const h of this.handlers) this.deliverers.get(h.poolName)!.offered(h.name)
    })
    ctx.admin.command('status', () => this.status())
    ctx.admin.command('deliveries', (args) => listDeliveries(this.outbox, ctx.host, args))
    ctx.admin.command('deliveries-replay', (args) => this.replay(args))
    this.accepting = true
    void this.sweep() // expires only while accepting
    this.sweepTimer = setInterval(() => void this.sweep(), Math.min(EXPIRY_SWEEP_MS, this.maxPendingAge, this.options.dead_letter_retention * 1000))
    this.sweepTimer.unref()
    // A delivery worker (xmppd deliver) has no users: its hooks would never fire.
    if (ctx.role !== 'deliver') {
      // Each hook only when a handler wants it: a push gateway's handler is fed by offline_message
      // alone (the host fires it when it keeps a message for an account with no available resource).
      if (this.sendHandlers.length > 0) this.unhooks.push(ctx.hooks.on('user_send_packet', this.onMessage(this.sendHandlers)))
      if (this.offlineHandlers.length > 0) this.unhooks.push(ctx.hooks.on('offline_message', this.onMessage(this.offlineHandlers)))
      // Only when asked for: every login and logout would otherwise run a loop for nothing.
      if (this.presenceHandlers.length > 0) {
        this.unhooks.push(ctx.hooks.on('user_available', this.onPresence('available')))
        this.unhooks.push(ctx.hooks.on('user_unavailable', this.onPresence('unavailable')))
      }
    }
    logStarted(ctx, { delivering: this.delivering, outbox: this.outbox, handlers: this.handlers, maxPendingAge: this.options.max_pending_age })
  }

  /**
   * Stops accepting, then lets requests in flight finish for up to drain_timeout and aborts the
   * rest (an aborted try does not count: it stays pending). Nothing pending fails, except with the
   * memory outbox when this was the last instance holding it: that is lost, counted shutdown.
   */
  async stop(): Promise<void> {
    this.accepting = false
    for (const off of this.unhooks.splice(0)) off()
    clearInterval(this.sweepTimer)
    const stopped = Promise.all([...this.deliverers.values()].map((d) => d.stop()))
    if (!(await within(stopped, this.options.drain_timeout))) {
      for (const p of this.pools.values()) p.abort()
      if (!(await within(stopped, 1000))) {
        // Their outcome can no longer be carried out (the outbox is let go next): it must not be
        // counted either. They are pending in the file, or lost with the memory outbox (shutdown).
        for (const d of this.deliverers.values()) d.abandon()
        this.ctx.log.error({ host: this.ctx.host }, 'requests still in flight after abort; their outcome will not be counted')
      }
      this.ctx.log.warn(
        { host: this.ctx.host, drain_timeout: this.options.drain_timeout },
        'drain timed out: requests in flight aborted, their notifications stay pending',
      )
    }
    for (const off of this.unwatches.splice(0)) off()
    for (const p of this.pools.values()) p.close()
    this.outbox.flush()
    for (const lost of await this.handle.release()) this.outcomes.failed(lost.handler, 'shutdown', { attempts: lost.attempts, webhookId: lost.webhookId })
    this.failures.flush()
    this.metrics.release(this.backlog, [...this.pools.keys()])
  }

  private onMessage(handlers: readonly Handler[]) {
    return (packet: Element, from: JID, to: JID): void => {
      if (!this.accepting) return
      let ev: StoredEvent | undefined
      for (let i = 0; i < handlers.length; i++) {
        const handler = handlers[i]
        let taken: boolean
        try {
          taken = handler.accepts(packet, from, to)
        } catch (err) {
          this.outcomes.accepted()
          this.outcomes.failed(handler.name, 'callback', { err })
          continue
        }
        if (!taken) continue
        ev ??= storedMessage(packet, from, to, Date.now(), this.keepStanza)
        this.record(handler, ev)
      }
    }
  }

  private onPresence(type: 'available' | 'unavailable') {
    return (who: JID): void => {
      if (!this.accepting) return
      const ev = storedPresence(this.ctx.host, who, type, Date.now())
      for (let i = 0; i < this.presenceHandlers.length; i++) this.record(this.presenceHandlers[i], ev)
    }
  }

  /** Accepted: into the outbox with its webhook-id, or failed at once when the handler's backlog is full. */
  private record(handler: Handler, ev: StoredEvent): void {
    this.outcomes.accepted()
    const refused = this.outbox.add(this.ctx.host, handler.name, newWebhookId(), ev, handler.maxQueue)
    if (refused) {
      this.outcomes.failed(handler.name, refused)
      return
    }
    this.deliverers.get(handler.poolName)!.offered(handler.name)
  }

  private addPool(name: string, ca: Buffer | undefined, handlers: Handler[]): void {
    const { ctx } = this
    const settings = { ...ctx.httpPools.get(name)!, name }
    if (!settings.tls.verify) ctx.log.warn({ pool: name }, 'tls.verify is off: endpoint certificates are not checked')
    const setState = this.metrics.breakerState(name)
    const pool = new Pool(settings, {
      breaker: this.options.breaker,
      ca,
      log: ctx.log,
      onState: (state) => {
        setState(state)
        const deliverer = this.deliverers.get(name)
        // Half-open: one probe goes out. Closed: what waited for the endpoint is due at once.
        if (state === 'half-open') deliverer?.kick()
        else if (state === 'closed') deliverer?.endpointBack()
      },
    })
    this.pools.set(name, pool)
    const lanes = handlers.filter((h) => h.poolName === name)
    this.deliverers.set(name, new Deliverer(ctx.host, pool, this.outbox, lanes, this.outcomes, this.maxPendingAge))
  }

  /** Dead letters back as pending: counted replayed, and due now for their handlers. */
  private async replay(args: Record<string, string>) {
    const result = await replayDeliveries(this.outbox, this.ctx.host, args, Date.now(), new Set(this.handlers.map((h) => h.name)))
    this.metrics.replayed(result.replayed)
    if (result.replayed > 0) for (const h of this.handlers) this.deliverers.get(h.poolName)!.offered(h.name)
    this.ctx.log.info({ replayed: result.replayed, not_found: result.notFound.length, no_handler: result.noHandler }, 'dead letters replayed')
    return result
  }

  /**
   * Fails what waited longer than max_pending_age (the outbox keeps them as dead letters),
   * leftovers of removed handlers included, and purges dead letters older than dead_letter_retention.
   */
  private async sweep(): Promise<void> {
    try {
      this.metrics.purged(await this.outbox.purgeDead(this.ctx.host, Date.now() - this.options.dead_letter_retention * 1000))
      const cutoff = Date.now() - this.maxPendingAge
      // In batches (the loop turns between two); one is counted even after a stop (they are dead letters), none starts after.
      while (this.accepting) {
        const expired = await this.outbox.expire(this.ctx.host, cutoff)
        for (const e of expired) this.outcomes.failed(e.handler, 'expired', { attempts: e.attempts, webhookId: e.webhookId })
        if (expired.length === 0) break
        await new Promise((resolve) => setImmediate(resolve))
      }
    } catch (err) {
      this.ctx.log.error({ err: (err as Error).message }, 'outbox expiry sweep failed')
    }
  }

  /** Live handlers (at 0 too) and any other handler with leftovers in the outbox. */
  private backlogRows(): HandlerBacklog[] {
    const rows = new Map<string, HandlerBacklog>()
    const row = (handler: string) => rows.get(handler) ?? rows.set(handler, { handler, pending: 0, queued: 0, dead: 0 }).get(handler)!
    for (const h of this.handlers) row(h.name)
    for (const { handler, pending } of this.outbox.pendingByHandler(this.ctx.host)) Object.assign(row(handler), { pending, queued: pending })
    for (const { handler, dead } of this.outbox.deadByHandler(this.ctx.host)) row(handler).dead = dead
    for (const h of this.handlers) {
      const row = rows.get(h.name)!
      row.queued = Math.max(0, row.pending - this.deliverers.get(h.poolName)!.inFlightOf(h.name))
    }
    return [...rows.values()]
  }

  private status() {
    return instanceStatus({
      host: this.ctx.host,
      accepting: this.accepting,
      role: this.ctx.role,
      delivering: this.delivering,
      outbox: this.outbox,
      handlers: this.handlers,
      pools: [...this.pools.values()],
      deliverers: this.deliverers,
      backlog: this.backlogRows(),
      metrics: this.metrics,
      latency: this.latency,
    })
  }
}
