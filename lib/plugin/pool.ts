// One endpoint pool per (vhost, pool): a got instance with its options normalised once (and got's
// native-options fast path on its own requests, when the start-up self-check allows), keep-alive
// agents sized by pool_size, and an opossum breaker. Its deliverer keeps at most pool_size
// requests in flight.
import http from 'node:http'
import https from 'node:https'
import CircuitBreaker from 'opossum'
import type { Duplex } from 'node:stream'
import { got, type Got } from 'got'
import type { HttpPoolSettings, Logger } from '../contract.js'
import { PUSH_ERR_UPSTREAM } from '../errors.js'
import { withFastNativeOptions, type NativeOptionsBuilder } from './got-native-options.js'
import { JSON_CONTENT_TYPE } from './json-payload.js'
import type { BreakerState } from './metrics.js'
import type { BreakerOptions } from './options.js'
import { FORM_CONTENT_TYPE, joinUrl, type HttpRequest } from './payload.js'

/** The endpoint is up but the request went wrong: not the breaker's business (DESIGN.md). */
export const countsTowardBreaker = (status: number) => status >= 500 || status === 408 || status === 429

/** PUSH_ERR_UPSTREAM as the pool throws it: with the status and the endpoint's Retry-After. */
export interface UpstreamError extends Error {
  code: 'PUSH_ERR_UPSTREAM'
  status: number
  retryAfter: string | undefined
}

function upstreamError(status: number, retryAfter: string | undefined): UpstreamError {
  return Object.assign(new PUSH_ERR_UPSTREAM(status), { status, retryAfter }) as UpstreamError
}

export interface PoolDeps {
  breaker: BreakerOptions
  /** Contents of settings.tls.cacertfile, read once at start. */
  ca: Buffer | undefined
  log: Logger
  onState(state: BreakerState): void
  /** The fast native-options builder to self-check and use; got-native-options.ts's by default. */
  nativeOptions?: NativeOptionsBuilder
}

const USER_AGENT = 'xmppd mod_event_pusher_http'

/** The rejection for a request the open breaker refuses: one shared, stack-less error. */
const OPEN_ERROR = Object.assign(Object.create(Error.prototype) as Error, { name: 'Error', code: 'EOPENBREAKER', message: 'Breaker is open' })
const BREAKER_OPEN: Promise<number> = Promise.reject(OPEN_ERROR)
BREAKER_OPEN.catch(() => undefined) // handled by every caller; not an unhandled rejection

export class Pool {
  readonly name: string
  readonly size: number
  private readonly httpAgent: http.Agent
  private readonly httpsAgent: https.Agent
  private readonly client: Got
  private readonly breaker: CircuitBreaker<[HttpRequest], number>
  /** Requests in flight, for abort(). (A shared AbortSignal costs a listener per request.) */
  private readonly inFlightStreams = new Set<Duplex>()
  private abortedFlag = false

