// Issue 11's "Done when" under load, on the real server with real clients and a real endpoint:
// an endpoint closed for a while under steady load, a burst of 20,000 messages from 20 clients,
// a burst of 500s with retries = 3: every message arrives, nothing fails. And retries = 0 with a
// 500 is still a counted failure. Phases follow message counts, never a clock; no timing asserted.
import { test, afterEach, type TestContext } from 'node:test'
import assert from 'node:assert/strict'
import { bodies, chatSender } from '../helpers/chat-load.js'
import { assertBalanced, hostCounts } from '../helpers/metrics.js'
import { deliveryReport, webhookRecorder, type Recorder } from '../helpers/webhook-recorder.js'
import { configToml, startTestServer, writeConfig, type TestServer } from '../helpers/xmppd.js'
import { balanced, countsWhen, startXmppdProcess } from '../helpers/xmppd-process.js'

const cleanups: Array<() => Promise<unknown>> = []
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c().catch(() => undefined)
})

// request_timeout is the pool's, not the plugin's: 10 s, so that a machine loaded by other work
// (a slow answer is a timeout, an attempt that fails with retries = 0) cannot pass for an outage.
const pluginToml = (url: string, plugin: string) => `
[http_connections.http_pool]
server = "${url}"
request_timeout = 10000

[plugins.mod_event_pusher_http]
pool_name = "http_pool"
path = "/n"
${plugin}
`

async function rig(plugin = ''): Promise<{ rec: Recorder; server: TestServer }> {
  const rec = await webhookRecorder()
  const server = await startTestServer(configToml({ users: { 'alice@localhost': 'alice-pw' }, extra: pluginToml(rec.url, plugin) }))
  cleanups.push(
    () => rec.close(),
    () => server.stop(),
  )
  return { rec, server }
}

/**
 * alice sends `messages` to herself one at a time, a few milliseconds apart (steady load), and
 * `at[i]` runs before message i goes out.
 */
async function steady(server: TestServer, messages: string[], at: Record<number, () => unknown>): Promise<void> {
  const alice = await chatSender(server.c2sPort, 'alice', 'alice-pw')
  cleanups.push(async () => alice.close())
  for (let i = 0; i < messages.length; i++) {
    await at[i]?.()
    await alice.send('alice@localhost', [messages[i]])
    await new Promise((r) => setTimeout(r, 5))
  }
}

/** Every message answered 2xx; if not, the failure says what the server counted. */
async function arrived(rec: Recorder, messages: string[], server: TestServer): Promise<void> {
  await rec.waitForAll(messages, 20_000).catch(async (err: Error) => {
    const c = await hostCounts(server.registry, 'localhost')
    const missing = new Set(deliveryReport(rec.deliveries, messages).missing)
    const tried = rec.deliveries.filter((d) => missing.has(d.message))
    throw new Error(`${err.message}; counts ${JSON.stringify(c)}; their requests ${JSON.stringify(tried)}`)
  })
}

function report(t: TestContext, rec: Recorder, messages: string[]) {
  const r = deliveryReport(rec.deliveries, messages)
  const answers = new Map<string, number>()
  for (const d of rec.deliveries) answers.set(String(d.status), (answers.get(String(d.status)) ?? 0) + 1)
  t.diagnostic(
    `${messages.length} messages, ${rec.deliveries.length} requests (${[...answers].map(([s, n]) => `${s}: ${n}`).join(', ')}), ${r.duplicates} duplicates`,
  )
  assert.deepEqual(r.missing, [])
  assert.deepEqual(r.idChanged, [])
  return r
}

test('an endpoint closed for a while under steady load, defaults: every message arrives, nothing fails', async (t) => {
  const { rec, server } = await rig()
  const messages = bodies('steady', 600)
  // Closed from message 100 to message 400: a few seconds at this pace.
  await steady(server, messages, { 100: () => rec.down(), 400: () => rec.up() })
  await arrived(rec, messages, server)
  report(t, rec, messages)
  const c = await assertBalanced(server.registry, 'localhost', 10_000)
  assert.deepEqual([c.accepted, c.sent, c.failedTotal], [600, 600, 0], JSON.stringify(c.failed))
})

