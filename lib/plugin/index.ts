// mod_event_pusher_http: one instance per vhost, hooked on user_send_packet (and, when a handler
// wants presence, on user_available / user_unavailable). For each event and handler: filter →
// payload → the handler's bounded queue; the pools do the I/O later, so the hooks return at once
// whatever the endpoints do.
import { jid } from '@xmpp/jid'
import type { CheckContext, ConfigIssue, Element, JID, Plugin, PluginContext } from '../contract.js'
import { extendedForm } from './delivery.js'
import { Dispatcher } from './dispatcher.js'
import { FailureLog } from './failure-log.js'
import { createFilter } from './filter.js'
import { Handler } from './handler.js'
import { LatencyReservoir } from './latency.js'
import { HostMetrics } from './metrics.js'
import type { EventPusherHttpOptions } from './options.js'
import { displayUrl, messageEvent, presenceEvent, type PushEvent } from './payload.js'
import { Pool } from './pool.js'
import { prepareHandlers } from './prepare.js'

export type { Notification } from './payload.js'
export type { CallbackModule } from './callback-module.js'
export type { EventPusherHttpConfig, EventPusherHttpOptions } from './options.js'

/**
 * The plugin's cross-checks, run by the host for every vhost before anything starts: pools that
 * must exist, URLs, CA files, retry and signing options, headers, callback modules. Every issue,
 * not just the first. Loading a callback module runs its top-level code, as start would.
 */
export async function check(ctx: CheckContext): Promise<ConfigIssue[]> {
  return (await prepareHandlers(ctx, ctx.options as EventPusherHttpOptions)).issues
}

