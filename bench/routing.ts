// 2. Routing between client pairs (messages/s) with the plugin disabled, enabled with the
//    endpoint hanging, enabled with its breaker open: the hook must not block.
// 3b. Latency from the client's send to the sink's arrival, at a fixed rate below saturation.
// 4. The whole server pinned to one core, 20 pairs, 20,000 messages, every one notified to a fast
//    sink on the other core: messages/s and server CPU microseconds per message, with the sqlite
//    outbox (the default) against the memory outbox and the JetStream outbox, interleaved. For
//    JetStream a fresh nats-server per run, pinned to core 1 with the clients and the sink: on the
//    server's core it would take the server's CPU, and in production it runs on machines of its own.
//    Its CPU per message is read too, so the cost per message with the engine included is known.
// The server runs from dist/ in its own process on core 0; clients and sinks on core 1.
import { startBenchNats, jetstreamSection } from './nats-engine.js'
import { blast, chatStanza, connectPairs, pairUsers, quantile, sample, startServerProcess, waitUntil, type SinkProcess } from './support.js'
import { closedPort } from '../spec/helpers/sink.js'

const PAIRS = 20
/** Item 4: 20,000 messages. */
const WHOLE_PER_PAIR = 1000
/** Item 2: 60,000 messages, long enough (about half a second) for a stable rate. */
const ROUTING_PER_PAIR = 3000
const WARM_PER_PAIR = 600 // 12,000 messages
const WHOLE_ROUNDS = Number(process.env.BENCH_WHOLE_ROUNDS ?? 5)

const plugin = (server: string, extra = '') => `
[http_connections.http_pool]
server = "${server}"
pool_size = 50
path_prefix = "/webservice"
request_timeout = 2000

[plugins.mod_event_pusher_http]
pool_name = "http_pool"
path = "/notifications"
${extra}
`

export interface RoutingRun {
  messages_per_second: number
  server_cpu_us_per_message: number
  /** With `engineCpu`: the engine's CPU (nats-server) per message over the same phase. */
  engine_cpu_us_per_message?: number
}

interface RunOptions {
  /** Waits for every notification to reach this sink. */
  sinkToWait?: SinkProcess
  /** Opens the breaker before the measured phase. */
  warmBreaker?: boolean
  /** The engine's CPU time (nats-server), read around the measured phase. */
  engineCpu?: () => number
  /** The server's environment on top of this process's (XMPPD_BENCH_LIMITS=off). */
  env?: Record<string, string>
  /** Clients with XEP-0198 stream management enabled (bench/sm-cost.ts). */
  sm?: boolean
  /** More [general] keys for the server (max_offline_messages = 0: no offline storage). */
  general?: Record<string, number | string>
}

async function routingRun(perPair: number, extra: string, opts: RunOptions = {}): Promise<RoutingRun> {
  const { sinkToWait, warmBreaker = false, engineCpu } = opts
  const server = await startServerProcess(0, pairUsers(PAIRS), extra, opts.env, opts.general)
  try {
    const pairs = await connectPairs(server.c2sPort, PAIRS, { sm: opts.sm })
    if (warmBreaker) {
      await blast(pairs.slice(0, 1), 30)
      await waitUntil(async () => sample(await server.metrics(), 'mod_http_notifications_breaker_state', { host: 'localhost' }) === 1, 10_000)
    }
    // The sink is shared by runs: count this run's warm-up only, so that the measured phase does
    // not start while the warm-up's notifications are still being delivered.
    await sinkToWait?.reset()
    // Warm-up past max_queue (10,000): with the endpoint hanging, what is measured is the steady
    // state (the queue full), not the transient of the first 10,000 after the endpoint stops.
    await blast(pairs, WARM_PER_PAIR)
    if (sinkToWait) {
      await waitUntil(async () => (await sinkToWait.count()) >= PAIRS * WARM_PER_PAIR, 60_000)
      await sinkToWait.reset()
    }
    const cpu0 = server.cpuMicros()
    const engine0 = engineCpu?.()
    const t0 = performance.now()
    await blast(pairs, perPair)
    if (sinkToWait) await waitUntil(async () => (await sinkToWait.count()) >= PAIRS * perPair, 120_000)
    const seconds = (performance.now() - t0) / 1000
    const total = PAIRS * perPair
    const result: RoutingRun = { messages_per_second: total / seconds, server_cpu_us_per_message: (server.cpuMicros() - cpu0) / total }
    if (engineCpu) result.engine_cpu_us_per_message = (engineCpu() - engine0!) / total
    for (const p of pairs) {
      p.sender.close()
      p.receiver.close()
    }
    return result
  } finally {
    await server.stop()
  }
}

