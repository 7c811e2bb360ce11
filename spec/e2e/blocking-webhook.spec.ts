// XEP-0191 end to end with the real plugin: a message from a blocked JID is notified by no handler,
// neither the one on user_send_packet (form, the seed's default) nor the push one on
// offline_message (only_offline_recipient, JSON), while a message from the same sender to an account
// that does not block it is notified by both. A real HTTP receiver records what was posted.
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { connectClient, xml } from '../helpers/client.js'
import { startSink, type Sink } from '../helpers/sink.js'
import { sample, startTestServer, type TestServer } from '../helpers/xmppd.js'

const USERS = { 'alice@localhost': 'pw', 'bob@localhost': 'pw', 'carol@localhost': 'pw', 'dan@localhost': 'pw' }
let sink: Sink
let server: TestServer

before(async () => {
  sink = await startSink()
  server = await startTestServer({
    users: USERS,
    extra: `
[http_connections.http_pool]
server = "${sink.url}"

[plugins.mod_event_pusher_http]
pool_name = "http_pool"

[[plugins.mod_event_pusher_http.handlers]]
name = "all"
path = "/all"

[[plugins.mod_event_pusher_http.handlers]]
name = "push"
path = "/push"
format = "json"
only_offline_recipient = true
`,
  })
})
after(async () => {
  await server?.stop()
  await sink?.close()
})

const block = async (user: string, jid: string) => {
  const c = await connectClient(server.c2sPort, user, 'pw', { resource: 'blocker' })
  const res = await c.iq(xml('iq', { type: 'set' }, xml('block', { xmlns: 'urn:xmpp:blocking' }, xml('item', { jid }))))
  assert.equal(res.attrs.type, 'result')
  return c
}

test('a blocked message is notified by no handler; the same sender to another account is', async () => {
  const alice = await block('alice@localhost', 'bob@localhost') // online, blocks bob
  await (await block('carol@localhost', 'bob@localhost')).stop() // offline, blocks bob
  const bob = await connectClient(server.c2sPort, 'bob@localhost', 'pw')
  await bob.chat('alice@localhost', 'blocked, online recipient')
  await bob.chat('carol@localhost', 'blocked, offline recipient')
  await bob.chat('dan@localhost', 'visible, offline recipient') // dan: offline, blocks nobody
  const requests = await sink.waitFor(2, 10_000)
  const posted = requests.map((r) => [r.url, r.url === '/all' ? r.form.message : JSON.parse(r.body).body])
  assert.deepEqual(posted.sort(), [
    ['/all', 'visible, offline recipient'],
    ['/push', 'visible, offline recipient'],
  ])
  // The hooks run synchronously, in the order bob's stream carried the messages: had a blocked one
  // fired user_send_packet or offline_message, it would have been accepted before the visible one.
  const text = await server.metricsText()
  assert.equal(sample(text, 'mod_http_notifications_accepted_total', { host: 'localhost' }), 2)
  assert.equal(sample(text, 'xmppd_blocked_stanzas_total', { host: 'localhost', direction: 'in' }), 2)
  assert.equal(sample(text, 'xmppd_offline_messages', { host: 'localhost' }), 1, "only dan's message is kept")
  assert.equal(alice.received.filter((s) => s.getChildText?.('body')).length, 0)
  await Promise.all([alice.stop(), bob.stop()])
})
