// How one handler's requests are made and judged, fixed at start from its spec: success codes,
// retries (backoff or retry_schedule), signatures, static headers. Every problem is a config error at
// the option that holds it, and never quotes a secret.
import { ConfigError, ConfigErrors } from '../errors.js'
import type { HandlerSpec } from './options.js'
import { staticHeaders } from './payload.js'
import type { DecisionPolicy } from './decision.js'
import { secretKey, Signer } from './signing.js'

export { isSuccess } from './decision.js'

export interface DeliveryPolicy extends DecisionPolicy {
  signer: Signer | undefined
}

/**
 * The handler's policy; ConfigErrors with every problem of its retry and signing options.
 * `unreachableWait` (ms): how long a notification whose endpoint could not be reached waits
 * before its next try (the breaker's reset_timeout, so it is due when the breaker probes).
 * With retry_schedule and retries = 0, the schedule's length is the number of retries.
 */
export function deliveryPolicy(spec: HandlerSpec, unreachableWait: number): DeliveryPolicy {
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
  const schedule = spec.retry_schedule?.map((seconds) => Math.round(seconds * 1000))
  return {
    retries: spec.retries > 0 ? spec.retries : (schedule?.length ?? 0),
    baseDelay: spec.retry_base_delay,
    maxDelay: spec.retry_max_delay,
    schedule,
    successCodes: spec.success_codes ? new Set(spec.success_codes) : undefined,
    unreachableWait,
    signer: keys.length > 0 ? new Signer(keys) : undefined,
  }
}

/** The handler's fixed headers (static ones plus the format's content type), checked. */
export function handlerHeaders(spec: HandlerSpec): Record<string, string> | undefined {
  return staticHeaders(spec.format, spec.headers, spec.origins.headers)
}

/** Form bodies carry `event` and `type` once a handler can notify more than the seed's chat messages. */
export const extendedForm = (spec: HandlerSpec) => spec.events.includes('presence') || spec.types.some((t) => t !== 'chat')
