// 6. The way back from an outage: 4,000 notifications wait behind an endpoint that refuses
// connections (the breaker open, the defaults otherwise: reset_timeout 1 s, pool_size 50); then
// the endpoint comes back on the same port. Measured in the sink's process: from the moment it
// listens again to the first request, and to the 4,000th (the backlog drained). The outage goes on
// for a random 1–2 s after the breaker opened, so that the return falls anywhere in the breaker's
// cycle; three runs per backend, interleaved.
import { blast, connectPairs, pairUsers, sample, sampleSum, startServerProcess, startSinkProcess, waitUntil } from './support.js'

const PAIRS = 10
const BACKLOG = 4000
const ROUNDS = 3

export interface RecoveryRun {
  first_delivery_ms: number
  drained_ms: number
  sent: number
  failed: number
}

export interface RecoveryResult {
  backlog: number
  sqlite: RecoveryRun[]
  memory: RecoveryRun[]
  /** Worst of the sqlite runs (the default backend): what the targets are read against. */
  first_delivery_max_ms: number
  drained_max_ms: number
}

async function run(outbox: 'sqlite' | 'memory', sink: Awaited<ReturnType<typeof startSinkProcess>>): Promise<RecoveryRun> {
  await sink.down()
  const server = await startServerProcess(
    0,
    pairUsers(PAIRS),
    `
[http_connections.http_pool]
server = "${sink.url}"

[plugins.mod_event_pusher_http]
pool_name = "http_pool"
path = "/n"
outbox = "${outbox}"
`,
  )
  try {
    const pairs = await connectPairs(server.c2sPort, PAIRS)
    await blast(pairs, BACKLOG / PAIRS)
    await waitUntil(async () => {
      const text = await server.metrics()
      return (
        sampleSum(text, 'mod_http_notifications_pending', { host: 'localhost' }) === BACKLOG &&
        sample(text, 'mod_http_notifications_breaker_state', { host: 'localhost' }) === 1
      )
    }, 30_000)
    await new Promise((r) => setTimeout(r, 1000 + Math.random() * 1000))
    await sink.reset()
    const upAt = await sink.up()
    await waitUntil(async () => (await sink.count()) >= BACKLOG, 60_000)
    const t = await sink.times()
    const text = await server.metrics()
    for (const p of pairs) {
      p.sender.close()
      p.receiver.close()
    }
    return {
      first_delivery_ms: t.firstAt - upAt,
      drained_ms: t.lastAt - upAt,
      sent: sample(text, 'mod_http_notifications_sent_total', { host: 'localhost' }),
      failed: sampleSum(text, 'mod_http_notifications_failed_total', { host: 'localhost' }),
    }
  } finally {
    await server.stop()
  }
}

export async function recovery(): Promise<RecoveryResult> {
  const sink = await startSinkProcess(1)
  const runs: Record<'sqlite' | 'memory', RecoveryRun[]> = { sqlite: [], memory: [] }
  try {
    for (let round = 0; round < ROUNDS; round++) for (const outbox of ['sqlite', 'memory'] as const) runs[outbox].push(await run(outbox, sink))
  } finally {
    sink.stop()
  }
  return {
    backlog: BACKLOG,
    ...runs,
    first_delivery_max_ms: Math.max(...runs.sqlite.map((r) => r.first_delivery_ms)),
    drained_max_ms: Math.max(...runs.sqlite.map((r) => r.drained_ms)),
  }
}
