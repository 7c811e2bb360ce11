// 1. The hook path: what user_send_packet costs per packet with the plugin (through the server's
// real hook registry: each handler's filter, the stored event, the webhook-id, outbox.add) against
// a no-op hook, for an eligible packet with the sqlite outbox (the default) and with the memory
// outbox, and for an ineligible packet. In-process. Only the synchronous loops are timed, in
// chunks of 1000 packets (a burst a server meets), with the outbox drained to a fast sink between
// chunks so that it never holds more than a chunk: a queue grown to 100k entries would measure the
// GC instead. The sqlite outbox writes its batch after the hook's turn (setImmediate): that
// deferred flush, one transaction per chunk here, is timed apart and given per packet.
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { storedMessage } from '../lib/plugin/event.js'
import { openOutbox } from '../lib/plugin/outbox/open.js'
import { SqliteOutbox } from '../lib/plugin/outbox/sqlite.js'
import { newWebhookId } from '../lib/plugin/signing.js'
import { element } from '../spec/helpers/stanza.js'
import { startTestServer } from '../spec/helpers/xmppd.js'
import { chatPacket, waitUntil, type SinkProcess } from './support.js'

const N = 100_000
const WARM = 10_000
const CHUNK = 1000

export interface HookPathResult {
  noop_ns: number
  /** Eligible packet, sqlite outbox: the hook's synchronous work. */
  eligible_ns: number
  /** The sqlite outbox's deferred write (one transaction per 1000 packets), per packet. */
  flush_ns: number
  eligible_memory_ns: number
  ineligible_ns: number
  eligible_ratio: number
  ineligible_ratio: number
  /** eligible_ns / eligible_memory_ns. */
  sqlite_vs_memory: number
  /** Parts of the eligible path, each alone (ns per call). */
  parts: { webhook_id_ns: number; stored_event_ns: number; sqlite_add_ns: number; sqlite_flush_ns: number }
}

interface Timing {
  ns: number
  /** `afterChunk`'s time per packet. */
  after_ns: number
}

async function nsPerCall(run: () => void, n: number, settle: () => Promise<void>, around: { before?: () => void; after?: () => void } = {}): Promise<Timing> {
  let elapsed = 0n
  let after = 0n
  for (let done = -WARM; done < n; done += CHUNK) {
    around.before?.()
    const t0 = process.hrtime.bigint()
    for (let i = 0; i < CHUNK; i++) run()
    const t1 = process.hrtime.bigint()
    around.after?.()
    if (done >= 0) {
      elapsed += t1 - t0
      after += process.hrtime.bigint() - t1
    }
    await settle()
  }
  return { ns: Number(elapsed) / n, after_ns: Number(after) / n }
}

const config = (sink: SinkProcess, outbox: string) => `
[http_connections.http_pool]
server = "${sink.url}"

[plugins.mod_event_pusher_http]
pool_name = "http_pool"
path = "/notifications"
outbox = "${outbox}"
max_queue = 1000000
drain_timeout = 100
`

/** Eligible packets through a real server's hooks; with sqlite, the deferred flush timed apart. */
async function eligible(sink: SinkProcess, outbox: 'sqlite' | 'memory', alsoIneligible: boolean) {
  const server = await startTestServer({ extra: config(sink, outbox) })
  // The instance's own outbox: open() shares it within the process (the same file, the same object).
  const dataDir = path.join(path.dirname(server.configFile), 'xmppd-data', 'mod_event_pusher_http')
  const handle = outbox === 'sqlite' ? await openOutbox({ kind: 'sqlite' }, dataDir, 'localhost', () => undefined) : undefined
  try {
    const hooks = server.hooksOf('localhost')!
    const { packet: chat, from, to } = chatPacket()
    await sink.reset()
    let expected = 0
    const drained = async () => {
      expected += CHUNK
      await waitUntil(async () => (await sink.count()) >= expected, 60_000)
    }
    // Before a chunk: what settling wrote (deletes) goes out untimed, so that the flush after the
    // chunk writes exactly its 1000 inserts.
    const flush = handle ? () => handle.outbox.flush() : undefined
    const t = await nsPerCall(() => hooks.run('user_send_packet', chat, from, to), N, drained, { before: flush, after: flush })
    let ineligible_ns = NaN
    if (alsoIneligible) {
      const presence = element('presence', { from: 'alice@localhost/phone' })
      ineligible_ns = (
        await nsPerCall(
          () => hooks.run('user_send_packet', presence, from, to),
          N,
          async () => undefined,
        )
      ).ns
    }
    await server.loader.disable('mod_event_pusher_http', 'localhost')
    const off = hooks.on('user_send_packet', () => undefined)
    const noop_ns = (
      await nsPerCall(
        () => hooks.run('user_send_packet', chat, from, to),
        N,
        async () => undefined,
      )
    ).ns
    off()
    return { eligible_ns: t.ns, flush_ns: t.after_ns, ineligible_ns, noop_ns }
  } finally {
    await handle?.release()
    await server.stop()
  }
}

/** The parts alone: the id, the stored event, sqlite add() and its flush on an outbox of its own. */
async function parts(): Promise<HookPathResult['parts']> {
  const { packet, from, to } = chatPacket()
  const nothing = async () => undefined
  const webhook_id_ns = (await nsPerCall(() => void newWebhookId(), N, nothing)).ns
  const stored_event_ns = (await nsPerCall(() => void storedMessage(packet, from, to, Date.now(), false), N, nothing)).ns
  const outbox = new SqliteOutbox(path.join(mkdtempSync(path.join(tmpdir(), 'bench-outbox-')), 'outbox.sqlite'))
  const ev = storedMessage(packet, from, to, Date.now(), false)
  // Settled as soon as written, so that the table stays small as it does behind a live endpoint.
  const drain = async () => {
    for (const e of await outbox.lease('localhost', 'h', CHUNK, Date.now() + 1)) outbox.settle(e)
    outbox.flush()
  }
  const ids = Array.from({ length: CHUNK }, () => newWebhookId())
  let i = 0
  const add = await nsPerCall(() => void outbox.add('localhost', 'h', ids[i++ % CHUNK], ev, 1e9), N, drain, { after: () => outbox.flush() })
  await outbox.close()
  return { webhook_id_ns, stored_event_ns, sqlite_add_ns: add.ns, sqlite_flush_ns: add.after_ns }
}

export async function hookPath(sink: SinkProcess): Promise<HookPathResult> {
  const sqlite = await eligible(sink, 'sqlite', true)
  const memory = await eligible(sink, 'memory', false)
  const noop_ns = Math.min(sqlite.noop_ns, memory.noop_ns)
  return {
    noop_ns,
    eligible_ns: sqlite.eligible_ns,
    flush_ns: sqlite.flush_ns,
    eligible_memory_ns: memory.eligible_ns,
    ineligible_ns: sqlite.ineligible_ns,
    eligible_ratio: sqlite.eligible_ns / noop_ns,
    ineligible_ratio: sqlite.ineligible_ns / noop_ns,
    sqlite_vs_memory: sqlite.eligible_ns / memory.eligible_ns,
    parts: await parts(),
  }
}
