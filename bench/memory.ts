// 5. Memory: the server's memory and queue depth over 100k eligible packets with the endpoint
// down (accepting, never answering): bounded by the queues, no growth once they are full. The
// heap saw-tooths with garbage collection, so the live heap is read after a forced full GC
// (bench/xmppd-gc.mjs) at 50k and at 100k: equal when nothing accumulates. RSS is reported too
// (V8 keeps freed pages for a while, so it lags).
import { blast, connectPairs, pairUsers, sample, startServerProcess, type SinkProcess } from './support.js'

export interface MemoryResult {
  live_heap_start_mb: number
  live_heap_after_50k_mb: number
  live_heap_after_100k_mb: number
  rss_start_mb: number
  rss_peak_mb: number
  rss_end_mb: number
  queue_depth: number
  max_queue: number
  queue_full: number
}

export async function memory(hangingSink: SinkProcess): Promise<MemoryResult> {
  const max_queue = 10_000
  const server = await startServerProcess(
    0,
    pairUsers(10),
    `
[http_connections.http_pool]
server = "${hangingSink.url}"
pool_size = 50
request_timeout = 600000

[plugins.mod_event_pusher_http]
pool_name = "http_pool"
path = "/n"
max_queue = ${max_queue}
`,
  )
  try {
    const pairs = await connectPairs(server.c2sPort, 10)
    const mb = () => server.rssBytes() / 1048576
    const live = async () => (await server.liveHeapBytes()) / 1048576
    const live_heap_start_mb = await live()
    const rss_start_mb = mb()
    const samples: number[] = []
    let live_heap_after_50k_mb = 0
    for (let chunk = 0; chunk < 10; chunk++) {
      await blast(pairs, 1000) // 10 pairs x 1000 = 10k packets
      samples.push(mb())
      if (chunk === 4) live_heap_after_50k_mb = await live()
    }
    const live_heap_after_100k_mb = await live()
    const text = await server.metrics()
    const result = {
      live_heap_start_mb,
      live_heap_after_50k_mb,
      live_heap_after_100k_mb,
      rss_start_mb,
      rss_peak_mb: Math.max(...samples),
      rss_end_mb: mb(),
      queue_depth: sample(text, 'mod_http_notifications_queue_depth', { host: 'localhost' }),
      max_queue,
      queue_full: sample(text, 'mod_http_notifications_failed_total', { host: 'localhost', reason: 'queue_full' }),
    }
    for (const p of pairs) {
      p.sender.close()
      p.receiver.close()
    }
    return result
  } finally {
    await server.stop()
  }
}
