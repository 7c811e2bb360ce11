// 8. Delivery throughput of the JetStream outbox with one delivering process against two. An
// xmppd node with `deliver = false` accepts N notifications from real clients and publishes them
// to a fresh nats-server's stream; it stops once the stream holds all N. Then 1 or 2 delivering
// processes start on that stream and deliver to a fast sink in its own process, and the sink's
// count is sampled every 100 ms with every process's CPU time: the rate and the CPU per
// notification are taken between 10% and 90% delivered, so neither the processes' start nor the
// tail of the last requests is in them. Nothing is pinned here (any process on either core): the machine's 2 cores are shared
// by the delivering processes, nats-server and the sink, as on a small host running only this.
// The delivering processes are delivery workers, `xmppd deliver --config FILE` (no XMPP at all).
import { startBenchNats, jetstreamSection, type BenchNats } from './nats-engine.js'
import {
  blast,
  connectPairs,
  machineBusyMicros,
  pairUsers,
  sampleSum,
  startDeliverProcess,
  startServerProcess,
  startSinkProcess,
  waitUntil,
  type ServerProcess,
  type SinkProcess,
} from './support.js'

const PAIRS = 10
const PER_PAIR = 2000 // N = 20,000
const ROUNDS = 3

const plugin = (sink: string, nats: string, extra: string) => `
[http_connections.http_pool]
server = "${sink}"
pool_size = 50
request_timeout = 2000

[plugins.mod_event_pusher_http]
pool_name = "http_pool"
path = "/n"
outbox = "jetstream"
${extra}
${jetstreamSection(nats)}
`

export interface DeliveryRun {
  workers: number
  notifications: number
  /** Between 10% and 90% delivered. */
  per_second: number
  /** From the delivering processes' spawn to the last request (their start included). */
  drained_ms: number
  /** CPU per notification between 10% and 90%: every delivering process, nats-server, the sink. */
  workers_cpu_us: number
  nats_cpu_us: number
  sink_cpu_us: number
  /** Of the 2 cores, what all three used in that window (2 = both busy)... */
  cores_busy: number
  /** ... and what the machine's other processes used (other engineers' test runs on a shared machine). */
  cores_busy_others: number
  /** What each delivering process sent, and the requests the sink got (more than N: duplicates). */
  sent_by_worker: number[]
  requests: number
  /** The node with deliver = false that filled the stream: XMPP routing and publishing, no delivery. */
  publish_only: FillCost
}

export interface DeliveryResult {
  one: DeliveryRun
  two: DeliveryRun
  /** per_second, two / one (medians), and of each round. */
  ratio: number
  round_ratios: number[]
}

interface Sample {
  t: number
  count: number
  workers: number
  nats: number
  sink: number
  machine: number
}

/** The publishing node's side: its CPU and nats-server's per message, routed and published. */
export interface FillCost {
  node_cpu_us: number
  nats_cpu_us: number
}

async function fill(nats: BenchNats, sink: SinkProcess): Promise<FillCost> {
  const n = PAIRS * PER_PAIR
  const node = await startServerProcess(undefined, pairUsers(PAIRS), plugin(sink.url, nats.url, 'deliver = false\nmax_queue = 100000'))
  try {
    const pairs = await connectPairs(node.c2sPort, PAIRS)
    const [c0, e0] = [node.cpuMicros(), nats.cpuMicros()]
    await blast(pairs, PER_PAIR)
    // The gauge counts the stream (read every second) plus what is not published yet.
    await waitUntil(async () => sampleSum(await node.metrics(), 'mod_http_notifications_pending', { host: 'localhost' }) === n, 60_000)
    const cost = { node_cpu_us: (node.cpuMicros() - c0) / n, nats_cpu_us: (nats.cpuMicros() - e0) / n }
    for (const p of pairs) {
      p.sender.close()
      p.receiver.close()
    }
    return cost
  } finally {
    await node.stop()
  }
}

async function deliveryRun(workers: number, sink: SinkProcess): Promise<DeliveryRun> {
  const n = PAIRS * PER_PAIR
  const nats = await startBenchNats(undefined)
  const procs: ServerProcess[] = []
  try {
    const publish_only = await fill(nats, sink)
    await sink.reset()
    const spawnedAt = performance.timeOrigin + performance.now()
    procs.push(...(await Promise.all(Array.from({ length: workers }, () => startDeliverProcess(undefined, plugin(sink.url, nats.url, ''))))))
    const samples: Sample[] = []
    const read = async () => {
      const s = { t: performance.now(), count: await sink.count(), nats: nats.cpuMicros(), sink: sink.cpuMicros(), machine: machineBusyMicros() }
      samples.push({ ...s, workers: procs.reduce((sum, p) => sum + p.cpuMicros(), 0) })
      return s.count
    }
    const deadline = Date.now() + 300_000
    while ((await read()) < n) {
      if (Date.now() > deadline) throw new Error(`delivery bench: ${samples.at(-1)!.count} of ${n} delivered in 300 s`)
      await new Promise((r) => setTimeout(r, 100))
    }
    const times = await sink.times()
    const at = (q: number) => samples.find((s) => s.count >= q * n)!
    const [a, b] = [at(0.1), at(0.9)]
    const delivered = b.count - a.count
    const seconds = (b.t - a.t) / 1000
    const ours = b.workers - a.workers + b.nats - a.nats + b.sink - a.sink
    // The counters settle a moment after the last answer: wait until every one is in.
    let sent: number[] = []
    await waitUntil(async () => {
      sent = await Promise.all(procs.map(async (p) => sampleSum(await p.metrics(), 'mod_http_notifications_sent_total', { host: 'localhost' })))
      return sent.reduce((x, y) => x + y, 0) >= n
    }, 10_000)
    return {
      workers,
      notifications: n,
      per_second: delivered / seconds,
      drained_ms: times.lastAt - spawnedAt,
      workers_cpu_us: (b.workers - a.workers) / delivered,
      nats_cpu_us: (b.nats - a.nats) / delivered,
      sink_cpu_us: (b.sink - a.sink) / delivered,
      cores_busy: ours / 1e6 / seconds,
      cores_busy_others: (b.machine - a.machine - ours) / 1e6 / seconds,
      sent_by_worker: sent,
      requests: await sink.count(),
      publish_only,
    }
  } finally {
    for (const p of procs) await p.stop()
    await nats.stop()
  }
}

export async function deliveryWorkers(): Promise<DeliveryResult> {
  const sink = await startSinkProcess(undefined)
  try {
    const runs: Record<'one' | 'two', DeliveryRun[]> = { one: [], two: [] }
    for (let round = 0; round < ROUNDS; round++) {
      runs.one.push(await deliveryRun(1, sink))
      runs.two.push(await deliveryRun(2, sink))
    }
    const mid = (rs: DeliveryRun[]) => [...rs].sort((x, y) => x.per_second - y.per_second)[Math.floor(rs.length / 2)]
    const one = mid(runs.one)
    const two = mid(runs.two)
    return { one, two, ratio: two.per_second / one.per_second, round_ratios: runs.two.map((t, i) => t.per_second / runs.one[i].per_second) }
  } finally {
    sink.stop()
  }
}
