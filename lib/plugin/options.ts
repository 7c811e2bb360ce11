// The plugin's options: the types generated from plugin.json, and the one step that turns the
// single-handler form or the `handlers` list into a uniform list of handler specs.
import { ConfigError } from '../errors.js'
import type { EventPusherHttpOptions } from './options.generated.js'

export type { EventPusherHttpConfig, EventPusherHttpOptions, BreakerConfig, HandlerConfig } from './options.generated.js'
export type BreakerOptions = EventPusherHttpOptions['breaker']

/** Where in the plugin's section a handler's value was written, for config errors. */
export interface HandlerOrigins {
  pool_name: string
  callback_module: string
  path: string
}

export interface HandlerSpec {
  /** Metric and status label, unique within the instance. */
  name: string
  pool_name: string
  path: string
  /** Undefined: the default filter and payload. */
  callback_module: string | undefined
  max_queue: number
  origins: HandlerOrigins
}

/**
 * One spec per handler. With `handlers`, each entry inherits the keys it leaves out from the top
 * level (whose defaults the loader has applied); without it, the top level is the one handler.
 * An empty `callback_module` means the default filter, so a handler can opt out of an inherited one.
 */
export function handlerSpecs(options: EventPusherHttpOptions): HandlerSpec[] {
  const list = options.handlers ?? [{}]
  const prefix = options.handlers ? (i: number) => `handlers.${i}.` : () => ''
  const specs = list.map((entry, i): HandlerSpec => {
    const at = (key: 'pool_name' | 'callback_module' | 'path') => (entry[key] !== undefined ? `${prefix(i)}${key}` : key)
    return {
      name: entry.name ?? '',
      pool_name: entry.pool_name ?? options.pool_name,
      path: entry.path ?? options.path,
      callback_module: (entry.callback_module ?? options.callback_module) || undefined,
      max_queue: entry.max_queue ?? options.max_queue,
      origins: { pool_name: at('pool_name'), callback_module: at('callback_module'), path: at('path') },
    }
  })
  nameHandlers(specs)
  return specs
}

// Explicit names must be unique; a default name (pool + path) that repeats or collides gets
// `#<index>`, so two handlers on one endpoint with different filters still have distinct series.
function nameHandlers(specs: HandlerSpec[]): void {
  const explicit = new Set<string>()
  specs.forEach((spec, i) => {
    if (!spec.name) return
    if (explicit.has(spec.name)) throw new ConfigError(`handlers.${i}.name`, `duplicate handler name "${spec.name}"`)
    explicit.add(spec.name)
  })
  const bases = specs.map((spec) => (spec.name ? '' : defaultName(spec)))
  specs.forEach((spec, i) => {
    if (spec.name) return
    const base = bases[i]
    const repeated = explicit.has(base) || bases.indexOf(base) !== bases.lastIndexOf(base)
    spec.name = repeated ? `${base}#${i}` : base
  })
}

function defaultName({ pool_name, path }: HandlerSpec): string {
  return path === '' || path.startsWith('/') ? `${pool_name}${path}` : `${pool_name}/${path}`
}
