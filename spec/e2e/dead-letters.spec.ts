// Dead letters on the real server, end to end: notifications that fail twice against a 500
// endpoint with retries = 1 are counted failed once each, listed by xmppctl with their last
// status and body (xmppctl, and XEP-0050 for an admin), and, once the endpoint is fixed,
// replayed with their original webhook-ids, through xmppctl, the admin API and XEP-0050. --since
// and --jid filter the real plugin's dead letters; retention purges and counts them. No secret
// appears in any output.
import { test, afterEach } from 'node:test'
import assert from 'node:assert/strict'
import { bodies, chatSender } from '../helpers/chat-load.js'
import { commandResultJson, executeCommand } from '../helpers/adhoc.js'
import { connectClient } from '../helpers/client.js'
import { assertBalanced, eventually, hostCounts } from '../helpers/metrics.js'
import { webhookRecorder } from '../helpers/webhook-recorder.js'
import { ADMIN_TOKEN, configToml, startTestServer, type TestServer, xmppctlOn } from '../helpers/xmppd.js'

const SECRET = 'Bearer dead-letter-secret-3c9e51'
const SIGNING_KEY = Buffer.from('dead-letter-signing-key-5d1e').toString('base64')
/** What must appear in no output: the header's value, the signing secret, its base64 key and the key itself. */
const SECRETS = [SECRET, `whsec_${SIGNING_KEY}`, SIGNING_KEY, 'dead-letter-signing-key-5d1e']
const noSecretIn = (out: string, what: string) => {
  for (const s of SECRETS) assert.ok(!out.includes(s), `${what}: no secret (${s.slice(0, 12)}…)`)
}
const cleanups: Array<() => Promise<unknown>> = []
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c().catch(() => undefined)
})

const xmppctl = xmppctlOn

