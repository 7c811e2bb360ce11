// 5. Memory through an outage: the server's memory over 100k eligible packets with the endpoint
// refusing connections (unreachable: nothing fails, everything waits in the outbox), with the
// sqlite outbox (the default: the backlog is on disk) and, for contrast, the memory outbox with
// max_queue raised to hold all 100k. The heap saw-tooths with garbage collection, so the live heap
// is read after a forced full GC (bench/xmppd-gc.mjs) at start, after 50k and after 100k: equal
// when nothing accumulates in memory. RSS is reported too (V8 keeps freed pages for a while, and
// SQLite its page cache, so it lags and then plateaus).
import { statSync } from 'node:fs'
import path from 'node:path'
import { DEFAULT_MAX_QUEUE } from '../lib/plugin/instance.js'
import { closedPort } from '../spec/helpers/sink.js'
import { blast, connectPairs, pairUsers, sample, sampleSum, startServerProcess } from './support.js'

const PAIRS = 10
const PER_CHUNK = 1000 // per pair: 10k packets a chunk
const CHUNKS = 10

export interface MemoryRun {
  outbox: 'sqlite' | 'memory'
  max_queue: number
  live_heap_start_mb: number
  live_heap_after_50k_mb: number
  live_heap_after_100k_mb: number
  rss_start_mb: number
  rss_peak_mb: number
  rss_end_mb: number
  pending: number
  failed: number
  /** The outbox file and its WAL (sqlite). */
  file_mb: number | undefined
}

export interface MemoryResult {
  sqlite: MemoryRun
  memory: MemoryRun
  /** Live heap growth from 50k to 100k pending (MB): what 50,000 more waiting notifications cost. */
  sqlite_growth_50k_mb: number
  memory_growth_50k_mb: number
  /** The same per waiting notification, in bytes. */
  sqlite_bytes_per_pending: number
  memory_bytes_per_pending: number
}

async function outage(outbox: 'sqlite' | 'memory', max_queue: number | undefined): Promise<MemoryRun> {
  const server = await startServerProcess(
    0,
    pairUsers(PAIRS),
    `
[http_connections.http_pool]
server = "http://127.0.0.1:${await closedPort()}"
pool_size = 50

[plugins.mod_event_pusher_http]
pool_name = "http_pool"
path = "/n"
outbox = "${outbox}"
${max_queue ? `max_queue = ${max_queue}` : ''}
`,
  )
  try {
    const pairs = await connectPairs(server.c2sPort, PAIRS)
    const mb = () => server.rssBytes() / 1048576
    const live = async () => (await server.liveHeapBytes()) / 1048576
    const live_heap_start_mb = await live()
    const rss_start_mb = mb()
    const samples: number[] = []
    let live_heap_after_50k_mb = 0
    for (let chunk = 0; chunk < CHUNKS; chunk++) {
      await blast(pairs, PER_CHUNK)
      samples.push(mb())
      if (chunk === CHUNKS / 2 - 1) live_heap_after_50k_mb = await live()
    }
    const live_heap_after_100k_mb = await live()
    const text = await server.metrics()
    const dataDir = path.join(path.dirname(server.configFile), 'xmppd-data', 'mod_event_pusher_http')
    const size = (f: string) => {
      try {
        return statSync(path.join(dataDir, f)).size
      } catch {
        return 0
      }
    }
    const run: MemoryRun = {
      outbox,
      max_queue: max_queue ?? DEFAULT_MAX_QUEUE[outbox],
      live_heap_start_mb,
      live_heap_after_50k_mb,
      live_heap_after_100k_mb,
      rss_start_mb,
      rss_peak_mb: Math.max(...samples),
      rss_end_mb: mb(),
      pending: sampleSum(text, 'mod_http_notifications_pending', { host: 'localhost' }),
      failed: sampleSum(text, 'mod_http_notifications_failed_total', { host: 'localhost' }),
      file_mb: outbox === 'sqlite' ? (size('outbox.sqlite') + size('outbox.sqlite-wal')) / 1048576 : undefined,
    }
    if (sample(text, 'mod_http_notifications_accepted_total', { host: 'localhost' }) !== PAIRS * PER_CHUNK * CHUNKS)
      throw new Error(`memory bench (${outbox}): not every packet was accepted`)
    for (const p of pairs) {
      p.sender.close()
      p.receiver.close()
    }
    return run
  } finally {
    await server.stop()
  }
}

export async function memory(): Promise<MemoryResult> {
  const sqlite = await outage('sqlite', undefined) // its default max_queue
  const memory = await outage('memory', 200_000) // raised from 10,000 so that it holds the outage
  const growth = (r: MemoryRun) => r.live_heap_after_100k_mb - r.live_heap_after_50k_mb
  const perPending = (r: MemoryRun) => (growth(r) * 1048576) / ((PAIRS * PER_CHUNK * CHUNKS) / 2)
  return {
    sqlite,
    memory,
    sqlite_growth_50k_mb: growth(sqlite),
    memory_growth_50k_mb: growth(memory),
    sqlite_bytes_per_pending: perPending(sqlite),
    memory_bytes_per_pending: perPending(memory),
  }
}
