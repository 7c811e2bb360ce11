// Issue 6's filters without code on the real xmppd, with real clients and a real receiver:
// groupchat, presence (user_available / user_unavailable), only_offline_recipient (issue 15: fed
// by offline_message when the server keeps a message; its JSON stanza_id is the one the recipient
// gets), and the sender_hosts / recipients allow-lists. One vhost per configuration (names the fixture
// certificate covers); every spec ends balanced for the vhosts it used.
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { Ajv } from 'ajv'
import { connectClient, xml } from '../helpers/client.js'
import { assertBalanced, eventually, hostCounts } from '../helpers/metrics.js'
import { startSink, type Sink } from '../helpers/sink.js'
import { startTestServer, type TestServer } from '../helpers/xmppd.js'

const ajv = new Ajv({ allErrors: true, strict: true })
ajv.addFormat('date-time', (s: string) => !Number.isNaN(Date.parse(s)))
const validPayload = ajv.compile(JSON.parse(readFileSync(new URL('../../docs/webhook-payload.schema.json', import.meta.url), 'utf8')))

let sink: Sink
let server: TestServer

before(async () => {
  sink = await startSink()
  server = await startTestServer({
    hosts: ['a.test', 'b.test', 'c.test', 'd.test'],
    users: {
      'gina@a.test': 'pw',
      'gus@a.test': 'pw',
      'pam@b.test': 'pw',
      'pete@b.test': 'pw',
      'olive@c.test': 'pw',
      'otto@c.test': 'pw',
      'orla@c.test': 'pw',
      'dora@d.test': 'pw',
      'dirk@d.test': 'pw',
      'dana@d.test': 'pw',
    },
    extra: `
[http_connections.http_pool]
server = "${sink.url}"

[plugins.mod_event_pusher_http]
pool_name = "http_pool"

[host_config."a.test".plugins.mod_event_pusher_http]
path = "/group"
types = ["chat", "groupchat"]

[host_config."b.test".plugins.mod_event_pusher_http]
path = "/presence"
format = "json"
events = ["presence"]

[[host_config."c.test".plugins.mod_event_pusher_http.handlers]]
path = "/offline"
only_offline_recipient = true

[[host_config."c.test".plugins.mod_event_pusher_http.handlers]]
path = "/offline-json"
format = "json"
only_offline_recipient = true

# The sender is always a user of the vhost whose hook runs: sender_hosts tells apart the vhosts
# sharing one section; here a second handler that lists another vhost only.
[[host_config."d.test".plugins.mod_event_pusher_http.handlers]]
path = "/allow"
sender_hosts = ["d.test"]
recipients = ["dana@d.test"]

[[host_config."d.test".plugins.mod_event_pusher_http.handlers]]
path = "/elsewhere"
sender_hosts = ["a.test"]
`,
  })
})

after(async () => {
  await server.stop()
  await sink.close()
})

const at = (url: string) => sink.requests.filter((r) => r.url === url)
const connect = (j: string, resource?: string) => connectClient(server.c2sPort, j, 'pw', { resource })

test('types = ["chat", "groupchat"]: groupchat and chat are notified (extended form), headline and normal are not', async () => {
  const [gina, gus] = await Promise.all([connect('gina@a.test', 'desk'), connect('gus@a.test')])
  await gina.send(xml('message', { to: 'gus@a.test', type: 'groupchat' }, xml('body', {}, 'to the group')))
  await gina.send(xml('message', { to: 'gus@a.test', type: 'headline' }, xml('body', {}, 'headline')))
  await gina.send(xml('message', { to: 'gus@a.test' }, xml('body', {}, 'normal')))
  await gina.chat('gus@a.test', 'a chat')
  await gus.next((s) => s.getChildText?.('body') === 'a chat')
  await eventually(
    () => at('/group').length,
    (n) => assert.equal(n, 2),
  )
  await new Promise((r) => setTimeout(r, 100))
  assert.deepEqual(
    at('/group').map((r) => r.fields),
    [
      [
        ['author', 'gina'],
        ['server', 'a.test'],
        ['receiver', 'gus'],
        ['message', 'to the group'],
        ['event', 'message'],
        ['type', 'groupchat'],
      ],
      [
        ['author', 'gina'],
        ['server', 'a.test'],
        ['receiver', 'gus'],
        ['message', 'a chat'],
        ['event', 'message'],
        ['type', 'chat'],
      ],
    ],
  )
  const c = await assertBalanced(server.registry, 'a.test')
  assert.equal(c.accepted, 2)
  await Promise.all([gina.stop(), gus.stop()])
})

test('events = ["presence"]: a resource coming online and going offline, as JSON; messages are not notified', async () => {
  const pam = await connect('pam@b.test', 'laptop')
  const available = await eventually(
    () => at('/presence'),
    (list) => assert.equal(list.length, 1),
  )
  const pete = await connect('pete@b.test')
  await pam.chat('pete@b.test', 'not notified')
  await pete.next((s) => s.getChildText?.('body') === 'not notified')
  await pam.stop()
  await eventually(
    () => at('/presence').length,
    (n) => assert.equal(n, 3),
  )
  const docs = at('/presence').map((r) => JSON.parse(r.body))
  for (const d of docs) assert.ok(validPayload(d), JSON.stringify(validPayload.errors))
  assert.deepEqual(
    docs.map((d) => [d.event, d.type, d.from, d.to, d.from_bare, d.to_bare, d.id, d.body]),
    [
      ['presence', 'available', 'pam@b.test/laptop', 'b.test', 'pam@b.test', 'b.test', null, null],
      ['presence', 'available', 'pete@b.test/spec', 'b.test', 'pete@b.test', 'b.test', null, null],
      ['presence', 'unavailable', 'pam@b.test/laptop', 'b.test', 'pam@b.test', 'b.test', null, null],
    ],
  )
  assert.equal(available[0].headers['content-type'], 'application/json')
  const c = await assertBalanced(server.registry, 'b.test')
  assert.deepEqual([c.accepted, c.sent], [3, 3])
  await pete.stop()
})

