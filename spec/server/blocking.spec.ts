// XEP-0191 blocking on the real server with real clients (@xmpp/client, go-sendxmpp): the list
// (get, block, unblock, unblock all) with pushes to the resources that read it; a blocked JID's
// stanzas are not delivered, not kept offline, and neither user_send_packet nor offline_message
// fires for them; stanzas to a blocked JID are refused; the list survives a restart; disco#info.
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import type { Element, JID } from '../../lib/contract.js'
import { connectClient, xml, type TestClient } from '../helpers/client.js'
import { eventually } from '../helpers/metrics.js'
import { sendxmpp } from '../helpers/sendxmpp.js'
import { sample, startTestServer, startTestServerAt, type TestServer } from '../helpers/xmppd.js'

const NS = 'urn:xmpp:blocking'
const NS_STANZAS = 'urn:ietf:params:xml:ns:xmpp-stanzas'
const USERS = { 'alice@localhost': 'alice-pw', 'bob@localhost': 'bob-pw', 'carol@localhost': 'carol-pw' }
let server: TestServer
/** Bodies as the hooks saw them, on localhost. */
const sendPacket: string[] = []
const offlineHook: string[] = []

before(async () => {
  server = await startTestServer({ users: USERS })
  const hooks = server.hooksOf('localhost')!
  hooks.on('user_send_packet', (p: Element, _f: JID, _t: JID) => void (p.getChildText('body') && sendPacket.push(p.getChildText('body')!)))
  hooks.on('offline_message', (p: Element) => void offlineHook.push(p.getChildText('body') ?? ''))
})
after(() => server.stop())

const settle = (c: TestClient) => c.iq(xml('iq', { type: 'get', to: 'localhost' }, xml('ping', { xmlns: 'urn:xmpp:ping' })))
const bodies = (c: TestClient) => c.received.filter((s) => s.is('message') && s.getChildText('body')).map((s) => s.getChildText('body'))
const list = async (c: TestClient) => {
  const res = await c.iq(xml('iq', { type: 'get' }, xml('blocklist', { xmlns: NS })))
  assert.equal(res.attrs.type, 'result', String(res))
  return res
    .getChild('blocklist', NS)
    .getChildren('item')
    .map((i: any) => i.attrs.jid)
}
const set = (c: TestClient, what: 'block' | 'unblock', ...jids: string[]) =>
  c.iq(xml('iq', { type: 'set' }, xml(what, { xmlns: NS }, ...jids.map((jid) => xml('item', { jid })))))
const pushes = (c: TestClient) => c.received.filter((s) => s.is('iq') && s.attrs.type === 'set' && (s.getChild('block', NS) || s.getChild('unblock', NS)))
const condition = (s: any) => s.getChild('error')?.children.find((c: any) => c.attrs?.xmlns === NS_STANZAS)?.name

test('the server advertises urn:xmpp:blocking', async () => {
  const alice = await connectClient(server.c2sPort, 'alice@localhost', 'alice-pw')
  const res = await alice.iq(xml('iq', { type: 'get', to: 'localhost' }, xml('query', { xmlns: 'http://jabber.org/protocol/disco#info' })))
  assert.ok(
    res
      .getChild('query')
      .getChildren('feature')
      .some((f: any) => f.attrs.var === NS),
  )
  await alice.stop()
})