test('20 notifications failed against a 500: counted once each, listed, replayed with their webhook-ids once the endpoint is fixed', async () => {
  const rec = await webhookRecorder()
  rec.answer(500)
  const plugin = `
[http_connections.http_pool]
server = "${rec.url}"
request_timeout = 10000

[plugins.mod_event_pusher_http]
pool_name = "http_pool"
path = "/n"
retries = 1
retry_base_delay = 20
retry_max_delay = 40
headers = { Authorization = "${SECRET}" }
signing_secrets = ["whsec_${SIGNING_KEY}"]
breaker = { volume_threshold = 1000 }
`
  const server = await startTestServer(
    configToml({
      users: { 'alice@localhost': 'alice-pw', 'bob@localhost': 'bob-pw', 'admin@localhost': 'admin-pw' },
      admins: ['admin@localhost'],
      extra: plugin,
    }),
  )
  cleanups.push(
    () => rec.close(),
    () => server.stop(),
  )
  const alice = await chatSender(server.c2sPort, 'alice', 'alice-pw')
  cleanups.push(async () => alice.close())
  const messages = bodies('dead', 20)
  for (const m of messages) await alice.send('bob@localhost', [m])
  await eventually(
    () => hostCounts(server.registry, 'localhost'),
    (c) => assert.equal(c.failedTotal, 20),
    15_000,
  )
  const counts = await hostCounts(server.registry, 'localhost')
  assert.deepEqual([counts.accepted, counts.failed.status, counts.sent], [20, 20, 0], 'counted failed once each')
  assert.equal(rec.deliveries.length, 40, 'two attempts each')
  assert.ok(
    rec.deliveries.every((d) => d.signature?.startsWith('v1,')),
    'signed with the secret',
  )

  const listed = await xmppctl(server, 'deliveries', 'list', '--host', 'localhost', '--failed', '--json')
  assert.equal(listed.code, 0, listed.stderr)
  const { items } = JSON.parse(listed.stdout) as { items: Array<{ webhookId: string; status: number; attempts: number; event: { body: string } }> }
  assert.equal(items.length, 20)
  assert.deepEqual(items.map((d) => d.event.body).sort(), [...messages].sort())
  for (const d of items) assert.deepEqual([d.status, d.attempts], [500, 2])
  const plain = await xmppctl(server, 'deliveries', 'list', '--host', 'localhost', '--failed', '--limit', '5', '--jid', 'bob@localhost')
  assert.equal(plain.stdout.trimEnd().split('\n').length, 5)
  assert.match(plain.stdout, /HTTP 500/)
  for (const out of [listed.stdout, plain.stdout, listed.stderr, plain.stderr]) noSecretIn(out, 'deliveries list')

  // The same list over XMPP, for an admin (XEP-0050), with a relative --since.
  const admin = await connectClient(server.c2sPort, 'admin@localhost', 'admin-pw')
  cleanups.push(async () => admin.stop())
  const fields = { host: 'localhost', state: 'failed', since: '1h' }
  const reply = await executeCommand(admin, 'urn:xmppd:admin#deliveries-list', fields)
  const overXmpp = commandResultJson(reply)
  assert.equal(overXmpp.items.length, 20)
  noSecretIn(reply.toString(), 'deliveries-list over XMPP')

  const status = await xmppctl(server, 'plugin', 'status', '--host', 'localhost')
  assert.match(status.stdout, /dead letters: 20 /)
  const statusJson = await xmppctl(server, 'plugin', 'status', '--host', 'localhost', '--json')
  for (const out of [status.stdout, status.stderr, statusJson.stdout, statusJson.stderr]) noSecretIn(out, 'plugin status')

  rec.answer(204)
  const firstIds = new Map(rec.deliveries.map((d) => [d.message, d.id]))
  const one = await fetch(`http://127.0.0.1:${server.httpPort}/api/hosts/localhost/plugins/mod_event_pusher_http/deliveries/replay`, {
    method: 'POST',
    headers: { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json' },
    body: JSON.stringify({ ids: [items[0].webhookId] }),
  })
  const oneText = await one.text()
  assert.deepEqual(JSON.parse(oneText), { replayed: 1, notFound: [], noHandler: [] })
  const replayed = await xmppctl(server, 'deliveries', 'replay', '--host', 'localhost', '--failed')
  assert.equal(replayed.code, 0, replayed.stderr)
  assert.match(replayed.stdout, /replayed 19/)
  for (const out of [oneText, replayed.stdout, replayed.stderr]) noSecretIn(out, 'deliveries replay')
  await rec.waitForAll(messages, 15_000)
  for (const d of rec.deliveries.filter((x) => x.status === 204)) assert.equal(d.id, firstIds.get(d.message), `${d.message}: its original webhook-id`)
  const c = await assertBalanced(server.registry, 'localhost', 5000)
  assert.deepEqual([c.accepted, c.replayed, c.sent, c.failedTotal], [20, 20, 20, 20])
})

async function gauge(server: TestServer, name: string) {
  const metric = server.registry.getSingleMetric(name)
  return ((await metric?.get())?.values ?? []).filter((v) => v.labels.host === 'localhost').reduce((n, v) => n + v.value, 0)
}

test('--since and --jid on the real plugin, a replay over XEP-0050 (an unknown id changes nothing and is named), and retention purges and counts', async () => {
  const rec = await webhookRecorder()
  rec.answer(410) // a final answer: a dead letter at the first try
  const server = await startTestServer(
    configToml({
      users: { 'alice@localhost': 'alice-pw', 'bob@localhost': 'bob-pw', 'carol@localhost': 'carol-pw', 'admin@localhost': 'admin-pw' },
      admins: ['admin@localhost'],
      extra: `
[http_connections.http_pool]
server = "${rec.url}"

[plugins.mod_event_pusher_http]
pool_name = "http_pool"
path = "/n"
dead_letter_retention = 15
`,
    }),
  )
  cleanups.push(
    () => rec.close(),
    () => server.stop(),
  )
  const alice = await chatSender(server.c2sPort, 'alice', 'alice-pw')
  cleanups.push(async () => alice.close())
  const early = bodies('early', 3)
  for (const m of early) await alice.send('bob@localhost', [m])
  await eventually(
    () => hostCounts(server.registry, 'localhost'),
    (c) => assert.equal(c.failed.status, 3),
    10_000,
  )
  await new Promise((r) => setTimeout(r, 20))
  const between = new Date().toISOString()
  await new Promise((r) => setTimeout(r, 20))
  const late = bodies('late', 2)
  for (const m of late) await alice.send('carol@localhost/phone', [m])
  await eventually(
    () => hostCounts(server.registry, 'localhost'),
    (c) => assert.equal(c.failed.status, 5),
    10_000,
  )
  assert.equal(await gauge(server, 'mod_http_notifications_dead_letters'), 5)

  const list = async (...args: string[]) => {
    const r = await xmppctl(server, 'deliveries', 'list', '--host', 'localhost', '--json', ...args)
    assert.equal(r.code, 0, r.stderr)
    return (JSON.parse(r.stdout) as { items: Array<{ webhookId: string; status: number; event: { body: string } }> }).items
  }
  const since = await list('--failed', '--since', between)
  assert.deepEqual(
    since.map((d) => d.event.body),
    [...late].reverse(),
    'failed since a time, newest first',
  )
  assert.equal((await list('--failed', '--since', '1h')).length, 5)
  assert.deepEqual(
    (await list('--failed', '--jid', 'carol@localhost')).map((d) => d.event.body).sort(),
    [...late].sort(),
    'a bare JID matches a full recipient',
  )
  assert.equal((await list('--failed', '--jid', 'alice@localhost')).length, 5, 'the sender matches too')
  assert.equal((await list('--pending')).length, 0)

  // Replay over XEP-0050 once the endpoint is fixed: one known id and one that is not a dead letter.
  rec.answer(204)
  const admin = await connectClient(server.c2sPort, 'admin@localhost', 'admin-pw')
  cleanups.push(async () => admin.stop())
  const fields = { host: 'localhost', ids: `${since[0].webhookId} not-a-dead-letter`, failed: 'false' }
  const reply = await executeCommand(admin, 'urn:xmppd:admin#deliveries-replay', fields)
  assert.deepEqual(commandResultJson(reply), { replayed: 1, notFound: ['not-a-dead-letter'], noHandler: [] })
  await rec.waitForAll([since[0].event.body], 10_000)
  assert.equal(rec.deliveries.find((d) => d.status === 204)?.id, since[0].webhookId, 'replayed with its webhook-id')

  const again = await xmppctl(server, 'deliveries', 'replay', '--host', 'localhost', '--id', since[0].webhookId)
  assert.equal(again.code, 0, again.stderr)
  assert.match(again.stdout, /replayed 0/)
  assert.match(again.stdout, new RegExp(`not a dead letter, nothing changed: ${since[0].webhookId}`))

  // The four left are purged after dead_letter_retention, and counted.
  await eventually(
    async () => [await gauge(server, 'mod_http_notifications_dead_letters'), await gauge(server, 'mod_http_notifications_dead_letters_purged_total')],
    (v) => assert.deepEqual(v, [0, 4]),
    40_000,
  )
  assert.equal((await list('--failed')).length, 0)
  const c = await assertBalanced(server.registry, 'localhost', 5000)
  assert.deepEqual([c.accepted, c.replayed, c.sent, c.failedTotal], [5, 1, 1, 5])
})
