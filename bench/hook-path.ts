// 1. The hook path: what user_send_packet costs per packet with the plugin (filter + payload +
// enqueue, through the server's real hook registry) against a no-op hook, for an eligible and an
// ineligible packet. In-process. Only the synchronous loops are timed, in chunks of 1000 packets
// (a burst a server meets), with the queue drained to a fast sink between chunks so that it
// never holds more than a chunk: a queue grown to 200k entries would measure the GC instead.
import { element } from '../spec/helpers/stanza.js'
import { startTestServer } from '../spec/helpers/xmppd.js'
import { chatPacket, waitUntil, type SinkProcess } from './support.js'

const N = 200_000
const WARM = 20_000
const CHUNK = 1000

export interface HookPathResult {
  noop_ns: number
  eligible_ns: number
  ineligible_ns: number
  eligible_ratio: number
  ineligible_ratio: number
}

async function nsPerCall(run: () => void, n: number, settle: () => Promise<void>): Promise<number> {
  let elapsed = 0n
  for (let done = -WARM; done < n; done += CHUNK) {
    const t0 = process.hrtime.bigint()
    for (let i = 0; i < CHUNK; i++) run()
    if (done >= 0) elapsed += process.hrtime.bigint() - t0
    await settle()
  }
  return Number(elapsed) / n
}

export async function hookPath(sink: SinkProcess): Promise<HookPathResult> {
  const server = await startTestServer({
    extra: `
[http_connections.http_pool]
server = "${sink.url}"

[plugins.mod_event_pusher_http]
pool_name = "http_pool"
path = "/notifications"
max_queue = 1000000
drain_timeout = 100
`,
  })
  try {
    const hooks = server.hooksOf('localhost')!
    const { packet: chat, from, to } = chatPacket()
    const presence = element('presence', { from: 'alice@localhost/phone' })
    await sink.reset()
    let expected = 0
    const drained = async () => {
      expected += CHUNK
      await waitUntil(async () => (await sink.count()) >= expected, 60_000)
    }
    const eligible_ns = await nsPerCall(() => hooks.run('user_send_packet', chat, from, to), N, drained)
    const nothing = async () => undefined
    const ineligible_ns = await nsPerCall(() => hooks.run('user_send_packet', presence, from, to), N, nothing)
    await server.loader.disable('mod_event_pusher_http', 'localhost')
    const off = hooks.on('user_send_packet', () => undefined)
    const noop_ns = await nsPerCall(() => hooks.run('user_send_packet', chat, from, to), N, nothing)
    off()
    return { noop_ns, eligible_ns, ineligible_ns, eligible_ratio: eligible_ns / noop_ns, ineligible_ratio: ineligible_ns / noop_ns }
  } finally {
    await server.stop()
  }
}
