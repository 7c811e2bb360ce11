// The cross-checks of `outbox`, `deliver` and the [jetstream] section that the schema cannot
// express: what the shared outbox needs (servers, credentials that go together, a readable CA),
// and the timings JetStream must allow (ack_wait longer than a request, max_age longer than a
// notification may stay pending). Each issue at the option that holds it.
import { readFileSync } from 'node:fs'
import path from 'node:path'
import type { CheckContext } from '../contract.js'
import { ConfigError } from '../errors.js'
import type { EventPusherHttpOptions } from './options.js'
import { plannedRetrySpan, type RetryPolicy } from './retry.js'

/** What the checks need of a prepared handler. */
export interface JetStreamHandler {
  spec: { name: string; pool_name: string }
  policy: RetryPolicy
}

export interface JetStreamPreparation {
  /** tls.ca_file's contents; undefined: none set, not readable, or another outbox. */
  ca: Buffer | undefined
  issues: ConfigError[]
}

export function checkJetStream(ctx: CheckContext, options: EventPusherHttpOptions, handlers: readonly JetStreamHandler[]): JetStreamPreparation {
  const issues: ConfigError[] = []
  const shared = options.outbox === 'jetstream'
  if (ctx.role === 'deliver' && !shared) {
    issues.push(new ConfigError('outbox', 'xmppd deliver needs the shared outbox (jetstream): a sqlite or memory outbox only holds what this process accepted'))
  }
  if (!options.deliver && !shared) {
    issues.push(
      new ConfigError(
        'deliver',
        `false (publish only) needs outbox = "jetstream": with "${options.outbox}" nothing else would deliver this node's notifications`,
      ),
    )
  }
  // The section is ignored with another outbox, as long as nothing uses it.
  if (!shared) return { ca: undefined, issues }
  const js = options.jetstream
  if (!js.servers) issues.push(new ConfigError('jetstream.servers', 'required with outbox = "jetstream"'))
  if (js.user !== undefined && js.password === undefined) issues.push(new ConfigError('jetstream.password', 'required with jetstream.user'))
  if (js.password !== undefined && js.user === undefined) issues.push(new ConfigError('jetstream.user', 'required with jetstream.password'))
  if (js.token !== undefined && (js.user !== undefined || js.password !== undefined)) {
    issues.push(new ConfigError('jetstream.token', 'set either token or user and password, not both'))
  }
  issues.push(...ackWaitIssues(ctx, js.ack_wait, handlers), ...maxAgeIssues(options, handlers))
  let ca: Buffer | undefined
  const file = js.tls.ca_file
  if (file !== undefined) {
    const resolved = path.resolve(ctx.configDir, file)
    try {
      ca = readFileSync(resolved)
    } catch (err) {
      issues.push(new ConfigError('jetstream.tls.ca_file', `cannot read ${resolved}: ${(err as Error).message}`, { cause: err }))
    }
  }
  return { ca, issues }
}

// A message unacknowledged for ack_wait goes to another node: were that shorter than a request
// may take, a slow endpoint would get every notification twice (or more) while the first is in flight.
function ackWaitIssues(ctx: CheckContext, ackWait: number, handlers: readonly JetStreamHandler[]): ConfigError[] {
  const issues: ConfigError[] = []
  for (const name of new Set(handlers.map((h) => h.spec.pool_name))) {
    const timeout = ctx.httpPools.get(name)?.request_timeout
    if (timeout !== undefined && ackWait * 1000 <= timeout) {
      issues.push(
        new ConfigError(
          'jetstream.ack_wait',
          `${ackWait} s must exceed the request_timeout of pool "${name}" (${timeout} ms): JetStream would hand a notification to another node while its request is in flight`,
        ),
      )
    }
  }
  return issues
}

// JetStream drops what is older than max_age without a word: it must outlive the longest a
// notification may stay pending, its planned retries included, so it always ends counted.
function maxAgeIssues(options: EventPusherHttpOptions, handlers: readonly JetStreamHandler[]): ConfigError[] {
  const maxAge = options.jetstream.max_age
  const issues: ConfigError[] = []
  for (const { spec, policy } of handlers) {
    const retries = plannedRetrySpan(policy)
    const needed = retries + options.max_pending_age * 1000
    if (maxAge * 1000 <= needed) {
      issues.push(
        new ConfigError(
          'jetstream.max_age',
          `${maxAge} s must outlast handler "${spec.name}": its planned retries (${retries / 1000} s) plus max_pending_age (${options.max_pending_age} s): more than ${Math.floor(needed / 1000)} s`,
        ),
      )
    }
  }
  return issues
}
