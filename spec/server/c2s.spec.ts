// Real clients against the real server: login, bind, routing and the errors of RFC 6120/6121.
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { connectClient, xml } from '../helpers/client.js'
import { RawXmpp } from '../helpers/raw-xmpp.js'
import { sendxmpp } from '../helpers/sendxmpp.js'
import { startTestServer, type TestServer } from '../helpers/xmppd.js'

let server: TestServer

before(async () => {
  server = await startTestServer({
    hosts: ['localhost', 'example.com'],
    users: { 'alice@localhost': 'alice-pw', 'bob@localhost': 'bob-pw', 'carol@localhost': 'carol-pw', 'dave@example.com': 'dave-pw' },
    // The shared roster (everyone on a vhost sees everyone): the stored one is roster.spec.ts's.
    general: { roster: 'shared' },
  })
})
after(() => server.stop())

test('a good password logs in and binds the requested resource', async () => {
  const alice = await connectClient(server.c2sPort, 'alice@localhost', 'alice-pw', { resource: 'phone' })
  assert.equal(alice.jid, 'alice@localhost/phone')
  await alice.stop()
})

test('a wrong password is refused with not-authorized', async () => {
  await assert.rejects(connectClient(server.c2sPort, 'alice@localhost', 'wrong'), /not-authorized/)
  await assert.rejects(connectClient(server.c2sPort, 'nobody@localhost', 'x'), /not-authorized/)
})

test('the server picks a resource when the client asks for none', async () => {
  const raw = await RawXmpp.connect(server.c2sPort)
  await raw.openStream()
  await raw.starttls()
  assert.match(await raw.auth('bob', 'bob-pw'), /^<success/)
  await raw.openStream()
  assert.match(raw.received, /<bind xmlns="urn:ietf:params:xml:ns:xmpp-bind"/)
  raw.send(`<iq type='set' id='b'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'/></iq>`)
  const [, jid] = await raw.waitFor(/<jid>([^<]+)<\/jid>/)
  assert.match(jid, /^bob@localhost\/[0-9a-f]{12}$/)
  raw.send(`<iq type='set' id='s'><session xmlns='urn:ietf:params:xml:ns:xmpp-session'/></iq>`)
  await raw.waitFor(/<iq[^>]*id="s"[^>]*type="result"|<iq[^>]*type="result"[^>]*id="s"/)
  raw.close()
})

test('messages route to a bare JID (available resources) and to a full JID', async () => {
  const alice = await connectClient(server.c2sPort, 'alice@localhost', 'alice-pw', { resource: 'a' })
  const bob1 = await connectClient(server.c2sPort, 'bob@localhost', 'bob-pw', { resource: 'one' })
  const bob2 = await connectClient(server.c2sPort, 'bob@localhost', 'bob-pw', { resource: 'two' })
  await alice.chat('bob@localhost', 'to every resource')
  for (const bob of [bob1, bob2]) {
    const m = await bob.next((s) => s.is('message') && s.getChildText('body') === 'to every resource')
    assert.equal(m.attrs.from, 'alice@localhost/a')
  }
  await alice.chat('bob@localhost/two', 'only two')
  const m = await bob2.next((s) => s.is('message') && s.getChildText('body') === 'only two')
  assert.equal(m.attrs.to, 'bob@localhost/two')
  await new Promise((r) => setTimeout(r, 100))
  assert.equal(bob1.received.filter((s) => s.getChildText?.('body') === 'only two').length, 0)
  // A full JID that is not online falls back to the bare JID for chat.
  await alice.chat('bob@localhost/gone', 'fallback')
  await bob1.next((s) => s.getChildText?.('body') === 'fallback')
  await Promise.all([alice.stop(), bob1.stop(), bob2.stop()])
})

test('a spoofed from is replaced by the authenticated full JID', async () => {
  const alice = await connectClient(server.c2sPort, 'alice@localhost', 'alice-pw', { resource: 'a' })
  const bob = await connectClient(server.c2sPort, 'bob@localhost', 'bob-pw')
  await alice.send(xml('message', { to: 'bob@localhost', from: 'carol@localhost/x', type: 'chat' }, xml('body', {}, 'who am i')))
  const m = await bob.next((s) => s.getChildText?.('body') === 'who am i')
  assert.equal(m.attrs.from, 'alice@localhost/a')
  await Promise.all([alice.stop(), bob.stop()])
})

test('unknown user and unknown domain get the proper errors (an offline account keeps it: offline.spec.ts)', async () => {
  const alice = await connectClient(server.c2sPort, 'alice@localhost', 'alice-pw')
  const cases: Array<[string, string]> = [
    ['nobody@localhost', 'service-unavailable'], // no such account
    ['someone@elsewhere.org', 'remote-server-not-found'], // not a vhost of ours
  ]
  for (const [to, condition] of cases) {
    await alice.send(xml('message', { to, type: 'chat', id: `e-${to}` }, xml('body', {}, 'hello?')))
    const err = await alice.next((s) => s.is('message') && s.attrs.id === `e-${to}`)
    assert.equal(err.attrs.type, 'error')
    assert.equal(err.attrs.from, to)
    assert.ok(err.getChild('error').getChild(condition, 'urn:ietf:params:xml:ns:xmpp-stanzas'), `${to}: ${err}`)
  }
  await alice.stop()
})

