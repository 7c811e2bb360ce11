// The admin operations over XMPP (XEP-0050 ad-hoc commands, advertised the XEP-0133 way):
// they work for an account in general.admins and are forbidden to anyone else.
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { connectClient, xml, type TestClient } from '../helpers/client.js'
import { startSink, type Sink } from '../helpers/sink.js'
import { startTestServer, type TestServer } from '../helpers/xmppd.js'

const NS = 'http://jabber.org/protocol/commands'
let sink: Sink
let server: TestServer
let admin: TestClient
let alice: TestClient

before(async () => {
  sink = await startSink()
  server = await startTestServer({
    users: { 'admin@localhost': 'admin-pw', 'alice@localhost': 'alice-pw', 'bob@localhost': 'bob-pw' },
    admins: ['admin@localhost'],
    extra: `[http_connections.http_pool]\nserver = "${sink.url}"\n[plugins.mod_event_pusher_http]\npool_name = "http_pool"\npath = "/n"\n`,
  })
  admin = await connectClient(server.c2sPort, 'admin@localhost', 'admin-pw')
  alice = await connectClient(server.c2sPort, 'alice@localhost', 'alice-pw')
})
after(async () => {
  await Promise.all([admin.stop(), alice.stop()])
  await server.stop()
  await sink.close()
})

const run = (c: TestClient, node: string, fields?: Record<string, string>, extra: Record<string, string> = {}) =>
  c.iq(
    xml(
      'iq',
      { type: 'set', to: 'localhost' },
      xml(
        'command',
        { xmlns: NS, node: `urn:xmppd:admin#${node}`, action: 'execute', ...extra },
        fields
          ? xml('x', { xmlns: 'jabber:x:data', type: 'submit' }, ...Object.entries(fields).map(([k, v]) => xml('field', { var: k }, xml('value', {}, v))))
          : undefined,
      ),
    ),
  )

test('commands are advertised in disco to admins', async () => {
  const info = await admin.iq(xml('iq', { type: 'get', to: 'localhost' }, xml('query', { xmlns: 'http://jabber.org/protocol/disco#info' })))
  assert.ok(
    info
      .getChild('query')
      .getChildren('feature')
      .some((f: any) => f.attrs.var === NS),
  )
  const items = await admin.iq(xml('iq', { type: 'get', to: 'localhost' }, xml('query', { xmlns: 'http://jabber.org/protocol/disco#items', node: NS })))
  const nodes = items
    .getChild('query')
    .getChildren('item')
    .map((i: any) => i.attrs.node)
  assert.deepEqual(
    nodes,
    // The host's own, then those plugin.json declares (run on the vhost the form names).
    ['plugin-list', 'plugin-enable', 'plugin-disable', 'plugin-status', 'reload', 'deliveries-list', 'deliveries-replay'].map((n) => `urn:xmppd:admin#${n}`),
  )
  const forAlice = await alice.iq(xml('iq', { type: 'get', to: 'localhost' }, xml('query', { xmlns: 'http://jabber.org/protocol/disco#items', node: NS })))
  assert.equal(forAlice.getChild('query').getChildren('item').length, 0)
})

test('an admin disables and enables the plugin in two steps (form, then complete)', async () => {
  const first = await run(admin, 'plugin-disable')
  const cmd = first.getChild('command', NS)
  assert.equal(cmd.attrs.status, 'executing')
  const fields = cmd
    .getChild('x', 'jabber:x:data')
    .getChildren('field')
    .map((f: any) => f.attrs.var)
  assert.deepEqual(fields, ['plugin', 'host'])
  const done = await run(
    admin,
    'plugin-disable',
    { plugin: 'mod_event_pusher_http', host: 'localhost' },
    { sessionid: cmd.attrs.sessionid, action: 'complete' },
  )
  assert.equal(done.getChild('command', NS).attrs.status, 'completed')
  assert.match(done.getChild('command', NS).getChildText('note'), /disabled on localhost/)
  assert.equal(server.loader.list('localhost')[0].enabled, false)

  const bob = await connectClient(server.c2sPort, 'bob@localhost', 'bob-pw')
  await alice.chat('bob@localhost', 'while off')
  await bob.next((s) => s.getChildText?.('body') === 'while off')
  await new Promise((r) => setTimeout(r, 100))
  assert.equal(sink.requests.length, 0)

  const on = await run(admin, 'plugin-enable', { plugin: 'mod_event_pusher_http', host: 'localhost' })
  assert.equal(on.getChild('command', NS).attrs.status, 'completed')
  await alice.chat('bob@localhost', 'back on')
  await sink.waitFor(1)
  assert.equal(sink.requests[0].form.message, 'back on')
  await bob.stop()

  const again = await run(admin, 'plugin-enable', { plugin: 'mod_event_pusher_http', host: 'localhost' })
  const note = again.getChild('command', NS).getChild('note')
  assert.equal(note.attrs.type, 'error')
  assert.match(note.getText(), /already enabled/)
})

test('status and list answer with text notes', async () => {
  const status = await run(admin, 'plugin-status', { host: 'localhost' })
  assert.match(status.getChild('command', NS).getChildText('note'), /\[localhost, mod_http_notifications, sent\]\s+1/)
  const list = await run(admin, 'plugin-list')
  assert.match(list.getChild('command', NS).getChildText('note'), /mod_event_pusher_http.*localhost.*enabled/)
})

test('anyone else is forbidden, and nothing changes', async () => {
  const r = await run(alice, 'plugin-disable', { plugin: 'mod_event_pusher_http', host: 'localhost' })
  assert.equal(r.attrs.type, 'error')
  assert.ok(r.getChild('error').getChild('forbidden'))
  assert.equal(server.loader.list('localhost')[0].enabled, true)
  const unknown = await run(admin, 'no-such-command')
  assert.ok(unknown.getChild('error').getChild('item-not-found'))
})