test('a burst of 500s with retries = 3 and a short retry_base_delay: every message arrives, nothing fails', async (t) => {
  // Waits of 200-400, 400-800 and 800-1600 ms (equal jitter): a notification's four attempts
  // reach the endpoint at least 1.4 s apart, however slow the machine, so a burst of 500s
  // shorter than that cannot take all four. (The breaker does not shorten it: opossum counts
  // errors over 10 s, the successes before the burst included, so it opens late if at all.)
  const { rec, server } = await rig('retries = 3\nretry_base_delay = 400\nretry_max_delay = 2000')
  const messages = bodies('burst', 300)
  const burst = () => {
    rec.answer(500)
    setTimeout(() => rec.answer(204), 500)
  }
  await steady(server, messages, { 100: burst })
  await arrived(rec, messages, server)
  report(t, rec, messages)
  const c = await assertBalanced(server.registry, 'localhost', 10_000)
  assert.deepEqual([c.accepted, c.sent, c.failedTotal], [300, 300, 0], JSON.stringify(c.failed))
  const fiveHundreds = rec.deliveries.filter((d) => d.status === 500).length
  assert.ok(fiveHundreds > 0, 'the endpoint did answer 500s')
  const retries = (await server.registry.getSingleMetric('mod_http_notifications_retries_total')!.get()).values.find((v) => v.labels.host === 'localhost')
  assert.equal(retries?.value, fiveHundreds, 'each 500 was retried, and counted once as a retry')
})

test('retries = 0 (the default) with a 500: failed (status), one request each, as before', async () => {
  const { rec, server } = await rig()
  rec.answer(500)
  // Fewer than the breaker's volume_threshold (10): every one is tried.
  const messages = bodies('five-hundred', 5)
  await steady(server, messages, {})
  const c = await assertBalanced(server.registry, 'localhost', 5000)
  assert.deepEqual([c.accepted, c.sent, c.failed.status, c.failedTotal], [5, 0, 5, 5])
  assert.deepEqual(rec.deliveries.map((d) => d.message).sort(), [...messages].sort(), 'one request each, none retried')
})

test('a burst of 20,000 messages from 20 clients at full speed: every one arrives, no queue_full', async (t) => {
  const CLIENTS = 20
  const PER = 1000
  const users = Object.fromEntries(Array.from({ length: CLIENTS }, (_, i) => [`u${i}@localhost`, 'pw']))
  const rec = await webhookRecorder()
  cleanups.push(() => rec.close())
  // Its own process: the server gets a core, the clients and the endpoint the other.
  const p = await startXmppdProcess(writeConfig(configToml({ users, extra: pluginToml(rec.url, '') })))
  cleanups.push(() => p.stop('SIGKILL'))
  const senders = await Promise.all(Array.from({ length: CLIENTS }, (_, i) => chatSender(p.c2sPort, `u${i}`, 'pw')))
  cleanups.push(async () => senders.forEach((s) => s.close()))
  const all: string[] = []
  const started = Date.now()
  await Promise.all(
    senders.map((s, i) => {
      const mine = bodies(`u${i}`, PER)
      all.push(...mine)
      return s.send(`u${(i + 1) % CLIENTS}@localhost`, mine)
    }),
  )
  await rec.waitForAll(all, 60_000).catch(async (err) => {
    throw new Error(`${err.message}; the server's counts: ${JSON.stringify(await p.counts())}`)
  })
  t.diagnostic(`all ${all.length} delivered ${Date.now() - started} ms after the first was written`)
  report(t, rec, all)
  const c = await countsWhen(p, (x) => x.pending === 0 && balanced(x))
  assert.deepEqual(c, { accepted: CLIENTS * PER, recovered: 0, sent: CLIENTS * PER, failed: 0, queueFull: 0, pending: 0 })
})
