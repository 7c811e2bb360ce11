// The plugin's options: the types generated from plugin.json, and the one step that turns the
// single-handler form or the `handlers` list into a uniform list of handler specs.
import { ConfigError } from '../errors.js'
import type { EventPusherHttpOptions, HandlerConfig } from './options.generated.js'

export type { EventPusherHttpConfig, EventPusherHttpOptions, BreakerConfig, HandlerConfig, JetStreamConfig } from './options.generated.js'
export type BreakerOptions = EventPusherHttpOptions['breaker']
/** The [jetstream] section with its defaults applied (servers still optional: check() requires them). */
export type JetStreamOptions = EventPusherHttpOptions['jetstream']

export type MessageType = 'chat' | 'groupchat' | 'normal' | 'headline'
export type EventKind = 'message' | 'presence'

/** The keys whose values start() checks further; their origins locate its config errors. */
const LOCATED = ['pool_name', 'callback_module', 'path', 'headers', 'signing_secrets', 'retry_max_delay', 'sender_hosts', 'recipients'] as const
type Located = (typeof LOCATED)[number]

/** Where in the plugin's section a handler's value was written, for config errors. */
export type HandlerOrigins = Record<Located, string>

export interface HandlerSpec {
  /** Metric and status label, unique within the instance. */
  name: string
  pool_name: string
  path: string
  /** Undefined: the built-in filter and payload. */
  callback_module: string | undefined
  /** Undefined: the outbox backend's default. */
  max_queue: number | undefined
  format: 'form' | 'json'
  /** As written (names not yet lower-cased or checked); empty: none. */
  headers: Record<string, string>
  /** Empty: unsigned. */
  signing_secrets: string[]
  retries: number
  retry_base_delay: number
  retry_max_delay: number
  /** Seconds; undefined: backoff. */
  retry_schedule: number[] | undefined
  types: MessageType[]
  events: EventKind[]
  only_offline_recipient: boolean
  body_required: boolean
  /** Undefined: any sender domain / any recipient / any 2xx. */
  sender_hosts: string[] | undefined
  recipients: string[] | undefined
  success_codes: number[] | undefined
  origins: HandlerOrigins
}

/**
 * One spec per handler. With `handlers`, each entry inherits the keys it leaves out from the top
 * level (whose defaults the loader has applied); without it, the top level is the one handler.
 * A key a handler sets replaces the top-level value as a whole (lists and `headers` included).
 * An empty `callback_module` means the built-in filter, so a handler can opt out of an inherited one.
 * `issues`: every explicit name used twice (the specs cannot run then).
 */
export function handlerSpecs(options: EventPusherHttpOptions): { specs: HandlerSpec[]; issues: ConfigError[] } {
  const list: HandlerConfig[] = options.handlers ?? [{}]
  const prefix = options.handlers ? (i: number) => `handlers.${i}.` : () => ''
  const specs = list.map((entry, i): HandlerSpec => {
    const pick = <K extends keyof HandlerConfig & keyof EventPusherHttpOptions>(key: K) => (entry[key] ?? options[key]) as EventPusherHttpOptions[K]
    const origins = Object.fromEntries(LOCATED.map((key) => [key, entry[key] !== undefined ? `${prefix(i)}${key}` : key])) as HandlerOrigins
    return {
      name: entry.name ?? '',
      pool_name: pick('pool_name'),
      path: pick('path'),
      callback_module: pick('callback_module') || undefined,
      max_queue: pick('max_queue'),
      format: pick('format'),
      headers: definedStrings(pick('headers')),
      signing_secrets: [...(pick('signing_secrets') ?? [])],
      retries: pick('retries'),
      retry_base_delay: pick('retry_base_delay'),
      retry_max_delay: pick('retry_max_delay'),
      retry_schedule: copy(pick('retry_schedule')),
      types: [...pick('types')],
      events: [...pick('events')],
      only_offline_recipient: pick('only_offline_recipient'),
      body_required: pick('body_required'),
      sender_hosts: copy(pick('sender_hosts')),
      recipients: copy(pick('recipients')),
      success_codes: copy(pick('success_codes')),
      origins,
    }
  })
  return { specs, issues: nameHandlers(specs) }
}

const copy = <T>(list: readonly T[] | undefined): T[] | undefined => (list ? [...list] : undefined)

function definedStrings(record: Record<string, string | undefined> | undefined): Record<string, string> {
  const out: Record<string, string> = {}
  for (const [k, v] of Object.entries(record ?? {})) if (v !== undefined) out[k] = v
  return out
}

// Explicit names must be unique; a default name (pool + path) that repeats or collides gets
// `#<index>`, so two handlers on one endpoint with different filters still have distinct series.
function nameHandlers(specs: HandlerSpec[]): ConfigError[] {
  const explicit = new Set<string>()
  const issues: ConfigError[] = []
  specs.forEach((spec, i) => {
    if (!spec.name) return
    if (explicit.has(spec.name)) issues.push(new ConfigError(`handlers.${i}.name`, `duplicate handler name "${spec.name}"`))
    explicit.add(spec.name)
  })
  const bases = specs.map((spec) => (spec.name ? '' : defaultName(spec)))
  specs.forEach((spec, i) => {
    if (spec.name) return
    const base = bases[i]
    const repeated = explicit.has(base) || bases.indexOf(base) !== bases.lastIndexOf(base)
    spec.name = repeated ? `${base}#${i}` : base
  })
  return issues
}

function defaultName({ pool_name, path }: HandlerSpec): string {
  return path === '' || path.startsWith('/') ? `${pool_name}${path}` : `${pool_name}/${path}`
}
