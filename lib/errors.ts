// Every coded error of the project, one entry per code (docs/errors.md explains each and its fix).
// A coded error has a stable `code`, a `name` equal to it, and chains its cause. Those the admin
// API can answer carry their HTTP answer too (as Fastify's createError carries statusCode), so the
// API needs no table of its own.

/** How the admin API answers an error: the HTTP status and the `error` field of its JSON body. */
export interface HttpAnswer {
  readonly status: number
  readonly error: string
}

export interface CodedError extends Error {
  readonly code: string
  /** Undefined for errors the API never answers with (they are internal: 500). */
  readonly http?: HttpAnswer
}

export type ErrorClass<A extends unknown[]> = (new (...args: [...A, ErrorOptions?]) => CodedError) & { readonly http?: HttpAnswer }

/** Makes an Error subclass whose message is `format(...args)`; `http` is how the admin API answers it. */
export function defineError<A extends unknown[]>(code: string, format: (...args: A) => string, http?: HttpAnswer): ErrorClass<A> {
  const Coded = class extends Error {
    static readonly http = http
    readonly code = code
    readonly http = http
    constructor(...args: [...A, ErrorOptions?]) {
      const last = args[args.length - 1]
      const hasOpts = args.length > format.length && typeof last === 'object' && last !== null
      super(format(...((hasOpts ? args.slice(0, -1) : args) as A)), hasOpts ? (last as ErrorOptions) : undefined)
      this.name = code
    }
  }
  Object.defineProperty(Coded, 'name', { value: code })
  return Coded as unknown as ErrorClass<A>
}

const CONFIG_HTTP: HttpAnswer = { status: 400, error: 'invalid_config' }

/**
 * An invalid configuration value. `path` is dotted from the config file's root
 * (`plugins.mod_event_pusher_http.pool_name`); plugins throw it with a path relative to their own
 * section and the loader prefixes it.
 */
export class ConfigError extends Error {
  readonly code = 'XMPPD_ERR_CONFIG'
  readonly http: HttpAnswer = CONFIG_HTTP
  constructor(
    readonly path: string,
    readonly reason: string,
    opts?: ErrorOptions,
  ) {
    super(path ? `${path}: ${reason}` : reason, opts)
    this.name = 'ConfigError'
  }
  /** The same error, located under `prefix` (a plugin's section). */
  under(prefix: string): ConfigError {
    return new ConfigError(this.path ? `${prefix}.${this.path}` : prefix, this.reason, { cause: this.cause })
  }
}

/** Several config errors reported at once (every problem in one run). */
export class ConfigErrors extends Error {
  readonly code = 'XMPPD_ERR_CONFIG'
  readonly http: HttpAnswer = CONFIG_HTTP
  constructor(readonly errors: ConfigError[]) {
    super(errors.map((e) => e.message).join('\n'))
    this.name = 'ConfigErrors'
  }
}

export const XMPPD_ERR_HOOK_UNKNOWN = defineError('XMPPD_ERR_HOOK_UNKNOWN', (hook: string) => `unknown hook '${hook}'`)
export const XMPPD_ERR_PLUGIN_UNKNOWN = defineError('XMPPD_ERR_PLUGIN_UNKNOWN', (id: string) => `no plugin named '${id}'`, {
  status: 404,
  error: 'unknown_plugin',
})
export const XMPPD_ERR_VHOST_UNKNOWN = defineError('XMPPD_ERR_VHOST_UNKNOWN', (host: string) => `no virtual host '${host}'`, {
  status: 404,
  error: 'unknown_host',
})
export const XMPPD_ERR_PLUGIN_STATE = defineError(
  'XMPPD_ERR_PLUGIN_STATE',
  (id: string, host: string, state: string) => `plugin '${id}' is already ${state} on '${host}'`,
  { status: 409, error: 'already_in_state' },
)

// With `host`: the plugin declares the command but is not running there, so nothing can answer it.
export const XMPPD_ERR_COMMAND_UNKNOWN = defineError(
  'XMPPD_ERR_COMMAND_UNKNOWN',
  (id: string, name: string, host?: string) =>
    host ? `plugin '${id}' is not running on '${host}': enable it to run '${name}'` : `plugin '${id}' has no admin command '${name}'`,
  { status: 404, error: 'unknown_command' },
)
/**
 * An admin command's argument is unknown, malformed or does not fit the others. The host checks
 * what plugin.json declares; a plugin throws it for the rest. `arg` is the argument's name.
 */
export const XMPPD_ERR_COMMAND_ARGS = defineError('XMPPD_ERR_COMMAND_ARGS', (arg: string, reason: string) => `${arg}: ${reason}`, {
  status: 400,
  error: 'bad_arguments',
})
export const XMPPD_ERR_NO_CONFIG_FILE = defineError('XMPPD_ERR_NO_CONFIG_FILE', () => 'running the embedded default: there is no config file to reload', {
  status: 409,
  error: 'no_config_file',
})
export const XMPPD_ERR_OFFLINE_FILE = defineError('XMPPD_ERR_OFFLINE_FILE', (file: string, reason: string) => `offline storage file ${file}: ${reason}`)
export const XMPPD_ERR_ROSTER_FILE = defineError('XMPPD_ERR_ROSTER_FILE', (file: string, reason: string) => `roster file ${file}: ${reason}`)
export const XMPPD_ERR_BLOCKING_FILE = defineError('XMPPD_ERR_BLOCKING_FILE', (file: string, reason: string) => `block list file ${file}: ${reason}`)
export const XMPPD_ERR_PRIVATE_FILE = defineError('XMPPD_ERR_PRIVATE_FILE', (file: string, reason: string) => `private storage file ${file}: ${reason}`)

/** An endpoint answered with a status that is not a success. */
export const PUSH_ERR_UPSTREAM = defineError('PUSH_ERR_UPSTREAM', (status: number) => `endpoint answered ${status}`)
export const PUSH_ERR_OUTBOX_FILE = defineError('PUSH_ERR_OUTBOX_FILE', (file: string, reason: string) => `outbox file ${file}: ${reason}`)
