// What an instance says when it starts (its role, outbox, handlers; retries that cannot happen),
// and the one timing helper its stop uses.
import type { PluginContext } from '../contract.js'
import type { Handler } from './handler.js'
import type { Outbox } from './outbox/outbox.js'
import { displayUrl } from './payload.js'
import { plannedRetrySpan } from './retry.js'

export interface Started {
  delivering: boolean
  outbox: Outbox
  handlers: readonly Handler[]
  /** Seconds. */
  maxPendingAge: number
}

export function logStarted(ctx: PluginContext, s: Started): void {
  for (const h of s.handlers) {
    const planned = plannedRetrySpan(h.policy)
    if (planned > s.maxPendingAge * 1000) {
      const detail = { handler: h.name, retry_span_seconds: planned / 1000, max_pending_age: s.maxPendingAge }
      ctx.log.warn(detail, 'the retries outlast max_pending_age: the last ones will not happen (the notification expires first)')
    }
  }
  ctx.log.info(
    {
      role: ctx.role,
      delivering: s.delivering,
      outbox: s.outbox.backend,
      file: s.outbox.location,
      pending: s.outbox.pendingByHandler(ctx.host).reduce((n, h) => n + h.pending, 0),
      handlers: s.handlers.map((h) => ({
        name: h.name,
        pool: h.poolName,
        url: displayUrl(h.url),
        ...(h.wantsMessages && { messages_from: h.messageHook }),
        retries: h.policy.retries,
        signed: h.policy.signer !== undefined,
      })),
    },
    'mod_event_pusher_http started',
  )
}

/** True when `work` settles within `ms`. */
export async function within(work: Promise<unknown>, ms: number): Promise<boolean> {
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
