// Dead letters on the real server, end to end: notifications that fail twice against a 500
// endpoint with retries = 1 are counted failed once each, listed by xmppctl with their last
// status and body (xmppctl, and XEP-0050 for an admin), and, once the endpoint is fixed,
// replayed with their original webhook-ids, through xmppctl and the admin API. No secret appears
// in any output.
import { test, afterEach } from 'node:test'
import assert from 'node:assert/strict'
import { bodies, chatSender } from '../helpers/chat-load.js'
import { connectClient, xml } from '../helpers/client.js'
import { assertBalanced, eventually, hostCounts } from '../helpers/metrics.js'
import { webhookRecorder } from '../helpers/webhook-recorder.js'
import { ADMIN_TOKEN, configToml, spawnBin, startTestServer, type TestServer } from '../helpers/xmppd.js'

const SECRET = 'Bearer dead-letter-secret-3c9e51'
const cleanups: Array<() => Promise<unknown>> = []
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c().catch(() => undefined)
})

async function xmppctl(server: TestServer, ...args: string[]) {
  const p = spawnBin('xmppctl', ['--url', `http://127.0.0.1:${server.httpPort}`, '--token', ADMIN_TOKEN, ...args])
  const code = await p.exit
  return { code, stdout: p.stdout(), stderr: p.stderr() }
}

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

  const listed = await xmppctl(server, 'deliveries', 'list', '--host', 'localhost', '--failed', '--json')
  assert.equal(listed.code, 0, listed.stderr)
  const { items } = JSON.parse(listed.stdout) as { items: Array<{ webhookId: string; status: number; attempts: number; event: { body: string } }> }
  assert.equal(items.length, 20)
  assert.deepEqual(items.map((d) => d.event.body).sort(), [...messages].sort())
  for (const d of items) assert.deepEqual([d.status, d.attempts], [500, 2])
  const plain = await xmppctl(server, 'deliveries', 'list', '--host', 'localhost', '--failed', '--limit', '5', '--jid', 'bob@localhost')
  assert.equal(plain.stdout.trimEnd().split('\n').length, 5)
  assert.match(plain.stdout, /HTTP 500/)
  for (const out of [listed.stdout, plain.stdout, listed.stderr]) assert.ok(!out.includes(SECRET), 'no secret in any output')

  // The same list over XMPP, for an admin (XEP-0050), with a relative --since.
  const admin = await connectClient(server.c2sPort, 'admin@localhost', 'admin-pw')
  cleanups.push(async () => admin.stop())
  const fields = { host: 'localhost', state: 'failed', since: '1h' }
  const reply = await admin.iq(
    xml(
      'iq',
      { type: 'set', to: 'localhost' },
      xml(
        'command',
        { xmlns: 'http://jabber.org/protocol/commands', node: 'urn:xmppd:admin#deliveries-list', action: 'execute' },
        xml('x', { xmlns: 'jabber:x:data', type: 'submit' }, ...Object.entries(fields).map(([k, v]) => xml('field', { var: k }, xml('value', {}, v)))),
      ),
    ),
  )
  const result = reply
    .getChild('command', 'http://jabber.org/protocol/commands')
    .getChild('x', 'jabber:x:data')
    .getChildren('field')
    .find((f: { attrs: { var: string } }) => f.attrs.var === 'result')
  const overXmpp = JSON.parse(
    result
      .getChildren('value')
      .map((v: { getText(): string }) => v.getText())
      .join('\n'),
  )
  assert.equal(overXmpp.items.length, 20)
  assert.ok(!JSON.stringify(overXmpp).includes(SECRET))

  const status = await xmppctl(server, 'plugin', 'status', '--host', 'localhost')
  assert.match(status.stdout, /dead letters: 20 /)

  rec.answer(204)
  const firstIds = new Map(rec.deliveries.map((d) => [d.message, d.id]))
  const one = await fetch(`http://127.0.0.1:${server.httpPort}/api/hosts/localhost/plugins/mod_event_pusher_http/deliveries/replay`, {
    method: 'POST',
    headers: { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json' },
    body: JSON.stringify({ ids: [items[0].webhookId] }),
  })
  assert.deepEqual(await one.json(), { replayed: 1, notFound: [] })
  const replayed = await xmppctl(server, 'deliveries', 'replay', '--host', 'localhost', '--failed')
  assert.equal(replayed.code, 0, replayed.stderr)
  assert.match(replayed.stdout, /replayed 19/)
  await rec.waitForAll(messages, 15_000)
  for (const d of rec.deliveries.filter((x) => x.status === 204)) assert.equal(d.id, firstIds.get(d.message), `${d.message}: its original webhook-id`)
  const c = await assertBalanced(server.registry, 'localhost', 5000)
  assert.deepEqual([c.accepted, c.replayed, c.sent, c.failedTotal], [20, 20, 20, 20])
})
