// The connection to nats-server and the streams and consumers the JetStream outbox works on:
// created when missing, checked when present (a mismatch is a clear error naming the option).
// The first connection must succeed (an unreachable server at start is an error); after it the
// client reconnects for ever, and what is accepted meanwhile waits in the publisher's buffer.
import { connect, nanos, type NatsConnection } from '@nats-io/transport-node'
import { AckPolicy, DeliverPolicy, jetstreamManager, RetentionPolicy, StorageType, type JetStreamManager, type StreamConfig } from '@nats-io/jetstream'
import { ConfigError } from '../../errors.js'
import { displayUrl } from '../payload.js'
import { Names } from './jetstream-codec.js'

/** The [jetstream] section, resolved: times in ms, paths absolute. */
export interface JetStreamSettings {
  servers: string[]
  stream: string
  replicas: number
  ackWait: number
  maxAge: number
  publishBuffer: number
  user?: string
  password?: string
  token?: string
  /** `ca`: the CA file's contents (the checks read it); without one, the system's CAs. */
  tls: { ca?: Buffer; verify: boolean }
}

/** JetStream's window for dropping a publish whose message id it saw (its own default). */
const DUPLICATE_WINDOW = 120_000

export interface Engine {
  nc: NatsConnection
  jsm: JetStreamManager
  names: Names
}

/** Connects and makes sure both streams are there as configured; throws a ConfigError otherwise. */
export async function openEngine(s: JetStreamSettings, name: string): Promise<Engine> {
  let nc: NatsConnection
  try {
    nc = await connect({
      servers: s.servers,
      name,
      user: s.user,
      pass: s.password,
      token: s.token,
      // tls:// servers (or a server that requires TLS) use these; plain nats:// ones ignore them.
      ...(s.tls.ca || !s.tls.verify ? { tls: { ...(s.tls.ca ? { ca: s.tls.ca.toString('utf8') } : {}), rejectUnauthorized: s.tls.verify } } : {}),
      maxReconnectAttempts: -1,
      reconnectTimeWait: 500,
      timeout: 5000,
      // Else every publish (a request for its ack) builds two Error objects up front, for the
      // caller's stack should it fail: 6-8 µs each on the bench machine (docs/performance.md). A
      // failed publish still says what failed; our logs name the operation.
      noAsyncTraces: true,
    })
  } catch (err) {
    throw new ConfigError('jetstream.servers', `cannot reach nats-server at ${s.servers.map(displayUrl).join(', ')}: ${(err as Error).message}`, {
      cause: err,
    })
  }
  try {
    const jsm = await jetstreamManager(nc, { timeout: 5000 })
    const names = new Names(s.stream)
    await ensureStream(jsm, {
      name: s.stream,
      subjects: [`${s.stream}.>`],
      retention: RetentionPolicy.Workqueue,
      storage: StorageType.File,
      num_replicas: s.replicas,
      max_age: nanos(s.maxAge),
      duplicate_window: nanos(Math.min(DUPLICATE_WINDOW, s.maxAge)),
      allow_direct: true,
    })
    // Dead letters are kept until dead_letter_retention (the plugin's sweep purges and counts them).
    await ensureStream(jsm, {
      name: names.dead,
      subjects: [`${names.dead}.>`],
      retention: RetentionPolicy.Limits,
      storage: StorageType.File,
      num_replicas: s.replicas,
      duplicate_window: nanos(DUPLICATE_WINDOW),
      allow_direct: true,
    })
    return { nc, jsm, names }
  } catch (err) {
    await nc.close().catch(() => undefined)
    if (err instanceof ConfigError) throw err
    throw new ConfigError(
      'jetstream',
      `nats-server at ${s.servers.map(displayUrl).join(', ')} has no usable JetStream (is it started with -js?): ${(err as Error).message}`,
      {
        cause: err,
      },
    )
  }
}

async function ensureStream(jsm: JetStreamManager, want: Partial<StreamConfig> & { name: string }): Promise<void> {
  const info = await jsm.streams.info(want.name).catch((err: Error) => {
    if (/not found/i.test(err.message)) return undefined
    throw err
  })
  if (!info) {
    await jsm.streams.add(want)
    return
  }
  const have = info.config
  const wrong: string[] = []
  if (have.retention !== want.retention) wrong.push(`retention is ${have.retention}, not ${want.retention}`)
  if (!want.subjects!.every((s) => have.subjects?.includes(s)))
    wrong.push(`subjects are ${JSON.stringify(have.subjects)}, not ${JSON.stringify(want.subjects)}`)
  if (!have.allow_direct) wrong.push('allow_direct is off')
  if (wrong.length > 0) throw new ConfigError('jetstream.stream', `stream ${want.name} exists but ${wrong.join('; ')}: remove it or name another stream`)
  if (have.num_replicas !== want.num_replicas) {
    throw new ConfigError('jetstream.replicas', `stream ${want.name} has ${have.num_replicas} replicas, this config says ${want.num_replicas}`)
  }
  if (want.max_age !== undefined && have.max_age !== want.max_age) {
    throw new ConfigError(
      'jetstream.max_age',
      `stream ${want.name} keeps messages ${have.max_age / 1e9} s, this config says ${want.max_age / 1e9} s: make them the same on every node (or edit the stream)`,
    )
  }
}

/** The shared durable pull consumer of one (vhost, handler), created when missing and checked when present. */
export async function ensureConsumer(engine: Engine, host: string, handler: string, ackWait: number): Promise<string> {
  const { jsm, names } = engine
  const durable = names.consumer(host, handler)
  const subject = names.subject(host, handler)
  const info = await jsm.consumers.info(names.stream, durable).catch((err: Error) => {
    if (/not found/i.test(err.message)) return undefined
    throw err
  })
  if (!info) {
    await jsm.consumers.add(names.stream, {
      durable_name: durable,
      filter_subject: subject,
      ack_policy: AckPolicy.Explicit,
      deliver_policy: DeliverPolicy.All,
      ack_wait: nanos(ackWait),
      // Naks count as deliveries: the attempts are counted in a header, so no limit here.
      max_deliver: -1,
      max_ack_pending: 10_000,
    })
    return durable
  }
  if (info.config.filter_subject !== subject) {
    throw new ConfigError('jetstream.stream', `consumer ${durable} of ${names.stream} reads ${info.config.filter_subject}, not ${subject}: remove it`)
  }
  if ((info.config.ack_wait ?? 0) !== nanos(ackWait)) {
    throw new ConfigError(
      'jetstream.ack_wait',
      `consumer ${durable} of ${names.stream} has ack_wait ${(info.config.ack_wait ?? 0) / 1e9} s, this config says ${ackWait / 1000} s: make them the same on every node (or remove the consumer)`,
    )
  }
  return durable
}
