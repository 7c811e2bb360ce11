// 1. The hook path: what user_send_packet costs per packet with the plugin (filter + payload +
// enqueue, through the server's real hook registry) against a no-op hook, for an eligible and an
// ineligible packet. In-process, the endpoint hanging so nothing is dispatched meanwhile.
import { jid } from '@xmpp/jid'
import { element } from '../spec/helpers/stanza.js'
import { startTestServer } from '../spec/helpers/xmppd.js'
import type { SinkProcess } from './support.js'

const N = 200_000
const WARM = 20_000

export interface HookPathResult {
  noop_ns: number
  eligible_ns: number
  ineligible_ns: number
  eligible_ratio: number
  ineligible_ratio: number
}

function nsPerCall(run: () => void, n: number): number {
  for (let i = 0; i < WARM; i++) run()
  const t0 = process.hrtime.bigint()
  for (let i = 0; i < n; i++) run()
  return Number(process.hrtime.bigint() - t0) / n
}

export async function hookPath(hangingSink: SinkProcess): Promise<HookPathResult> {
  const server = await startTestServer({
    extra: `
[http_connections.http_pool]
server = "${hangingSink.url}"
request_timeout = 60000

[plugins.mod_event_pusher_http]
pool_name = "http_pool"
path = "/notifications"
max_queue = 1000000
drain_timeout = 100
`,
  })
  try {
    const hooks = server.hooksOf('localhost')!
    const from = jid('alice@localhost/phone')
    const to = jid('bob@localhost')
    const chat = element('message', { to: 'bob@localhost', type: 'chat', from: 'alice@localhost/phone' })
    chat.c('body').t('hello, this is a typical chat message of a few dozen characters')
    const presence = element('presence', { from: 'alice@localhost/phone' })
    const eligible_ns = nsPerCall(() => hooks.run('user_send_packet', chat, from, to), N)
    const ineligible_ns = nsPerCall(() => hooks.run('user_send_packet', presence, from, to), N)
    await server.loader.disable('mod_event_pusher_http', 'localhost')
    const off = hooks.on('user_send_packet', () => undefined)
    const noop_ns = nsPerCall(() => hooks.run('user_send_packet', chat, from, to), N)
    off()
    return { noop_ns, eligible_ns, ineligible_ns, eligible_ratio: eligible_ns / noop_ns, ineligible_ratio: ineligible_ns / noop_ns }
  } finally {
    await server.stop()
  }
}
