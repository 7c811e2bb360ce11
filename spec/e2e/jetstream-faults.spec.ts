// Issue 13's faults of the engine, on the real server (an xmppd process) with real clients, a real
// endpoint and a real nats-server -js: nats-server going away and coming back under load loses
// nothing silently (what the hook accepts meanwhile waits in the publish buffer; past it, it would
// be counted failed outbox_unavailable), and the node says it lost and regained the server; a
// nats-server unreachable at start is a clear error and exit 1. Nothing here asserts a timing.
import { test, afterEach } from 'node:test'
import assert from 'node:assert/strict'
import net from 'node:net'
import { cluster, nodeToml } from '../helpers/cluster.js'
import { eventually } from '../helpers/metrics.js'
import { startNats } from '../helpers/nats.js'
import { deliveryReport, webhookRecorder } from '../helpers/webhook-recorder.js'
import { spawnBin, writeConfig } from '../helpers/xmppd.js'

const cleanups: Array<() => Promise<unknown>> = []
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c().catch(() => undefined)
})

test('nats-server stopped and restarted under load: within publish_buffer every accepted notification arrives; the node says it lost and regained it', async (t) => {
  const nats = await startNats()
  cleanups.push(() => nats.stop())
  const rec = await webhookRecorder()
  cleanups.push(() => rec.close())
  const nodes = cluster()
  cleanups.push(() => nodes.close())
  const node = await nodes.start('A', nodeToml({ endpoint: rec.url, nats: nats.url }))
  const status = async () => {
    const s = await node.xmppctl('plugin', 'status', '--host', 'localhost')
    assert.equal(s.code, 0, s.stderr)
    return s.stdout
  }
  assert.match(await status(), /jetstream, .* stream XMPPD_NOTIFICATIONS, reachable/)

  // Away while alice is sending: what the hook accepts meanwhile waits in the publish buffer.
  const sending = node.send('alice', 'before', 2000)
  await nodes.countsWhen((c) => c.accepted >= 300)
  await nats.stop()
  const before = await sending
  const away = await node.send('alice', 'away', 500)
  const accepted = before.length + away.length
  await nodes.countsWhen((c) => c.accepted === accepted, 30_000)
  await eventually(
    () => node.log(),
    (log) => assert.match(log, /lost nats-server/),
    10_000,
  )
  assert.match(await status(), /UNREACHABLE/)

  // Back while she sends more.
  const [, after] = await Promise.all([nats.restart(), node.send('alice', 'after', 500)])
  const messages = [...before, ...away, ...after]
  // Nothing lost silently: past publish_buffer a notification would be counted failed
  // outbox_unavailable; 3,000 is well within the default, so every one arrives.
  await rec.waitForAll(messages, 120_000)
  const r = deliveryReport(rec.deliveries, messages)
  t.diagnostic(`${messages.length} messages, ${rec.deliveries.length} requests, ${r.duplicates} duplicates`)
  assert.deepEqual(r.idChanged, [])
  // An ack lost with the server brings its message again: each 2xx is still counted sent once.
  const c = await nodes.countsWhen((x) => x.pending === 0 && x.sent === rec.deliveries.filter((d) => d.status === 204).length, 30_000)
  assert.equal(c.accepted, messages.length)
  assert.equal(c.failed, 0, JSON.stringify(c.failedBy))
  assert.match(node.log(), /reconnected to nats-server/)
  assert.match(await status(), /stream XMPPD_NOTIFICATIONS, reachable/)
})

test('past publish_buffer while nats-server is away: counted failed outbox_unavailable, never lost silently; the rest arrive once it is back', async (t) => {
  const nats = await startNats()
  cleanups.push(() => nats.stop())
  const rec = await webhookRecorder()
  cleanups.push(() => rec.close())
  const nodes = cluster()
  cleanups.push(() => nodes.close())
  const node = await nodes.start('A', nodeToml({ endpoint: rec.url, nats: nats.url, jetstream: 'publish_buffer = 100' }))
  await nats.stop()
  // In stanza order: the first 100 wait in the buffer, the next 200 find it full.
  const messages = await node.send('alice', 'full', 300)
  const away = await nodes.countsWhen((c) => c.accepted === 300 && c.failed === 200, 30_000)
  assert.deepEqual(away.failedBy.outbox_unavailable, 200)
  assert.equal(rec.deliveries.length, 0)

  await nats.restart()
  await rec.waitForAll(messages.slice(0, 100), 60_000)
  const c = await nodes.countsWhen((x) => x.pending === 0 && x.sent >= 100, 30_000)
  const r = deliveryReport(rec.deliveries, messages)
  t.diagnostic(`${rec.deliveries.length} requests, ${r.duplicates} duplicates`)
  assert.deepEqual(r.missing, messages.slice(100), 'what did not arrive is what was counted failed')
  assert.deepEqual([c.accepted, c.sent, c.failed], [300, 100, 200], 'accepted = sent + failed')
})

test('nats-server unreachable at start: a clear error naming jetstream.servers, exit 1, nothing listening', async () => {
  // A port that refuses connections: bound by the kernel for us, then released.
  const closed = await new Promise<number>((resolve) => {
    const s = net.createServer()
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as net.AddressInfo
      s.close(() => resolve(port))
    })
  })
  const file = writeConfig(nodeToml({ endpoint: 'http://127.0.0.1:9', nats: `nats://127.0.0.1:${closed}` }))
  const run = spawnBin('xmppd', ['--config', file, '--log-level', 'info'])
  cleanups.push(async () => run.child.kill('SIGKILL'))
  assert.equal(await run.exit, 1)
  const err = run.stderr()
  assert.match(err, new RegExp(`plugins\\.mod_event_pusher_http\\.jetstream\\.servers: cannot reach nats-server at nats://127\\.0\\.0\\.1:${closed}`))
  assert.doesNotMatch(err, /^\s+at /m, 'no stack trace')
  assert.doesNotMatch(run.stdout(), /listening/, 'nothing listens')
})