test('block: pushed to the resources that read the list; the blocked JID gets service-unavailable, nothing is delivered or notified; unblock restores', async () => {
  const a = await connectClient(server.c2sPort, 'alice@localhost', 'alice-pw', { resource: 'a' })
  const reader = await connectClient(server.c2sPort, 'alice@localhost', 'alice-pw', { resource: 'reader' })
  const quiet = await connectClient(server.c2sPort, 'alice@localhost', 'alice-pw', { resource: 'quiet' })
  const bob = await connectClient(server.c2sPort, 'bob@localhost', 'bob-pw', { resource: 'desk' })
  assert.deepEqual(await list(a), [])
  assert.deepEqual(await list(reader), [])

  const res = await set(a, 'block', 'Bob@LocalHost')
  assert.equal(res.attrs.type, 'result')
  const push = await reader.next((s) => s.is('iq') && s.getChild('block', NS))
  assert.deepEqual(
    push
      .getChild('block', NS)
      .getChildren('item')
      .map((i: any) => i.attrs.jid),
    ['bob@localhost'],
  )
  await a.next((s) => s.is('iq') && s.getChild('block', NS))
  await settle(quiet)
  assert.equal(pushes(quiet).length, 0, 'a resource that never read the list gets no push')
  assert.deepEqual(await list(quiet), ['bob@localhost'])

  const before = sendPacket.length
  await bob.send(xml('message', { to: 'alice@localhost', type: 'chat', id: 'b1' }, xml('body', {}, 'blocked to bare')))
  await bob.send(xml('message', { to: 'alice@localhost/a', type: 'chat', id: 'b2' }, xml('body', {}, 'blocked to full')))
  const e1 = await bob.next((s) => s.is('message') && s.attrs.id === 'b1' && s.attrs.type === 'error')
  const e2 = await bob.next((s) => s.is('message') && s.attrs.id === 'b2' && s.attrs.type === 'error')
  assert.equal(condition(e1), 'service-unavailable')
  assert.equal(condition(e2), 'service-unavailable')
  const ping = await bob.iq(xml('iq', { type: 'get', to: 'alice@localhost/a' }, xml('ping', { xmlns: 'urn:xmpp:ping' })))
  assert.equal(condition(ping), 'service-unavailable', 'iq requests too')
  await bob.chat('carol@localhost', 'not blocked')
  await eventually(
    () => sendPacket.slice(before),
    (seen) => assert.deepEqual(seen, ['not blocked'], 'user_send_packet fired for the other message only'),
  )
  await Promise.all([settle(a), settle(reader), settle(quiet)])
  for (const c of [a, reader, quiet]) assert.deepEqual(bodies(c), [], 'nothing delivered')

  // alice to bob: refused with <blocked/>.
  await a.send(xml('message', { to: 'bob@localhost', type: 'chat', id: 'a1' }, xml('body', {}, 'to the blocked')))
  const refused = await a.next((s) => s.is('message') && s.attrs.id === 'a1' && s.attrs.type === 'error')
  assert.equal(condition(refused), 'not-acceptable')
  assert.ok(refused.getChild('error').getChild('blocked', 'urn:xmpp:blocking:errors'))
  await settle(bob)
  assert.deepEqual(bodies(bob), [])
  assert.ok(!sendPacket.includes('to the blocked'))
  const blocked = sample(await server.metricsText(), 'xmppd_blocked_stanzas_total', { host: 'localhost', direction: 'in' })
  assert.equal(blocked, 3)

  const un = await set(reader, 'unblock', 'bob@localhost')
  assert.equal(un.attrs.type, 'result')
  const unpush = await a.next((s) => s.is('iq') && s.getChild('unblock', NS))
  assert.equal(unpush.getChild('unblock', NS).getChildren('item')[0].attrs.jid, 'bob@localhost')
  await bob.chat('alice@localhost/a', 'after unblock')
  await a.next((s) => s.getChildText?.('body') === 'after unblock')
  assert.ok(sendPacket.includes('after unblock'))
  await Promise.all([a.stop(), reader.stop(), quiet.stop(), bob.stop()])
})

test('a blocked message for an offline account is not kept and offline_message does not fire (go-sendxmpp)', async () => {
  const carol = await connectClient(server.c2sPort, 'carol@localhost', 'carol-pw')
  assert.equal((await set(carol, 'block', 'bob@localhost')).attrs.type, 'result')
  await carol.stop()
  const kept = offlineHook.length
  await sendxmpp(server.c2sPort, 'bob@localhost', 'bob-pw', 'carol@localhost', 'blocked while offline')
  await sendxmpp(server.c2sPort, 'alice@localhost', 'alice-pw', 'carol@localhost', 'kept while offline')
  await eventually(
    () => offlineHook.slice(kept),
    (seen) => assert.deepEqual(seen, ['kept while offline']),
  )
  assert.ok(!sendPacket.includes('blocked while offline'))
  const back = await connectClient(server.c2sPort, 'carol@localhost', 'carol-pw')
  await back.next((s) => s.getChildText?.('body') === 'kept while offline')
  await settle(back)
  assert.deepEqual(bodies(back), ['kept while offline'])
  assert.equal((await set(back, 'unblock')).attrs.type, 'result', 'unblock all')
  assert.deepEqual(await list(back), [])
  await back.stop()
})

