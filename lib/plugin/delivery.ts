// How one handler's requests are made and judged, fixed at start from its spec: success codes,
// retries, request identity and signatures, static headers. Every problem is a config error at
// the option that holds it, and never quotes a secret.
import { ConfigError, ConfigErrors } from '../errors.js'
import type { HandlerSpec } from './options.js'
import { staticHeaders } from './payload.js'
import type { RetryPolicy } from './retry.js'
import { secretKey, Signer } from './signing.js'

export interface DeliveryPolicy extends RetryPolicy {
  /** Statuses that count as sent; undefined: any 2xx. */
  successCodes: ReadonlySet<number> | undefined
  /** Sends webhook-id and webhook-timestamp (signing or retries on). */
  identify: boolean
  signer: Signer | undefined
}

/** The handler's policy; ConfigErrors with every problem of its retry and signing options. */
export function deliveryPolicy(spec: HandlerSpec): DeliveryPolicy {
  const problems: ConfigError[] = []
  if (spec.retry_max_delay < spec.retry_base_delay) {
    problems.push(new ConfigError(spec.origins.retry_max_delay, `must be >= retry_base_delay (${spec.retry_base_delay})`))
  }
  const keys = spec.signing_secrets.flatMap((secret, i) => {
    try {
      return [secretKey(secret, `${spec.origins.signing_secrets}.${i}`)]
    } catch (err) {
      problems.push(err as ConfigError)
      return []
    }
  })
  if (problems.length) throw new ConfigErrors(problems)
  return {
    retries: spec.retries,
    baseDelay: spec.retry_base_delay,
    maxDelay: spec.retry_max_delay,
    successCodes: spec.success_codes ? new Set(spec.success_codes) : undefined,
    identify: keys.length > 0 || spec.retries > 0,
    signer: keys.length > 0 ? new Signer(keys) : undefined,
  }
}

export const isSuccess = (status: number, codes: ReadonlySet<number> | undefined) => (codes ? codes.has(status) : status >= 200 && status < 300)

/** The handler's fixed headers (static ones plus the format's content type), checked. */
export function handlerHeaders(spec: HandlerSpec): Record<string, string> | undefined {
  return staticHeaders(spec.format, spec.headers, spec.origins.headers)
}

/** Form bodies carry `event` and `type` once a handler can notify more than the seed's chat messages. */
export const extendedForm = (spec: HandlerSpec) => spec.events.includes('presence') || spec.types.some((t) => t !== 'chat')