export default function createEventPusherHttp(): Plugin {
  let handlers: Handler[] = []
  // The handlers each hook serves, fixed at start so the hooks only loop.
  let messageHandlers: Handler[] = []
  let presenceHandlers: Handler[] = []
  let pools = new Map<string, Pool>()
  let metrics: HostMetrics | undefined
  let dispatcher: Dispatcher | undefined
  let failures: FailureLog | undefined
  const unhooks: Array<() => void> = []
  let started = false
  let accepting = false
  let drainTimeout = 0
  let host = ''
  let hostJid: JID | undefined
  let log: PluginContext['log'] | undefined

  function onSendPacket(packet: Element, from: JID, to: JID): void {
    if (!accepting) return
    let ev: PushEvent | undefined
    for (let i = 0; i < messageHandlers.length; i++) {
      const handler = messageHandlers[i]
      if (!handler.accepts(packet, from, to) || !handler.admit()) continue
      ev ??= messageEvent(host, packet, from, to, Date.now())
      handler.enqueue(ev)
    }
  }

  function onPresence(type: 'available' | 'unavailable') {
    return function presenceChanged(who: JID): void {
      if (!accepting) return
      const ev = presenceEvent(host, hostJid!, who, type, Date.now())
      for (let i = 0; i < presenceHandlers.length; i++) {
        dispatcher!.accepted()
        if (presenceHandlers[i].admit()) presenceHandlers[i].enqueue(ev)
      }
    }
  }

  function statusOf(reservoir: LatencyReservoir) {
    return async () => {
      const counts = await metrics!.counts()
      return {
        host,
        accepting,
        handlers: handlers.map((h) => ({
          name: h.name,
          pool: h.pool.name,
          url: displayUrl(h.url),
          queue_depth: h.queueDepth,
          max_queue: h.maxQueue,
          in_flight: h.inFlight,
          retrying: h.retrying,
        })),
        pools: [...pools.values()].map((p) => ({ name: p.name, breaker: p.state, in_flight: p.inFlight, pool_size: p.size })),
        accepted: counts.accepted,
        sent: counts.sent,
        failed: counts.failed,
        retries: counts.retries,
        response_time: { ...counts.response_time, ...percentiles(reservoir) },
      }
    }
  }

  return {
    async start(ctx) {
      if (started) throw new Error(`mod_event_pusher_http already started on ${host}`)
      const options = ctx.options as EventPusherHttpOptions
      const { prepared, cas, issues } = await prepareHandlers(ctx, options)
      if (issues.length > 0) throw issues[0] // the host ran check() first: something changed since
      // Nothing below throws on valid input; should it anyway, undo what exists so far.
      try {
        started = true
        host = ctx.host
        hostJid = jid(ctx.host)
        log = ctx.log
        drainTimeout = options.drain_timeout
        metrics = new HostMetrics(ctx.metrics, ctx.host)
        const reservoir = new LatencyReservoir()
        failures = new FailureLog(ctx.log)
        dispatcher = new Dispatcher(metrics, reservoir, ctx.log, failures)
        for (const { spec } of prepared) {
          const name = spec.pool_name
          if (pools.has(name)) continue
          const settings = { ...ctx.httpPools.get(name)!, name }
          if (!settings.tls.verify) ctx.log.warn({ pool: name }, 'tls.verify is off: endpoint certificates are not checked')
          const setState = metrics.breakerState(name)
          const onState = (state: 'open' | 'half-open' | 'closed') => {
            setState(state)
            // What waits in the queues would only meet the open breaker one by one: fail it now.
            if (state === 'open') for (const h of handlers) if (h.pool.name === name) h.failQueuedOnOpen()
          }
          pools.set(name, new Pool(settings, { breaker: options.breaker, ca: cas.get(name), log: ctx.log, onState }))
        }
        handlers = prepared.map(
          ({ spec, url, callback, policy, headers }) =>
            new Handler({
              name: spec.name,
              url,
              maxQueue: spec.max_queue,
              events: spec.events,
              filter: createFilter(callback, spec, ctx.sessions),
              shape: { format: spec.format, extendedForm: extendedForm(spec), headers, callback },
              policy,
              pool: pools.get(spec.pool_name)!,
              dispatcher: dispatcher!,
            }),
        )
        for (const h of handlers) metrics.queueDepth(h.name, () => h.queueDepth)
        messageHandlers = handlers.filter((h) => h.wantsMessages)
        presenceHandlers = handlers.filter((h) => h.wantsPresence)
        ctx.admin.command('status', statusOf(reservoir))
        accepting = true
        if (messageHandlers.length > 0) unhooks.push(ctx.hooks.on('user_send_packet', onSendPacket))
        // Only when asked for: every login and logout would otherwise run a loop for nothing.
        if (presenceHandlers.length > 0) {
          unhooks.push(ctx.hooks.on('user_available', onPresence('available')))
          unhooks.push(ctx.hooks.on('user_unavailable', onPresence('unavailable')))
        }
        ctx.log.info(
          {
            handlers: prepared.map(({ spec, url, policy }) => ({
              name: spec.name,
              pool: spec.pool_name,
              url: displayUrl(url),
              events: spec.events,
              format: spec.format,
              retries: spec.retries,
              signed: policy.signer !== undefined,
            })),
          },
          'mod_event_pusher_http started',
        )
      } catch (err) {
        teardown()
        throw err
      }
    },

    async stop() {
      if (!started) return
      accepting = false
      unhookAll()
      // Retries still waiting get their attempt now, within the drain, and no new ones start.
      for (const h of handlers) h.stopRetrying()
      const drained = await within(Promise.all(handlers.map((h) => h.idle())), drainTimeout)
      if (!drained) {
        // Queued first, so an aborted request's freed slot cannot start another.
        for (const h of handlers) h.dropQueued()
        for (const p of pools.values()) p.abort()
        const settled = await within(Promise.all(handlers.map((h) => h.idle())), 1000)
        if (!settled) log?.error({ host }, 'requests still in flight after abort')
        log?.warn({ host, drain_timeout: drainTimeout }, 'drain timed out: leftovers counted as failed (shutdown)')
      }
      teardown()
    },
  }

  function unhookAll(): void {
    for (const off of unhooks.splice(0)) off()
  }

  function teardown(): void {
    accepting = false
    started = false
    unhookAll()
    failures?.flush()
    failures = undefined
    dispatcher = undefined
    for (const p of pools.values()) p.close()
    metrics?.release(
      handlers.map((h) => h.name),
      [...pools.keys()],
    )
    handlers = []
    messageHandlers = []
    presenceHandlers = []
    pools = new Map()
    metrics = undefined
  }
}

function percentiles(reservoir: LatencyReservoir): { p50: number | null; p95: number | null; p99: number | null } {
  const q = reservoir.quantiles([0.5, 0.95, 0.99])
  return { p50: q[0.5], p95: q[0.95], p99: q[0.99] }
}

/** True when `work` settles within `ms`. */
async function within(work: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined
  const timeout = new Promise<false>((resolve) => {
    timer = setTimeout(resolve, ms, false)
  })
  try {
    return await Promise.race([work.then(() => true as const), timeout])
  } finally {
    clearTimeout(timer)
  }
}