  constructor(settings: HttpPoolSettings, { breaker, ca, log, onState, nativeOptions }: PoolDeps) {
    this.name = settings.name
    this.size = settings.pool_size
    const agentOptions = { keepAlive: true, maxSockets: settings.pool_size, maxFreeSockets: settings.pool_size }
    this.httpAgent = new http.Agent(agentOptions)
    this.httpsAgent = new https.Agent(agentOptions)
    // Everything got would otherwise decide per request is fixed here: no retries (the
    // handler's decision owns that), no redirects, statuses are results, not exceptions.
    const client = got.extend({
      retry: { limit: 0 },
      followRedirect: false,
      throwHttpErrors: false,
      timeout: { request: settings.request_timeout },
      agent: { http: this.httpAgent, https: this.httpsAgent },
      https: { rejectUnauthorized: settings.tls.verify, certificateAuthority: ca },
      headers: { 'content-type': FORM_CONTENT_TYPE, 'user-agent': USER_AGENT },
    })
    // The self-check's request: the pool's URL and a body and headers as a JSON handler sends them.
    const probe = { url: joinUrl(settings.server, settings.path_prefix, 'probe'), body: '{"message":"hi"}', headers: { 'content-type': JSON_CONTENT_TYPE } }
    this.client = withFastNativeOptions(client, probe, log.child({ pool: settings.name }), nativeOptions)
    this.breaker = new CircuitBreaker((req: HttpRequest) => this.post(req), {
      name: `${settings.name}`,
      timeout: false, // got's request_timeout bounds each request
      errorThresholdPercentage: breaker.error_threshold_percentage,
      volumeThreshold: breaker.volume_threshold,
      // opossum's default window is 10 s: after steady traffic a burst of 5xx would have to
      // outlast ten seconds of successes before the breaker held the retries back.
      rollingCountTimeout: breaker.rolling_window,
      rollingCountBuckets: 10,
      resetTimeout: breaker.reset_timeout,
      enableSnapshots: false,
    })
    // Aborted requests at shutdown also count as failures: their transitions mean nothing.
    // An outage probes every reset_timeout (1 s by default): open and half-open are logged at warn
    // and info once per outage, the probes that fail again at debug; the close ends the outage.
    let outageSince: number | undefined
    let probes = 0
    this.breaker.on('open', () => {
      if (this.aborted) return
      if (outageSince === undefined) {
        outageSince = Date.now()
        probes = 0
        log.warn({ pool: this.name, reset_timeout: breaker.reset_timeout }, 'breaker open: notifications wait in the outbox')
      } else log.debug({ pool: this.name }, 'breaker probe failed: open again')
      onState('open')
    })
    this.breaker.on('halfOpen', () => {
      if (this.aborted) return
      if (probes++ === 0) log.info({ pool: this.name }, 'breaker half-open: one probe request every reset_timeout until one succeeds')
      onState('half-open')
    })
    this.breaker.on('close', () => {
      if (this.aborted) return
      log.info({ pool: this.name, outage_ms: outageSince === undefined ? undefined : Date.now() - outageSince, probes }, 'breaker closed')
      outageSince = undefined
      onState('closed')
    })
  }

  get state(): BreakerState {
    return this.breaker.opened ? 'open' : this.breaker.halfOpen ? 'half-open' : 'closed'
  }

  /** The breaker is open: requests are refused without being sent. */
  get refusing(): boolean {
    return this.breaker.opened
  }

  /** True once abort() ran: every error from now on is the shutdown's doing. */
  get aborted(): boolean {
    return this.abortedFlag
  }

  /**
   * Resolves with the status of answers the breaker counts as healthy (2xx, 3xx, 4xx but 408/429);
   * rejects with got's error, an UpstreamError (5xx, 408, 429) or opossum's EOPENBREAKER.
   */
  send(req: HttpRequest): Promise<number> {
    // Open: refuse without opossum building an Error (and its stack); the outcome is the one
    // fire() would give (EOPENBREAKER: unreachable, the notification waits).
    if (this.breaker.opened) return BREAKER_OPEN
    return this.breaker.fire(req)
  }

  /** Aborts every request in flight (their tries do not count: the notifications stay pending). */
  abort(): void {
    this.abortedFlag = true
    for (const stream of this.inFlightStreams) stream.destroy(new Error('pool stopped'))
    this.inFlightStreams.clear()
  }

  close(): void {
    this.abort()
    this.breaker.shutdown()
    this.httpAgent.destroy()
    this.httpsAgent.destroy()
  }

  // got's stream API: the promise API's extra machinery (response buffering, p-cancelable, its
  // own promise chain) cost about a third more CPU per request, and we only need the status.
  private post(req: HttpRequest): Promise<number> {
    return new Promise((resolve, reject) => {
      const stream = this.client.stream.post(req.url, req.headers ? { body: req.body, headers: req.headers } : { body: req.body })
      this.inFlightStreams.add(stream)
      let status = 0
      let retryAfter: string | undefined
      stream.once('response', (res: { statusCode: number; headers: Record<string, string | string[] | undefined> }) => {
        status = res.statusCode
        retryAfter = res.headers['retry-after'] as string | undefined
      })
      stream.once('error', (err: Error) => {
        this.inFlightStreams.delete(stream)
        // A kept-alive socket the endpoint closed as this request went out on it (a receiver
        // shutting down closes its idle sockets): attempt.ts tells this from a reset after connecting.
        if (status === 0 && stream.reusedSocket === true) (err as Error & { reusedSocket?: boolean }).reusedSocket = true
        reject(err)
      })
      stream.once('end', () => {
        this.inFlightStreams.delete(stream)
        if (countsTowardBreaker(status)) reject(upstreamError(status, retryAfter))
        else resolve(status)
      })
      stream.resume() // the body is not needed; reading it frees the socket for the next request
    })
  }
}
