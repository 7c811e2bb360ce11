// Which outbox a plugin's options ask for, resolved for open(): JetStream's section with its
// defaults (applied by the host from the schema), times in ms, and the CA the checks read.
import type { EventPusherHttpOptions } from '../options.js'
import type { JetStreamSettings } from './jetstream-connect.js'
import type { OutboxChoice } from './open.js'

export function outboxChoice(options: EventPusherHttpOptions, ca: Buffer | undefined): OutboxChoice {
  if (options.outbox !== 'jetstream') return { kind: options.outbox }
  const j = options.jetstream
  const settings: JetStreamSettings = {
    servers: j.servers ?? [],
    stream: j.stream,
    replicas: j.replicas,
    ackWait: j.ack_wait * 1000,
    maxAge: j.max_age * 1000,
    publishBuffer: j.publish_buffer,
    user: j.user,
    password: j.password,
    token: j.token,
    tls: { ca, verify: j.tls.verify },
  }
  return { kind: 'jetstream', settings }
}
