// One try of a request through its pool, told apart the way the outbox needs it: an answer (any
// status), a request that reached the endpoint and then broke (a timeout, a reset), one that never
// reached it (refused, DNS, no route, the open breaker, a connect that never completed, a kept-alive
// socket reset before any answer: not an attempt, the notification waits), or a try the instance's
// stop aborted.
import { performance } from 'node:perf_hooks'
import type { TryResult } from './decision.js'
import type { HttpRequest } from './payload.js'
import type { Pool, UpstreamError } from './pool.js'

// Errors that mean no connection was made; the timings settle the rest.
const NOT_CONNECTED = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH', 'EADDRNOTAVAIL', 'EOPENBREAKER'])

interface TryError {
  code?: string
  name?: string
  status?: number
  retryAfter?: string
  /** got's timings: `connect` is set once the socket connected (or a kept-alive one was reused). */
  timings?: { connect?: number }
  /** Set by the pool: the request went out on a kept-alive socket and failed before any answer. */
  reusedSocket?: boolean
}

// A receiver that shuts down (or restarts) closes its idle keep-alive sockets; a request that goes
// out on one at that moment is reset before the endpoint read it. The client cannot tell this from
// a reset after the endpoint read it, and Node's docs advise sending it again: it waits like an
// unreachable endpoint (at least once; the webhook-id lets the receiver drop a duplicate), instead
// of being lost as a final failure with retries = 0.
const RESET = new Set(['ECONNRESET', 'EPIPE'])

export async function tryOnce(pool: Pool, req: HttpRequest): Promise<TryResult> {
  const started = performance.now()
  try {
    const status = await pool.send(req)
    return { kind: 'answer', status, seconds: (performance.now() - started) / 1000, retryAfter: undefined }
  } catch (err) {
    return classify(err, pool.aborted, (performance.now() - started) / 1000)
  }
}

export function classify(err: unknown, aborted: boolean, seconds: number): TryResult {
  if (aborted) return { kind: 'aborted' }
  const e = (err ?? {}) as TryError
  if (e.code === 'PUSH_ERR_UPSTREAM') return { kind: 'answer', status: (e as UpstreamError).status, seconds, retryAfter: e.retryAfter }
  if ((e.code !== undefined && NOT_CONNECTED.has(e.code)) || (e.timings !== undefined && e.timings.connect === undefined)) return { kind: 'unreachable', err }
  if (e.reusedSocket === true && e.code !== undefined && RESET.has(e.code)) return { kind: 'unreachable', err }
  const timedOut = e.name === 'TimeoutError' || e.code === 'ETIMEDOUT'
  return { kind: 'broken', reason: timedOut ? 'timeout' : 'connection', err }
}
