// 5. Memory: the server's RSS and queue depth after 50k and after 100k eligible packets with the
// endpoint down (accepting, never answering): bounded by the queues, no growth once they are full.
import { blast, connectPairs, pairUsers, sample, startServerProcess, type SinkProcess } from './support.js'

export interface MemoryResult {
  rss_start_mb: number
  rss_after_50k_mb: number
  rss_after_100k_mb: number
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
    await blast(pairs, 5000)
    const rss_after_50k_mb = mb()
    await blast(pairs, 5000)
    const rss_after_100k_mb = mb()
    const text = await server.metrics()
    const result = {
      rss_start_mb,
      rss_after_50k_mb,
      rss_after_100k_mb,
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
