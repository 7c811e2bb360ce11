// Which outbox a plugin's options ask for, resolved for open(): JetStream's section with its
// defaults applied, times in ms and the CA file's path made absolute against the config dir.
import path from 'node:path'
import type { JetStreamSettings } from './jetstream-connect.js'
import type { OutboxChoice } from './open.js'

/** The [jetstream] section as the schema lets it through (defaults applied by the host). */
export interface JetStreamSection {
  servers?: string[]
  stream?: string
  replicas?: number
  ack_wait?: number
  max_age?: number
  publish_buffer?: number
  user?: string
  password?: string
  token?: string
  tls?: { ca_file?: string; verify?: boolean }
}

export function outboxChoice(options: { outbox: string; jetstream?: JetStreamSection }, configDir: string): OutboxChoice {
  if (options.outbox !== 'jetstream') return { kind: options.outbox as 'sqlite' | 'memory' }
  const j = options.jetstream ?? {}
  const settings: JetStreamSettings = {
    servers: j.servers ?? [],
    stream: j.stream ?? 'XMPPD_NOTIFICATIONS',
    replicas: j.replicas ?? 1,
    ackWait: (j.ack_wait ?? 60) * 1000,
    maxAge: (j.max_age ?? 604_800) * 1000,
    publishBuffer: j.publish_buffer ?? 10_000,
    user: j.user,
    password: j.password,
    token: j.token,
    tls: j.tls ? { caFile: j.tls.ca_file ? path.resolve(configDir, j.tls.ca_file) : undefined, verify: j.tls.verify ?? true } : undefined,
  }
  return { kind: 'jetstream', settings }
}