export interface RoutingResult {
  disabled: RoutingRun
  hanging: RoutingRun
  breaker_open: RoutingRun
  hanging_ratio: number
  breaker_open_ratio: number
}

/** The run with the median rate of several (the machines are shared: single runs swing ±20%). */
function median(runs: RoutingRun[]): RoutingRun {
  return [...runs].sort((a, b) => a.messages_per_second - b.messages_per_second)[Math.floor(runs.length / 2)]
}

const ROUNDS = 3

export async function routing(hangingSink: SinkProcess): Promise<RoutingResult> {
  const runs: Record<'disabled' | 'hanging' | 'breaker_open', RoutingRun[]> = { disabled: [], hanging: [], breaker_open: [] }
  // Interleaved, so a slow moment of the machine does not land on one scenario only.
  for (let round = 0; round < ROUNDS; round++) {
    runs.disabled.push(await routingRun(ROUTING_PER_PAIR, plugin(hangingSink.url, 'enabled = false')))
    runs.hanging.push(await routingRun(ROUTING_PER_PAIR, plugin(hangingSink.url, 'max_queue = 10000')))
    runs.breaker_open.push(
      await routingRun(ROUTING_PER_PAIR, plugin(`http://127.0.0.1:${await closedPort()}`, 'breaker = { reset_timeout = 600000 }'), { warmBreaker: true }),
    )
  }
  const disabled = median(runs.disabled)
  const hanging = median(runs.hanging)
  const breaker_open = median(runs.breaker_open)
  return {
    disabled,
    hanging,
    breaker_open,
    hanging_ratio: hanging.messages_per_second / disabled.messages_per_second,
    breaker_open_ratio: breaker_open.messages_per_second / disabled.messages_per_second,
  }
}

export interface WholeServerRun extends RoutingRun {
  notified: number
  /** Share of core 0 the server used in the timed phase: near 1, the server was the limit. */
  server_core_busy: number
}

type Backend = 'sqlite' | 'memory' | 'jetstream'

export interface WholeServerResult {
  sqlite: WholeServerRun
  memory: WholeServerRun
  jetstream: WholeServerRun
  /** messages/s, sqlite / memory (medians). */
  ratio: number
  /** Server CPU per message, sqlite / memory (medians). */
  cpu_ratio: number
  /** messages/s, sqlite / memory, of each interleaved round, and their median. */
  round_ratios: number[]
  median_round_ratio: number
  jetstream_ratios: {
    /** messages/s, jetstream / sqlite and jetstream / memory (medians): the target is >= 0.7 of sqlite. */
    vs_sqlite: number
    vs_memory: number
    /** jetstream / sqlite of each round, and their median. */
    round_vs_sqlite: number[]
    median_round_vs_sqlite: number
    /** Server CPU per message, jetstream / sqlite: the xmppd process alone. */
    server_cpu_vs_sqlite: number
    /** xmppd + nats-server CPU per message against sqlite's xmppd (its engine is in the process). */
    total_cpu_vs_sqlite: number
  }
}

const medianOf = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]