test('items match as XEP-0016 says: a full JID blocks one resource, a domain every JID at it', async () => {
  const alice = await connectClient(server.c2sPort, 'alice@localhost', 'alice-pw', { resource: 'm' })
  const desk = await connectClient(server.c2sPort, 'bob@localhost', 'bob-pw', { resource: 'desk' })
  const phone = await connectClient(server.c2sPort, 'bob@localhost', 'bob-pw', { resource: 'phone' })
  await set(alice, 'block', 'bob@localhost/desk')
  await desk.send(xml('message', { to: 'alice@localhost/m', type: 'chat', id: 'd1' }, xml('body', {}, 'from desk')))
  await phone.chat('alice@localhost/m', 'from phone')
  await alice.next((s) => s.getChildText?.('body') === 'from phone')
  await desk.next((s) => s.attrs.id === 'd1' && s.attrs.type === 'error')
  await settle(alice)
  assert.deepEqual(bodies(alice), ['from phone'])
  await set(alice, 'unblock')
  await set(alice, 'block', 'localhost')
  await phone.send(xml('message', { to: 'alice@localhost/m', type: 'chat', id: 'p2' }, xml('body', {}, 'domain blocked')))
  await phone.next((s) => s.attrs.id === 'p2' && s.attrs.type === 'error')
  const disco = await alice.iq(xml('iq', { type: 'get', to: 'localhost' }, xml('query', { xmlns: 'http://jabber.org/protocol/disco#info' })))
  assert.equal(disco.attrs.type, 'result', 'the server itself is never blocked')
  assert.equal((await set(alice, 'unblock')).attrs.type, 'result')
  await Promise.all([alice.stop(), desk.stop(), phone.stop()])
})

test("bad requests: <block/> without items, a malformed JID, another account's list", async () => {
  const alice = await connectClient(server.c2sPort, 'alice@localhost', 'alice-pw')
  assert.equal(condition(await set(alice, 'block')), 'bad-request')
  assert.equal(condition(await set(alice, 'block', '@@bad')), 'jid-malformed')
  const other = await alice.iq(xml('iq', { type: 'get', to: 'bob@localhost' }, xml('blocklist', { xmlns: NS })))
  assert.equal(other.attrs.type, 'error')
  assert.equal(condition(await alice.iq(xml('iq', { type: 'set' }, xml('blocklist', { xmlns: NS })))), 'bad-request')
  assert.deepEqual(await list(alice), [])
  await alice.stop()
})

test('the list survives a restart (blocking.sqlite under general.data_dir)', async () => {
  const first = await startTestServer({ users: USERS })
  const alice = await connectClient(first.c2sPort, 'alice@localhost', 'alice-pw')
  await set(alice, 'block', 'bob@localhost', 'evil.example')
  await alice.stop()
  await first.stop()
  const second = await startTestServerAt(first.configFile)
  try {
    const again = await connectClient(second.c2sPort, 'alice@localhost', 'alice-pw')
    assert.deepEqual(await list(again), ['bob@localhost', 'evil.example'])
    const bob = await connectClient(second.c2sPort, 'bob@localhost', 'bob-pw')
    await bob.send(xml('message', { to: 'alice@localhost', type: 'chat', id: 'r1' }, xml('body', {}, 'still blocked')))
    await bob.next((s) => s.attrs.id === 'r1' && s.attrs.type === 'error')
    await Promise.all([again.stop(), bob.stop()])
  } finally {
    await second.stop()
  }
})
