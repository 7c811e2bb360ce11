// The JetStream engine of the benchmarks: Debian's nats-server -js, started the way the specs start
// it (spec/helpers/nats.ts: loopback, a port the kernel picks, a temporary store removed at exit),
// a fresh one per run so that no run starts on another's stream, optionally pinned to a core, with
// its CPU time read from /proc like the server's: what the engine costs per notification.
import { startNats } from '../spec/helpers/nats.js'
import { cpuMicrosOf, pinProcess } from './support.js'

export interface BenchNats {
  url: string
  /** CPU time (user + system, every thread) nats-server has used, in microseconds. */
  cpuMicros(): number
  stop(): Promise<void>
}

/** `core` undefined: any core. */
export async function startBenchNats(core: number | undefined): Promise<BenchNats> {
  const nats = await startNats()
  pinProcess(nats.pid, core)
  return { url: nats.url, cpuMicros: () => cpuMicrosOf(nats.pid), stop: () => nats.stop() }
}

/**
 * The plugin's [jetstream] section (it goes after the plugin's own keys). publish_buffer is raised
 * from 10,000 like max_queue is for the memory outbox: the bench's bursts (20 clients at full
 * speed) must not be cut short by a bound that is there for an engine that is away.
 */
export const jetstreamSection = (url: string) => `
[plugins.mod_event_pusher_http.jetstream]
servers = ["${url}"]
publish_buffer = 100000
`
