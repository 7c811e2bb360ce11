// From validated options to what start() builds on: each handler's spec, URL, delivery policy,
// headers and callback module, each pool's CA, and the JetStream outbox's checks and CA. Creates
// nothing that needs cleaning up. Every problem is collected, located at the option that holds
// it: check() reports them all at once, start() refuses on the first.
import { readFileSync } from 'node:fs'
import type { CheckContext } from '../contract.js'
import { ConfigError, ConfigErrors } from '../errors.js'
import { loadCallbackModule, type CallbackModule } from './callback-module.js'
import { deliveryPolicy, handlerHeaders, type DeliveryPolicy } from './delivery.js'
import { checkJetStream } from './jetstream-options.js'
import { handlerSpecs, type EventPusherHttpOptions, type HandlerSpec } from './options.js'
import { displayUrl, joinUrl } from './payload.js'

export interface Prepared {
  spec: HandlerSpec
  url: string
  callback: CallbackModule | undefined
  policy: DeliveryPolicy
  headers: Record<string, string> | undefined
}

export interface Preparation {
  /** Complete only when `issues` is empty. */
  prepared: Prepared[]
  /** Each pool's CA (undefined: the system's). */
  cas: Map<string, Buffer | undefined>
  /** jetstream.tls.ca_file's contents (undefined: the system's CAs, or another outbox). */
  jetstreamCa: Buffer | undefined
  issues: ConfigError[]
}

export async function prepareHandlers(ctx: CheckContext, options: EventPusherHttpOptions): Promise<Preparation> {
  const { specs, issues } = handlerSpecs(options)
  const cas = new Map<string, Buffer | undefined>()
  // One load per (option, module): handlers inheriting one callback_module share it and its error.
  const callbacks = new Map<string, Promise<CallbackModule | undefined>>()
  const attempt = <T>(step: () => T): T | undefined => {
    try {
      return step()
    } catch (err) {
      issues.push(...configErrors(err))
      return undefined
    }
  }
  const prepared: Prepared[] = []
  for (const spec of specs) {
    const pool = ctx.httpPools.get(spec.pool_name)
    if (!pool) issues.push(new ConfigError(spec.origins.pool_name, `no http_connections pool named "${spec.pool_name}"`))
    else if (!cas.has(spec.pool_name))
      cas.set(
        spec.pool_name,
        attempt(() => readCa(pool.tls.cacertfile, spec.pool_name, spec.origins.pool_name)),
      )
    const url = pool && joinUrl(pool.server, pool.path_prefix, spec.path)
    if (url !== undefined && !URL.canParse(url)) issues.push(new ConfigError(spec.origins.path, `"${displayUrl(url)}" is not a valid URL`))
    const policy = attempt(() => deliveryPolicy(spec, options.breaker.reset_timeout))
    const headers = attempt(() => handlerHeaders(spec))
    if (pool && headers && hasUrlCredentials(pool.server) && Object.keys(headers).some((h) => h.toLowerCase() === 'authorization'))
      issues.push(
        new ConfigError(
          spec.origins.headers,
          `an Authorization header together with user:pass@ in http_connections.${spec.pool_name}.server: one would silently replace the other; keep one`,
        ),
      )
    let callback: CallbackModule | undefined
    if (spec.callback_module) {
      const key = `${spec.origins.callback_module}\0${spec.callback_module}`
      if (!callbacks.has(key)) {
        const load = loadCallbackModule(spec.callback_module, ctx.configDir, spec.origins.callback_module)
        callbacks.set(
          key,
          load.catch((err: unknown) => void issues.push(...configErrors(err))),
        )
      }
      callback = await callbacks.get(key)
    }
    if (url !== undefined && policy) prepared.push({ spec, url, callback, policy, headers })
  }
  // Handlers whose pool or retry options are wrong have their issue already; the others are judged.
  const jetstream = checkJetStream(ctx, options, prepared)
  issues.push(...jetstream.issues)
  // Handlers that inherit a bad top-level value each find it; it is one issue, where it is written.
  const once = new Map(issues.map((i) => [i.message, i]))
  return { prepared, cas, jetstreamCa: jetstream.ca, issues: [...once.values()] }
}

// got turns a URL's user:pass@ into an Authorization header that overrides the configured one.
function hasUrlCredentials(server: string): boolean {
  if (!URL.canParse(server)) return false
  const { username, password } = new URL(server)
  return username !== '' || password !== ''
}

function readCa(file: string | undefined, pool: string, at: string): Buffer | undefined {
  if (!file) return undefined
  try {
    return readFileSync(file)
  } catch (err) {
    throw new ConfigError(at, `pool "${pool}": cannot read tls.cacertfile ${file}: ${(err as Error).message}`, { cause: err })
  }
}

/** A thrown config problem as a list; anything else is a bug and keeps propagating. */
function configErrors(err: unknown): ConfigError[] {
  if (err instanceof ConfigErrors) return err.errors
  if (err instanceof ConfigError) return [err]
  throw err
}
