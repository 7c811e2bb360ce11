// mod_event_pusher_http: one instance per vhost (instance.ts), hooked on user_send_packet, on
// offline_message for only_offline_recipient handlers (push), and on user_available /
// user_unavailable when a handler wants presence. Every notification a filter accepts is
// recorded in the outbox before its first try, and delivered from there.
import type { CheckContext, ConfigIssue, Plugin } from '../contract.js'
import { Instance } from './instance.js'
import type { EventPusherHttpOptions } from './options.js'
import { outboxChoice } from './outbox/choice.js'
import { openOutbox } from './outbox/open.js'
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
  let instance: Instance | undefined
  return {
    async start(ctx) {
      if (instance) throw new Error(`mod_event_pusher_http already started on ${ctx.host}`)
      const options = ctx.options as EventPusherHttpOptions
      const { prepared, cas, jetstreamCa, issues } = await prepareHandlers(ctx, options)
      if (issues.length > 0) throw issues[0] // the host ran check() first: something changed since
      // A file in use by another process, or not a usable database: a clear error, nothing started.
      const handle = await openOutbox(
        outboxChoice(options, jetstreamCa),
        ctx.dataDir,
        ctx.host,
        (err) => ctx.log.error({ err: err.message, file: handle.outbox.location }, 'outbox write failed; kept in memory and tried again'),
        ctx.metrics,
        (msg, err) => (err ? ctx.log.warn({ err: err.message }, msg) : ctx.log.info({}, msg)),
      )
      try {
        // A shared engine's consumers, checked (or made) before anything is accepted.
        if (options.deliver || ctx.role === 'deliver') await handle.outbox.prepare?.(ctx.host, [...new Set(prepared.map((p) => p.spec.name))])
      } catch (err) {
        await handle.release()
        throw err
      }
      try {
        instance = new Instance(ctx, options, prepared, cas, handle)
        instance.start()
      } catch (err) {
        // Nothing below throws on valid input; should it anyway, undo what exists so far.
        const started = instance
        instance = undefined
        if (started) await started.stop()
        else await handle.release()
        throw err
      }
    },

    async stop() {
      const running = instance
      instance = undefined
      await running?.stop()
    },
  }
}