// Needs the server side of issue 15 (offline storage firing offline_message, XEP-0359 stanza ids:
// branch `offline`); on the plugin branch alone it fails (the server bounces, no hook fires).
test('only_offline_recipient = true: one push per message the server keeps, none for one delivered live, bounced or dropped', async () => {
  const [olive, otto] = await Promise.all([connect('olive@c.test'), connect('otto@c.test')])
  await olive.chat('otto@c.test', 'otto is online')
  await otto.next((s) => s.getChildText?.('body') === 'otto is online')
  await olive.chat('orla@c.test', 'orla is offline') // kept: offline_message
  await olive.send(xml('message', { to: 'orla@c.test', type: 'headline' }, xml('body', {}, 'a headline'))) // not kept
  await olive.chat('nobody@c.test', 'no such account') // bounced
  await olive.next((s) => s.is('message') && s.attrs.type === 'error' && s.attrs.from === 'nobody@c.test')
  await eventually(
    () => [at('/offline').length, at('/offline-json').length],
    (n) => assert.deepEqual(n, [1, 1]),
  )

  // orla logs in: the stored message, stamped, with the stanza id its push carried.
  const orla = await connect('orla@c.test')
  const stored = await orla.next((s) => s.getChildText?.('body') === 'orla is offline')
  assert.deepEqual(
    olive.received.filter((s) => s.is('message') && s.attrs.type === 'error').map((s) => s.attrs.from),
    ['nobody@c.test'],
    'kept, not bounced',
  )
  assert.ok(stored.getChild('delay', 'urn:xmpp:delay'), 'XEP-0203 delay')
  const sid = stored.getChildren('stanza-id', 'urn:xmpp:sid:0').find((c: any) => c.attrs.by === 'orla@c.test')
  assert.ok(sid?.attrs.id, `a stanza-id by orla@c.test: ${stored}`)
  const [push] = at('/offline-json').map((r) => JSON.parse(r.body) as Record<string, unknown>)
  assert.ok(validPayload(push), JSON.stringify(validPayload.errors))
  assert.deepEqual(
    [push.event, push.host, push.from, push.to, push.type, push.body, push.stanza_id],
    ['message', 'c.test', olive.jid, 'orla@c.test', 'chat', 'orla is offline', sid.attrs.id],
  )
  await olive.chat('orla@c.test', 'orla is back') // live: nothing
  await orla.next((s) => s.getChildText?.('body') === 'orla is back')

  // Gone, or connected without an initial presence (not available): kept, pushed.
  await otto.stop()
  await olive.chat('otto@c.test', 'otto left')
  await eventually(
    () => at('/offline').length,
    (n) => assert.equal(n, 2),
  )
  const quiet = await connectClient(server.c2sPort, 'otto@c.test', 'pw', { presence: false })
  await olive.chat('otto@c.test', 'otto is not available')
  await eventually(
    () => at('/offline').length,
    (n) => assert.equal(n, 3),
  )
  // From another vhost: pushed by the recipient's (c.test), the form's server is the sender's domain.
  const gina = await connect('gina@a.test', 'cross')
  await gina.chat('otto@c.test', 'from a.test')
  await eventually(
    () => at('/offline').length,
    (n) => assert.equal(n, 4),
  )
  await new Promise((r) => setTimeout(r, 100))
  assert.deepEqual(
    at('/offline').map((r) => [r.form.server, r.form.receiver, r.form.message]),
    [
      ['c.test', 'orla', 'orla is offline'],
      ['c.test', 'otto', 'otto left'],
      ['c.test', 'otto', 'otto is not available'],
      ['a.test', 'otto', 'from a.test'],
    ],
  )
  assert.equal(at('/offline')[0].fields.length, 4, 'the seed form')
  assert.equal(at('/offline-json').length, 4)
  const c = await assertBalanced(server.registry, 'c.test')
  assert.deepEqual([c.accepted, c.sent], [8, 8])
  await Promise.all([olive.stop(), orla.stop(), quiet.stop(), gina.stop()])
})

test('sender_hosts and recipients: only messages from an allowed domain to an allowed bare JID', async () => {
  const [dora, dirk, dana] = await Promise.all([connect('dora@d.test'), connect('dirk@d.test'), connect('dana@d.test', 'tablet')])
  const start = await hostCounts(server.registry, 'd.test')
  await dora.chat('dirk@d.test', 'to dirk')
  await dora.chat('dana@d.test/tablet', 'to dana')
  await dana.next((s) => s.getChildText?.('body') === 'to dana')
  await eventually(
    () => at('/allow').length,
    (n) => assert.equal(n, 1),
  )
  await new Promise((r) => setTimeout(r, 100))
  assert.deepEqual(
    at('/allow').map((r) => r.form),
    [{ author: 'dora', server: 'd.test', receiver: 'dana', message: 'to dana' }],
  )
  assert.equal(at('/elsewhere').length, 0)
  const c = await assertBalanced(server.registry, 'd.test')
  assert.equal(c.accepted - start.accepted, 1)
  await Promise.all([dora.stop(), dirk.stop(), dana.stop()])
})
