// XEP-0280 message carbons on the real server with real clients (@xmpp/client): enable and disable,
// <received/> copies to the resources that did not get a message, <sent/> copies of what another
// resource sent, the <private/> hint, and disco#info.
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { connectClient, xml, type TestClient } from '../helpers/client.js'
import { startTestServer, type TestServer } from '../helpers/xmppd.js'

const NS = 'urn:xmpp:carbons:2'
const NS_FORWARD = 'urn:xmpp:forward:0'
const USERS = { 'alice@localhost': 'alice-pw', 'bob@localhost': 'bob-pw' }
let server: TestServer

before(async () => {
  server = await startTestServer({ users: USERS })
})
after(() => server.stop())

const carbons = (c: TestClient, kind: 'sent' | 'received') => c.received.filter((s) => s.is('message') && s.getChild(kind, NS))
/** The message inside a carbon. */
const inner = (s: any) =>
  s.getChild('sent', NS)?.getChild('forwarded', NS_FORWARD)?.getChild('message') ??
  s.getChild('received', NS)?.getChild('forwarded', NS_FORWARD)?.getChild('message')
/** A ping round trip: whatever the server sent the client before the answer has arrived. */
const settle = (c: TestClient) => c.iq(xml('iq', { type: 'get', to: 'localhost' }, xml('ping', { xmlns: 'urn:xmpp:ping' })))

async function enable(c: TestClient, what: 'enable' | 'disable' = 'enable'): Promise<void> {
  const res = await c.iq(xml('iq', { type: 'set' }, xml(what, { xmlns: NS })))
  assert.equal(res.attrs.type, 'result', `${what}: ${res}`)
}

test('the server advertises urn:xmpp:carbons:2', async () => {
  const alice = await connectClient(server.c2sPort, 'alice@localhost', 'alice-pw')
  const res = await alice.iq(xml('iq', { type: 'get', to: 'localhost' }, xml('query', { xmlns: 'http://jabber.org/protocol/disco#info' })))
  const features = res
    .getChild('query')
    .getChildren('feature')
    .map((f: any) => f.attrs.var)
  assert.ok(features.includes(NS), features.join(' '))
  await alice.stop()
})

test('received: a message to one resource is copied to the other enabled ones; sent: what one resource sends is copied to the others', async () => {
  const a = await connectClient(server.c2sPort, 'alice@localhost', 'alice-pw', { resource: 'a' })
  const b = await connectClient(server.c2sPort, 'alice@localhost', 'alice-pw', { resource: 'b' })
  const c = await connectClient(server.c2sPort, 'alice@localhost', 'alice-pw', { resource: 'c' })
  const bob = await connectClient(server.c2sPort, 'bob@localhost', 'bob-pw', { resource: 'desk' })
  await enable(a)
  await enable(b)

  await bob.chat('alice@localhost/a', 'to a only')
  await a.next((s) => s.getChildText?.('body') === 'to a only')
  const got = await b.next((s) => s.is('message') && inner(s)?.getChildText('body') === 'to a only')
  assert.equal(got.attrs.from, 'alice@localhost', 'from the bare JID')
  assert.equal(got.attrs.to, 'alice@localhost/b')
  assert.equal(got.attrs.type, 'chat')
  assert.ok(got.getChild('received', NS))
  assert.equal(inner(got).attrs.from, 'bob@localhost/desk')
  assert.equal(inner(got).attrs.to, 'alice@localhost/a')
  await Promise.all([settle(a), settle(c)])
  assert.equal(carbons(a, 'received').length, 0, 'the resource that got it gets no copy')
  assert.equal(carbons(c, 'received').length, 0, 'carbons not enabled: no copy')
  assert.deepEqual(
    c.received.filter((s) => s.getChildText?.('body')),
    [],
    'c got neither the message nor a copy',
  )

  await a.chat('bob@localhost/desk', 'from a')
  await bob.next((s) => s.getChildText?.('body') === 'from a')
  const sent = await b.next((s) => s.is('message') && s.getChild('sent', NS))
  assert.equal(sent.attrs.from, 'alice@localhost')
  assert.equal(inner(sent).getChildText('body'), 'from a')
  assert.equal(inner(sent).attrs.from, 'alice@localhost/a')
  assert.equal(inner(sent).attrs.to, 'bob@localhost/desk')
  await Promise.all([settle(a), settle(c), settle(bob)])
  assert.equal(carbons(a, 'sent').length, 0, 'the sender gets no copy of its own message')
  assert.equal(carbons(c, 'sent').length, 0)
  assert.equal(carbons(bob, 'sent').length + carbons(bob, 'received').length, 0, 'bob has no carbons enabled')
  await Promise.all([a.stop(), b.stop(), c.stop(), bob.stop()])
})

test('a message to the bare JID: only resources that did not get it (negative priority) get a <received/> copy', async () => {
  const a = await connectClient(server.c2sPort, 'alice@localhost', 'alice-pw', { resource: 'a2' })
  const low = await connectClient(server.c2sPort, 'alice@localhost', 'alice-pw', { resource: 'low' })
  const bob = await connectClient(server.c2sPort, 'bob@localhost', 'bob-pw')
  await enable(a)
  await enable(low)
  await low.send(xml('presence', {}, xml('priority', {}, '-1')))
  await settle(low)
  await bob.chat('alice@localhost', 'to the bare JID')
  await a.next((s) => s.getChildText?.('body') === 'to the bare JID')
  const copy = await low.next((s) => s.is('message') && s.getChild('received', NS))
  assert.equal(inner(copy).getChildText('body'), 'to the bare JID')
  await settle(a)
  assert.equal(carbons(a, 'received').length, 0)
  await Promise.all([a.stop(), low.stop(), bob.stop()])
})

test('<private/> and a disabled resource get no copies; a bad request is refused', async () => {
  const a = await connectClient(server.c2sPort, 'alice@localhost', 'alice-pw', { resource: 'a3' })
  const b = await connectClient(server.c2sPort, 'alice@localhost', 'alice-pw', { resource: 'b3' })
  const bob = await connectClient(server.c2sPort, 'bob@localhost', 'bob-pw', { resource: 'r' })
  await enable(b)
  await a.send(xml('message', { to: 'bob@localhost/r', type: 'chat', id: 'p1' }, xml('body', {}, 'private'), xml('private', { xmlns: NS })))
  await bob.next((s) => s.getChildText?.('body') === 'private')
  await settle(b)
  assert.equal(carbons(b, 'sent').length, 0, '<private/>: no copy')

  await enable(b, 'disable')
  await a.chat('bob@localhost/r', 'after disable')
  await bob.next((s) => s.getChildText?.('body') === 'after disable')
  await settle(b)
  assert.equal(carbons(b, 'sent').length, 0, 'disabled: no copy')

  await enable(b)
  await a.chat('bob@localhost/r', 'enabled again')
  const copy = await b.next((s) => s.is('message') && s.getChild('sent', NS))
  assert.equal(inner(copy).getChildText('body'), 'enabled again')

  const bad = await a.iq(xml('iq', { type: 'get' }, xml('enable', { xmlns: NS })))
  assert.equal(bad.attrs.type, 'error')
  assert.ok(bad.getChild('error').getChild('bad-request', 'urn:ietf:params:xml:ns:xmpp-stanzas'))
  const other = await a.iq(xml('iq', { type: 'set', to: 'bob@localhost' }, xml('enable', { xmlns: NS })))
  assert.equal(other.attrs.type, 'error', "another account's carbons cannot be enabled")
  await Promise.all([a.stop(), b.stop(), bob.stop()])
})