test('vhosts are separate but route to each other; a stream to an unknown host is refused', async () => {
  const alice = await connectClient(server.c2sPort, 'alice@localhost', 'alice-pw')
  const dave = await connectClient(server.c2sPort, 'dave@example.com', 'dave-pw')
  await alice.chat('dave@example.com', 'across vhosts')
  await dave.next((s) => s.getChildText?.('body') === 'across vhosts')
  await Promise.all([alice.stop(), dave.stop()])
  const raw = await RawXmpp.connect(server.c2sPort, 'unknown.example')
  raw.send(`<?xml version='1.0'?><stream:stream to='unknown.example' xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' version='1.0'>`)
  await raw.waitFor(/<host-unknown/)
  await raw.waitClosed()
})

test('iq: ping, disco#info, the shared roster, unsupported namespaces, and iq to a full JID', async () => {
  const alice = await connectClient(server.c2sPort, 'alice@localhost', 'alice-pw', { resource: 'a' })
  const bob = await connectClient(server.c2sPort, 'bob@localhost', 'bob-pw', { resource: 'b' })
  const ping = await alice.iq(xml('iq', { type: 'get', to: 'localhost' }, xml('ping', { xmlns: 'urn:xmpp:ping' })))
  assert.equal(ping.attrs.type, 'result')
  const disco = await alice.iq(xml('iq', { type: 'get', to: 'localhost' }, xml('query', { xmlns: 'http://jabber.org/protocol/disco#info' })))
  const features = disco
    .getChild('query')
    .getChildren('feature')
    .map((f: any) => f.attrs.var)
  assert.ok(features.includes('urn:xmpp:ping'))
  assert.ok(disco.getChild('query').getChild('identity').attrs.category === 'server')
  const roster = await alice.iq(xml('iq', { type: 'get' }, xml('query', { xmlns: 'jabber:iq:roster' })))
  const items = roster
    .getChild('query')
    .getChildren('item')
    .map((i: any) => i.attrs.jid)
    .sort()
  assert.deepEqual(items, ['bob@localhost', 'carol@localhost'])
  const unsupported = await alice.iq(xml('iq', { type: 'get', to: 'localhost' }, xml('query', { xmlns: 'urn:example:nothing' })))
  assert.equal(unsupported.attrs.type, 'error')
  assert.ok(unsupported.getChild('error').getChild('service-unavailable'))
  // iq to a full JID is delivered; the answer goes back.
  const asked = alice.iq(xml('iq', { type: 'get', to: 'bob@localhost/b' }, xml('query', { xmlns: 'jabber:iq:version' })))
  const atBob = await bob.next((s) => s.is('iq') && s.attrs.type === 'get')
  assert.equal(atBob.attrs.from, 'alice@localhost/a')
  await bob.send(xml('iq', { type: 'result', id: atBob.attrs.id, to: atBob.attrs.from }, xml('query', { xmlns: 'jabber:iq:version' }, xml('name', {}, 'spec'))))
  const answer = await asked
  assert.equal(answer.attrs.type, 'result')
  assert.equal(answer.attrs.from, 'bob@localhost/b')
  await Promise.all([alice.stop(), bob.stop()])
})

test('presence (general.roster = "shared"): contacts on the vhost see each other come and go', async () => {
  const alice = await connectClient(server.c2sPort, 'alice@localhost', 'alice-pw', { resource: 'a' })
  const bob = await connectClient(server.c2sPort, 'bob@localhost', 'bob-pw', { resource: 'b' })
  await alice.next((s) => s.is('presence') && s.attrs.from === 'bob@localhost/b' && !s.attrs.type)
  await bob.next((s) => s.is('presence') && s.attrs.from === 'alice@localhost/a' && !s.attrs.type)
  await bob.stop()
  await alice.next((s) => s.is('presence') && s.attrs.from === 'bob@localhost/b' && s.attrs.type === 'unavailable')
  await alice.stop()
})

test('a second session with the same full JID replaces the first (conflict)', async () => {
  const first = await RawXmpp.connect(server.c2sPort)
  await first.login('carol', 'carol-pw', 'same')
  const second = await RawXmpp.connect(server.c2sPort)
  await second.login('carol', 'carol-pw', 'same')
  await first.waitFor(/<conflict/)
  await first.waitClosed()
  second.close()
})

test('go-sendxmpp (STARTTLS + PLAIN) sends a chat message an @xmpp/client session receives', async () => {
  const bob = await connectClient(server.c2sPort, 'bob@localhost', 'bob-pw')
  await sendxmpp(server.c2sPort, 'alice@localhost', 'alice-pw', 'bob@localhost', 'hi from go-sendxmpp')
  const m = await bob.next((s) => s.is('message') && s.getChildText('body') === 'hi from go-sendxmpp')
  assert.match(m.attrs.from, /^alice@localhost\//)
  await bob.stop()
})
