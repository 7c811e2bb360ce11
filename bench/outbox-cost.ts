// 9. What each outbox itself costs per notification, in-process and without HTTP: N notifications
// added in bursts of 1,000 (the hook's side), then leased 64 at a time and settled (the
// deliverer's side, as if every request had succeeded at once). CPU time of this process
// (process.cpuUsage: every thread, so the GC's too) and, for JetStream, of nats-server (pinned to
// the other core): sqlite writes one transaction per burst and per batch of settles, as its
// once-per-turn flush does; JetStream publishes in the background (add -> the stream's ack), and
// its deliverer side is the pull, the decoding and the ack. The whole-server figures (4.) carry
// far more (XMPP, got, node:http); this is the part that differs between backends, with less of
// the machine's noise in it, since only CPU time is counted.
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { storedMessage } from '../lib/plugin/event.js'
import { JetStreamOutbox } from '../lib/plugin/outbox/jetstream.js'
import { MemoryOutbox } from '../lib/plugin/outbox/memory.js'
import type { Outbox } from '../lib/plugin/outbox/outbox.js'
import { SqliteOutbox } from '../lib/plugin/outbox/sqlite.js'
import { newWebhookId } from '../lib/plugin/signing.js'
import { startBenchNats } from './nats-engine.js'
import { chatPacket, waitUntil } from './support.js'

const N = 20_000
const BURST = 1000
const BATCH = 64
const ROUNDS = 3

export interface OutboxCost {
  /** CPU of this process per notification (µs): adding (and publishing), then leasing and settling. */
  add_us: number
  deliver_us: number
  /** nats-server's CPU per notification over the same phases (JetStream only). */
  engine_add_us?: number
  engine_deliver_us?: number
  /** Everything: this process and the engine, both phases. */
  total_us: number
}

export interface OutboxCostResult {
  sqlite: OutboxCost
  memory: OutboxCost
  jetstream: OutboxCost
  /** total_us, jetstream / sqlite, and the process alone (the engine left out). */
  jetstream_vs_sqlite: number
  jetstream_process_vs_sqlite: number
}

const cpu = () => {
  const u = process.cpuUsage()
  return u.user + u.system
}

async function measure(
  outbox: Outbox,
  engineCpu: () => number,
  published: () => Promise<void>,
  settled: () => Promise<void>,
  arrived: () => Promise<void>,
): Promise<OutboxCost> {
  const { packet, from, to } = chatPacket()
  const ev = storedMessage(packet, from, to, Date.now(), false)
  const ids = Array.from({ length: N }, () => newWebhookId())
  let [c0, e0] = [cpu(), engineCpu()]
  for (let i = 0; i < N; i += BURST) {
    for (let k = i; k < i + BURST; k++) outbox.add('localhost', 'h', ids[k], ev, 1e9)
    // The end of the turn that accepted the burst: sqlite writes it; JetStream's publishes go on.
    await new Promise((r) => setImmediate(r))
    outbox.flush()
  }
  await published()
  const [c1, e1] = [cpu(), engineCpu()]
  const add_us = (c1 - c0) / N
  const engine_add_us = (e1 - e0) / N
  ;[c0, e0] = [cpu(), engineCpu()]
  for (let done = 0; done < N;) {
    const got = await outbox.lease('localhost', 'h', BATCH, Date.now() + 1)
    for (const e of got) outbox.settle(e)
    outbox.flush()
    done += got.length
    if (got.length === 0) await arrived()
  }
  await settled()
  const deliver_us = (cpu() - c0) / N
  const engine_deliver_us = (engineCpu() - e0) / N
  await outbox.close()
  return { add_us, deliver_us, engine_add_us, engine_deliver_us, total_us: add_us + deliver_us + engine_add_us + engine_deliver_us }
}

const local = async (kind: 'sqlite' | 'memory') => {
  const outbox = kind === 'sqlite' ? new SqliteOutbox(path.join(mkdtempSync(path.join(tmpdir(), 'bench-outbox-')), 'outbox.sqlite')) : new MemoryOutbox()
  const none = async () => undefined
  const { engine_add_us: _a, engine_deliver_us: _d, ...cost } = await measure(outbox, () => 0, none, none, none)
  return cost
}

async function jetstream(): Promise<OutboxCost> {
  const nats = await startBenchNats(0)
  try {
    const day = 86_400_000
    const settings = { servers: [nats.url], stream: 'BENCH', replicas: 1, ackWait: 60_000, maxAge: 7 * day, publishBuffer: 1e6, tls: { verify: true } }
    const outbox = await JetStreamOutbox.open(settings, 'bench', () => undefined)
    await outbox.prepare('localhost', ['h'])
    let wake: () => void = () => undefined
    // The stream's count is read every second: wait for it (idle time costs no CPU).
    const count = (n: number) => waitUntil(() => outbox.pending('localhost', 'h') === n, 60_000)
    return await measure(
      outbox,
      nats.cpuMicros,
      async () => {
        await count(N)
        outbox.watch('localhost', 'h', () => wake())
      },
      () => count(0),
      // Woken by the next arrival; the timer only guards against a wake that came first.
      () => new Promise<void>((resolve) => ((wake = resolve), setTimeout(resolve, 100))),
    )
  } finally {
    await nats.stop()
  }
}

export async function outboxCost(): Promise<OutboxCostResult> {
  const runs: Record<'sqlite' | 'memory' | 'jetstream', OutboxCost[]> = { sqlite: [], memory: [], jetstream: [] }
  for (let round = 0; round < ROUNDS; round++) {
    runs.sqlite.push(await local('sqlite'))
    runs.memory.push(await local('memory'))
    runs.jetstream.push(await jetstream())
  }
  const mid = (rs: OutboxCost[]) => [...rs].sort((a, b) => a.total_us - b.total_us)[Math.floor(rs.length / 2)]
  const [sqlite, memory, js] = [mid(runs.sqlite), mid(runs.memory), mid(runs.jetstream)]
  return {
    sqlite,
    memory,
    jetstream: js,
    jetstream_vs_sqlite: js.total_us / sqlite.total_us,
    jetstream_process_vs_sqlite: (js.add_us + js.deliver_us) / sqlite.total_us,
  }
}
