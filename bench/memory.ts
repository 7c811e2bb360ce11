// 5. Memory: the server's RSS and queue depth over 100k eligible packets with the endpoint down
// (accepting, never answering): bounded by the queues, no growth once they are full. The heap
// saw-tooths with garbage collection, so the figures are the peaks of each half (sampled every
// 10k packets): the second half's peak is not above the first's when nothing accumulates.
import { blast, connectPairs, pairUsers, sample, startServerProcess, type SinkProcess } from './support.js'

export interface MemoryResult {
  rss_start_mb: number
  rss_peak_first_50k_mb: number
  rss_peak_second_50k_mb: number
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
    const rss_start_mb = mb()
    const samples: number[] = []
    for (let chunk = 0; chunk < 10; chunk++) {
      await blast(pairs, 1000) // 10 pairs x 1000 = 10k packets
      samples.push(mb())
    }
    const text = await server.metrics()
    const result = {
      rss_start_mb,
      rss_peak_first_50k_mb: Math.max(...samples.slice(0, 5)),
      rss_peak_second_50k_mb: Math.max(...samples.slice(5)),
      rss_end_mb: samples[9],
      queue_depth: sample(text, 'mod_http_notifications_queue_depth', { host: 'localhost' }),
      max_queue,
      queue_full: sample(text, 'mod_http_notifications_failed_total', { host: 'localhost', reason: 'queue_full' }),
    }
    for (const p of pairs) (p.sender.close(), p.receiver.close())
    return result
  } finally {
    await server.stop()
  }
}