/** `opts.sm`: the clients enable XEP-0198 stream management; `opts.general`: more [general] keys. */
export async function wholeRun(
  outbox: Backend,
  fastSink: SinkProcess,
  env?: Record<string, string>,
  opts: { sm?: boolean; general?: Record<string, number | string> } = {},
): Promise<WholeServerRun> {
  // The queue must hold a burst: every message is to be notified, none dropped as queue_full.
  const extra = `outbox = "${outbox}"\nmax_queue = 100000`
  const nats = outbox === 'jetstream' ? await startBenchNats(1) : undefined
  try {
    const toml = plugin(fastSink.url, nats ? extra + jetstreamSection(nats.url) : extra)
    const run = await routingRun(WHOLE_PER_PAIR, toml, { sinkToWait: fastSink, engineCpu: nats?.cpuMicros, env, sm: opts.sm, general: opts.general })
    return { ...run, notified: await fastSink.count(), server_core_busy: (run.server_cpu_us_per_message * run.messages_per_second) / 1e6 }
  } finally {
    await nats?.stop()
  }
}

export async function wholeServer(fastSink: SinkProcess): Promise<WholeServerResult> {
  const runs: Record<Backend, WholeServerRun[]> = { sqlite: [], memory: [], jetstream: [] }
  const round_ratios: number[] = []
  const round_vs_sqlite: number[] = []
  // Interleaved, so a slow moment of the machine does not land on one backend only; five rounds,
  // as the ratio of two medians of three swung from 0.86 to 1.07 between runs on a shared machine.
  for (let round = 0; round < WHOLE_ROUNDS; round++) {
    for (const outbox of ['sqlite', 'memory', 'jetstream'] as const) runs[outbox].push(await wholeRun(outbox, fastSink))
    round_ratios.push(runs.sqlite[round].messages_per_second / runs.memory[round].messages_per_second)
    round_vs_sqlite.push(runs.jetstream[round].messages_per_second / runs.sqlite[round].messages_per_second)
  }
  const sqlite = median(runs.sqlite) as WholeServerRun
  const memory = median(runs.memory) as WholeServerRun
  const jetstream = median(runs.jetstream) as WholeServerRun
  return {
    sqlite,
    memory,
    jetstream,
    ratio: sqlite.messages_per_second / memory.messages_per_second,
    cpu_ratio: sqlite.server_cpu_us_per_message / memory.server_cpu_us_per_message,
    round_ratios,
    median_round_ratio: medianOf(round_ratios),
    jetstream_ratios: {
      vs_sqlite: jetstream.messages_per_second / sqlite.messages_per_second,
      vs_memory: jetstream.messages_per_second / memory.messages_per_second,
      round_vs_sqlite,
      median_round_vs_sqlite: medianOf(round_vs_sqlite),
      server_cpu_vs_sqlite: jetstream.server_cpu_us_per_message / sqlite.server_cpu_us_per_message,
      total_cpu_vs_sqlite: (jetstream.server_cpu_us_per_message + (jetstream.engine_cpu_us_per_message ?? 0)) / sqlite.server_cpu_us_per_message,
    },
  }
}

export interface LatencyResult {
  rate_per_second: number
  samples: number
  p50_ms: number
  p99_ms: number
}

export async function latency(fastSink: SinkProcess, rate = 500, seconds = 4): Promise<LatencyResult> {
  const server = await startServerProcess(0, pairUsers(1), plugin(fastSink.url))
  try {
    const [pair] = await connectPairs(server.c2sPort, 1)
    await blast([pair], 200)
    await waitUntil(async () => (await fastSink.count()) >= 200, 10_000)
    await fastSink.latencies() // discard the warm-up's
    const total = rate * seconds
    const interval = 1000 / rate
    const t0 = performance.now()
    for (let i = 0; i < total; i++) {
      const due = t0 + i * interval
      const wait = due - performance.now()
      if (wait > 1) await new Promise((r) => setTimeout(r, wait))
      pair.sender.write(chatStanza('r0@localhost', `t=${performance.timeOrigin + performance.now()}`))
    }
    await waitUntil(async () => (await fastSink.count()) >= 200 + total, 30_000)
    const lat = (await fastSink.latencies()).sort((a, b) => a - b)
    pair.sender.close()
    pair.receiver.close()
    return { rate_per_second: rate, samples: lat.length, p50_ms: quantile(lat, 0.5), p99_ms: quantile(lat, 0.99) }
  } finally {
    await server.stop()
  }
}
