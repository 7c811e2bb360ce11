// The hook registry on the real server: arguments, order, isolation per vhost, throwing
// handlers; and plugin instances started and stopped on one vhost while the server runs.
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import type { Element, JID } from '../../lib/contract.js'
import { connectClient, xml } from '../helpers/client.js'
import { startSink, type Sink } from '../helpers/sink.js'
import { startTestServer, type TestServer } from '../helpers/xmppd.js'

let server: TestServer
let sink: Sink

before(async () => {
  sink = await startSink()
  server = await startTestServer({
    hosts: ['a.test', 'b.test'],
    users: { 'alice@a.test': 'pw', 'bob@a.test': 'pw', 'carl@b.test': 'pw', 'dora@b.test': 'pw' },
    extra: `
[http_connections.http_pool]
server = "${sink.url}"
path_prefix = "/hooks"

[plugins.mod_event_pusher_http]
pool_name = "http_pool"
path = "/n"
`,
  })
})
after(async () => {
  await server.stop()
  await sink.close()
})

test('user_send_packet gets the stanza, the sender full JID and the recipient, on the sender vhost only', async () => {
  const seen: Array<{ name: string; from: string; to: string; attrs: Record<string, unknown> }> = []
  const other: string[] = []
  const offA = server.hooksOf('a.test')!.on('user_send_packet', (p: Element, from: JID, to: JID) => {
    seen.push({ name: p.name, from: from.toString(), to: to.toString(), attrs: { ...p.attrs } })
  })
  const offB = server.hooksOf('b.test')!.on('user_send_packet', (p: Element) => void other.push(p.name))
  const alice = await connectClient(server.c2sPort, 'alice@a.test', 'pw', { resource: 'r', presence: false })
  const bob = await connectClient(server.c2sPort, 'bob@a.test', 'pw') // available: messages to the bare JID reach it
  await alice.send(xml('presence'))
  await alice.chat('bob@a.test', 'hi')
  await alice.iq(xml('iq', { type: 'get', to: 'a.test' }, xml('ping', { xmlns: 'urn:xmpp:ping' })))
  await bob.next((s) => s.getChildText?.('body') === 'hi')
  offA()
  offB()
  const mine = seen.filter((s) => s.from === 'alice@a.test/r')
  assert.deepEqual(
    mine.map((s) => [s.name, s.to]),
    [
      ['presence', 'a.test'], // no `to`: the sender's vhost
      ['message', 'bob@a.test'],
      ['iq', 'a.test'],
    ],
  )
  for (const s of mine) {
    assert.equal(s.attrs.from, 'alice@a.test/r')
    assert.equal(s.attrs['xmlns:stream'], undefined)
  }
  assert.deepEqual(other, [])
  await Promise.all([alice.stop(), bob.stop()])
})

test('user_available and user_unavailable fire with the full JID', async () => {
  const events: string[] = []
  const hooks = server.hooksOf('b.test')!
  const offs = [hooks.on('user_available', (j: JID) => void events.push(`up ${j}`)), hooks.on('user_unavailable', (j: JID) => void events.push(`down ${j}`))]
  const carl = await connectClient(server.c2sPort, 'carl@b.test', 'pw', { resource: 'desk' })
  await carl.send(xml('presence', {}, xml('show', {}, 'away'))) // an update: no second user_available
  await carl.iq(xml('iq', { type: 'get', to: 'b.test' }, xml('ping', { xmlns: 'urn:xmpp:ping' })))
  await carl.stop()
  const deadline = Date.now() + 2000
  while (events.length < 2 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10))
  offs.forEach((off) => off())
  assert.deepEqual(events, ['up carl@b.test/desk', 'down carl@b.test/desk'])
})

test('a throwing handler is logged and skipped; later handlers and routing go on', async () => {
  const hooks = server.hooksOf('a.test')!
  const after: string[] = []
  const offs = [
    hooks.on('user_send_packet', () => {
      throw new Error('boom from a spec handler')
    }),
    hooks.on('user_send_packet', (p: Element) => void after.push(p.name)),
  ]
  const alice = await connectClient(server.c2sPort, 'alice@a.test', 'pw', { presence: false })
  const bob = await connectClient(server.c2sPort, 'bob@a.test', 'pw')
  await alice.chat('bob@a.test', 'despite the throw')
  await bob.next((s) => s.getChildText?.('body') === 'despite the throw')
  offs.forEach((off) => off())
  assert.ok(after.includes('message'))
  assert.ok(server.logs.some((l) => l.msg === 'hook handler failed' && JSON.stringify(l.err).includes('boom from a spec handler')))
  await Promise.all([alice.stop(), bob.stop()])
})

test('unknown hook names are refused', () => {
  assert.throws(() => server.hooksOf('a.test')!.on('user_sneezes' as 'user_available', () => undefined), { code: 'XMPPD_ERR_HOOK_UNKNOWN' })
})

test('a plugin instance stops and starts on one vhost at runtime; the other vhost is untouched', async () => {
  const alice = await connectClient(server.c2sPort, 'alice@a.test', 'pw', { presence: false })
  const carl = await connectClient(server.c2sPort, 'carl@b.test', 'pw', { presence: false })
  // Recipients send their initial presence: a bound session without one takes no messages to its bare JID.
  const bob = await connectClient(server.c2sPort, 'bob@a.test', 'pw')
  const dora = await connectClient(server.c2sPort, 'dora@b.test', 'pw')
  const bodies = () => sink.requests.map((r) => r.form.message)

  await server.loader.disable('mod_event_pusher_http', 'a.test')
  assert.equal(server.hooksOf('a.test')!.has('user_send_packet'), false, 'its hook is gone')
  await alice.chat('bob@a.test', 'while disabled')
  await carl.chat('dora@b.test', 'b still on')
  await bob.next((s) => s.getChildText?.('body') === 'while disabled') // delivery goes on
  await sink.waitFor(sink.requests.length + 1)
  await dora.next((s) => s.getChildText?.('body') === 'b still on')
  await new Promise((r) => setTimeout(r, 100))
  assert.ok(bodies().includes('b still on'))
  assert.ok(!bodies().includes('while disabled'))

  await server.loader.enable('mod_event_pusher_http', 'a.test')
  await alice.chat('bob@a.test', 'enabled again')
  await sink.waitFor(bodies().length + 1)
  assert.ok(bodies().includes('enabled again'))
  await assert.rejects(server.loader.enable('mod_event_pusher_http', 'a.test'), { code: 'XMPPD_ERR_PLUGIN_STATE' })
  await assert.rejects(server.loader.enable('mod_event_pusher_http', 'nope.test'), { code: 'XMPPD_ERR_VHOST_UNKNOWN' })
  await Promise.all([alice.stop(), carl.stop(), bob.stop(), dora.stop()])
})
