// 3. Dispatch: notifications per second and CPU microseconds per notification from the plugin
// (hook → queue → pool → got) to a fast sink in another process, against a bare got loop with the
// same agent settings and concurrency, and against bare node:http with a keep-alive agent.
// The bare got loops get the plugin's fast path for got's native options too (lib/plugin/
// got-native-options.ts), so the ratio compares the plugin's pipeline with got doing the same work.
import http from 'node:http'
import got from 'got'
import { withFastNativeOptions } from '../lib/plugin/got-native-options.js'
import { startTestServer } from '../spec/helpers/xmppd.js'
import { chatPacket, waitUntil, type SinkProcess } from './support.js'

const N = 20_000
const CONCURRENCY = 50
const BODY = new URLSearchParams({
  author: 'alice',
  server: 'localhost',
  receiver: 'bob',
  message: 'hello, this is a typical chat message of a few dozen characters',
}).toString()

export interface Rate {
  per_second: number
  cpu_us: number
}

export interface DispatchResult {
  plugin: Rate
  /** got's promise API, the usual way to call it. */
  bare_got: Rate
  /** got's stream API, which the plugin uses (it needs only the status). */
  bare_got_stream: Rate
  bare_http: Rate
  plugin_vs_got: number
  plugin_vs_got_stream: number
  plugin_vs_http: number
}

// The fast path's self-check warns here if got's own method builds something else.
const benchLog = { debug() {}, info() {}, warn: (obj: object, msg?: string) => console.warn(msg, obj), error() {}, child: () => benchLog }

async function measure(sink: SinkProcess, run: () => Promise<void>): Promise<Rate> {
  await sink.reset()
  const cpu0 = process.cpuUsage()
  const t0 = performance.now()
  await run()
  await waitUntil(async () => (await sink.count()) >= N, 120_000)
  const seconds = (performance.now() - t0) / 1000
  const cpu = process.cpuUsage(cpu0)
  return { per_second: N / seconds, cpu_us: (cpu.user + cpu.system) / N }
}

async function workers(n: number, total: number, one: () => Promise<unknown>): Promise<void> {
  let next = 0
  await Promise.all(
    Array.from({ length: n }, async () => {
      while (next++ < total) await one()
    }),
  )
}

export async function dispatch(sink: SinkProcess): Promise<DispatchResult> {
  const url = `${sink.url}/webservice/notifications`

  const server = await startTestServer({
    extra: `
[http_connections.http_pool]
server = "${sink.url}"
pool_size = ${CONCURRENCY}
path_prefix = "/webservice"

[plugins.mod_event_pusher_http]
pool_name = "http_pool"
path = "/notifications"
max_queue = 100000
`,
  })
  let plugin: Rate
  try {
    const hooks = server.hooksOf('localhost')!
    const { packet: chat, from, to } = chatPacket()
    const warm = async () => {
      for (let i = 0; i < 2000; i++) hooks.run('user_send_packet', chat, from, to)
      await waitUntil(async () => (await sink.count()) >= 2000, 30_000)
    }
    await sink.reset()
    await warm()
    plugin = await measure(sink, async () => {
      // In chunks, as packets arrive from clients, so the queue never holds everything at once.
      for (let sent = 0; sent < N; sent += 500) {
        for (let i = 0; i < 500; i++) hooks.run('user_send_packet', chat, from, to)
        await new Promise((r) => setImmediate(r))
      }
    })
  } finally {
    await server.stop()
  }

  const agent = new http.Agent({ keepAlive: true, maxSockets: CONCURRENCY })
  const plainClient = got.extend({
    agent: { http: agent },
    retry: { limit: 0 },
    followRedirect: false,
    throwHttpErrors: false,
    timeout: { request: 2000 },
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
  })
  const client = withFastNativeOptions(plainClient, { url, body: BODY }, benchLog)
  await workers(CONCURRENCY, 2000, () => client.post(url, { body: BODY }))
  const bare_got = await measure(sink, () => workers(CONCURRENCY, N, () => client.post(url, { body: BODY })))
  const streamPost = () =>
    new Promise<void>((resolve, reject) => {
      const stream = client.stream.post(url, { body: BODY })
      stream.once('error', reject)
      stream.once('end', resolve)
      stream.resume()
    })
  const bare_got_stream = await measure(sink, () => workers(CONCURRENCY, N, streamPost))
  agent.destroy()

  const agent2 = new http.Agent({ keepAlive: true, maxSockets: CONCURRENCY })
  const post = () =>
    new Promise<void>((resolve, reject) => {
      const req = http.request(
        url,
        { method: 'POST', agent: agent2, headers: { 'content-type': 'application/x-www-form-urlencoded', 'content-length': Buffer.byteLength(BODY) } },
        (res) => {
          res.resume()
          res.on('end', resolve)
        },
      )
      req.on('error', reject)
      req.end(BODY)
    })
  await workers(CONCURRENCY, 2000, post)
  const bare_http = await measure(sink, () => workers(CONCURRENCY, N, post))
  agent2.destroy()

  return {
    plugin,
    bare_got,
    bare_got_stream,
    bare_http,
    plugin_vs_got: plugin.per_second / bare_got.per_second,
    plugin_vs_got_stream: plugin.per_second / bare_got_stream.per_second,
    plugin_vs_http: plugin.per_second / bare_http.per_second,
  }
}
