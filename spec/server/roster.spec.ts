// The stored roster (RFC 6121 §2) and presence subscriptions (§3) with real clients on the real
// server: roster set / get / remove with pushes to every interested resource, the subscription
// handshake between two accounts with the state of both rosters at each step, presence that flows
// only once subscribed, a request kept for an offline contact, persistence across a restart, and
// the shared roster kept for a vhost that asks for it (host_config."<vhost>".roster = "shared").
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { connectClient, xml, type TestClient } from '../helpers/client.js'
import { startTestServer, startTestServerAt, type TestServer } from '../helpers/xmppd.js'

const USERS = {
  'alice@localhost': 'pw',
  'bob@localhost': 'pw',
  'carol@localhost': 'pw',
  'dan@localhost': 'pw',
  'erin@localhost': 'pw',
  'sam@example.com': 'pw',
  'sue@example.com': 'pw',
}
let server: TestServer

before(async () => {
  server = await startTestServer({ hosts: ['localhost', 'example.com'], users: USERS, extra: '[host_config."example.com"]\nroster = "shared"\n' })
})
after(() => server.stop())

const login = (jid: string, resource = 'spec', presence = true) => connectClient(server.c2sPort, jid, 'pw', { resource, presence })
const rosterGet = async (c: TestClient) => {
  const r = await c.iq(xml('iq', { type: 'get' }, xml('query', { xmlns: 'jabber:iq:roster' })))
  assert.equal(r.attrs.type, 'result')
  return r
    .getChild('query')
    .getChildren('item')
    .map((i: any) => ({ ...i.attrs, groups: i.getChildren('group').map((g: any) => g.getText()) }))
}
const rosterSet = (c: TestClient, item: Record<string, string>, groups: string[] = []) =>
  c.iq(xml('iq', { type: 'set' }, xml('query', { xmlns: 'jabber:iq:roster' }, xml('item', item, ...groups.map((g) => xml('group', {}, g))))))
const isPush = (jid: string, pred: (item: any) => boolean) => (s: any) =>
  s.is('iq') &&
  s.attrs.type === 'set' &&
  s.getChild('query', 'jabber:iq:roster')?.getChild('item')?.attrs.jid === jid &&
  pred(s.getChild('query').getChild('item'))
const isPresence = (from: string, type?: string) => (s: any) => s.is('presence') && s.attrs.from === from && s.attrs.type === type
/** Stanzas travel in order: once `marker` arrived, whatever was sent before it has arrived too. */
async function afterMarker(from: TestClient, to: TestClient, body: string) {
  await from.chat(to.jid, body)
  await to.next((s) => s.is('message') && s.getChildText('body') === body)
}

test('roster set is pushed to both resources; get returns it; update; remove is pushed; errors', async () => {
  const one = await login('alice@localhost', 'one')
  const two = await login('alice@localhost', 'two')
  assert.deepEqual(await rosterGet(one), [])
  assert.deepEqual(await rosterGet(two), [])
  const set = await rosterSet(one, { jid: 'Zed@Example.org', name: 'Zed' }, ['Friends', 'Work'])
  assert.equal(set.attrs.type, 'result')
  for (const c of [one, two]) {
    const push = await c.next(isPush('zed@example.org', (i) => i.attrs.name === 'Zed'))
    assert.equal(push.getChild('query').getChild('item').attrs.subscription, 'none')
  }
  assert.deepEqual(await rosterGet(two), [{ jid: 'zed@example.org', name: 'Zed', subscription: 'none', groups: ['Friends', 'Work'] }])
  // An update replaces name and groups; subscription written by the client is ignored.
  await rosterSet(two, { jid: 'zed@example.org', name: 'Z', subscription: 'both' })
  await one.next(isPush('zed@example.org', (i) => i.attrs.name === 'Z'))
  assert.deepEqual(await rosterGet(one), [{ jid: 'zed@example.org', name: 'Z', subscription: 'none', groups: [] }])

  const errorOf = (r: any) =>
    r.attrs.type === 'error' ? r.getChild('error').children.find((c: any) => c.attrs?.xmlns === 'urn:ietf:params:xml:ns:xmpp-stanzas')?.name : 'result'
  assert.equal(errorOf(await rosterSet(one, { jid: 'alice@localhost' })), 'not-allowed')
  assert.equal(errorOf(await rosterSet(one, { jid: 'nobody@example.org', subscription: 'remove' })), 'item-not-found')
  assert.equal(errorOf(await rosterSet(one, { jid: 'x@example.org/res' })), 'bad-request')
  assert.equal(errorOf(await rosterSet(one, { jid: 'x@example.org' }, ['G', 'G'])), 'bad-request')
  assert.equal(errorOf(await rosterSet(one, { jid: 'x@example.org' }, [''])), 'not-acceptable')
  const two_items = await one.iq(
    xml('iq', { type: 'set' }, xml('query', { xmlns: 'jabber:iq:roster' }, xml('item', { jid: 'a@b.c' }), xml('item', { jid: 'd@e.f' }))),
  )
  assert.equal(errorOf(two_items), 'bad-request')
  assert.equal(errorOf(await one.iq(xml('iq', { type: 'get', to: 'bob@localhost' }, xml('query', { xmlns: 'jabber:iq:roster' })))), 'service-unavailable')

  assert.equal((await rosterSet(one, { jid: 'zed@example.org', subscription: 'remove' })).attrs.type, 'result')
  for (const c of [one, two]) await c.next(isPush('zed@example.org', (i) => i.attrs.subscription === 'remove'))
  assert.deepEqual(await rosterGet(one), [])
  await Promise.all([one.stop(), two.stop()])
})

test('subscription handshake: states on both sides at each step; presence flows only once subscribed', async () => {
  const bob = await login('bob@localhost', 'b')
  const carol = await login('carol@localhost', 'c')
  await Promise.all([rosterGet(bob), rosterGet(carol)]) // both interested in pushes
  // Not subscribed: carol's presence does not reach bob.
  await carol.send(xml('presence', {}, xml('status', {}, 'before')))
  await afterMarker(carol, bob, 'm1')
  assert.equal(bob.received.filter(isPresence('carol@localhost/c')).length, 0)

  await bob.send(xml('presence', { to: 'carol@localhost', type: 'subscribe' }, xml('status', {}, 'hi, it is bob')))
  await bob.next(isPush('carol@localhost', (i) => i.attrs.subscription === 'none' && i.attrs.ask === 'subscribe'))
  const request = await carol.next(isPresence('bob@localhost', 'subscribe'))
  assert.equal(request.getChildText('status'), 'hi, it is bob')
  assert.deepEqual(await rosterGet(carol), [], 'an inbound request adds no item')

  await carol.send(xml('presence', { to: 'bob@localhost', type: 'subscribed' }))
  await carol.next(isPush('bob@localhost', (i) => i.attrs.subscription === 'from'))
  await bob.next(isPush('carol@localhost', (i) => i.attrs.subscription === 'to' && !i.attrs.ask))
  await bob.next(isPresence('carol@localhost', 'subscribed'))
  const current = await bob.next((s) => isPresence('carol@localhost/c')(s) && s.getChildText('status') === 'before')
  assert.ok(current, "carol's current presence follows the approval")
  assert.deepEqual(await rosterGet(bob), [{ jid: 'carol@localhost', subscription: 'to', groups: [] }])
  assert.deepEqual(await rosterGet(carol), [{ jid: 'bob@localhost', subscription: 'from', groups: [] }])

  // carol → bob flows; bob → carol does not (carol is not subscribed to bob).
  await carol.send(xml('presence', {}, xml('status', {}, 'after')))
  await bob.next((s) => isPresence('carol@localhost/c')(s) && s.getChildText('status') === 'after')
  await bob.send(xml('presence', {}, xml('status', {}, 'bob here')))
  await afterMarker(bob, carol, 'm2')
  assert.equal(carol.received.filter(isPresence('bob@localhost/b')).length, 0)
  // A probe is answered only for a subscriber.
  await carol.send(xml('presence', { to: 'bob@localhost', type: 'probe' }))
  await bob.send(xml('presence', { to: 'carol@localhost', type: 'probe' }))
  await bob.next((s) => isPresence('carol@localhost/c')(s) && bob.received.filter(isPresence('carol@localhost/c')).length >= 3)
  await afterMarker(bob, carol, 'm3')
  assert.equal(carol.received.filter(isPresence('bob@localhost/b')).length, 0)

  // bob unsubscribes: both items go back to none, bob sees carol go.
  await bob.send(xml('presence', { to: 'carol@localhost', type: 'unsubscribe' }))
  await bob.next(isPush('carol@localhost', (i) => i.attrs.subscription === 'none'))
  await carol.next(isPush('bob@localhost', (i) => i.attrs.subscription === 'none'))
  await carol.next(isPresence('bob@localhost', 'unsubscribe'))
  await bob.next(isPresence('carol@localhost/c', 'unavailable'))
  await carol.send(xml('presence', {}, xml('status', {}, 'gone quiet')))
  await afterMarker(carol, bob, 'm4')
  assert.equal(bob.received.filter((s: any) => isPresence('carol@localhost/c')(s) && s.getChildText('status') === 'gone quiet').length, 0)
  await Promise.all([bob.stop(), carol.stop()])
})

test('a request to an offline contact is kept and delivered at its next login; removing the item cancels both ways', async () => {
  const dan = await login('dan@localhost', 'd')
  await rosterGet(dan)
  await dan.send(xml('presence', { to: 'erin@localhost', type: 'subscribe' }))
  await dan.next(isPush('erin@localhost', (i) => i.attrs.ask === 'subscribe'))
  const erin = await login('erin@localhost', 'e')
  await erin.next(isPresence('dan@localhost', 'subscribe'))
  await erin.send(xml('presence', { to: 'dan@localhost', type: 'subscribed' }))
  await dan.next(isPush('erin@localhost', (i) => i.attrs.subscription === 'to'))
  // Mutual: erin asks back, dan approves.
  await erin.send(xml('presence', { to: 'dan@localhost', type: 'subscribe' }))
  await dan.next(isPresence('erin@localhost', 'subscribe'))
  await dan.send(xml('presence', { to: 'erin@localhost', type: 'subscribed' }))
  await dan.next(isPush('erin@localhost', (i) => i.attrs.subscription === 'both'))
  await erin.next(isPresence('dan@localhost/d'))
  await rosterGet(erin)
  // dan removes erin: erin's item goes to none, erin is told both ways and sees dan go.
  await rosterSet(dan, { jid: 'erin@localhost', subscription: 'remove' })
  await dan.next(isPush('erin@localhost', (i) => i.attrs.subscription === 'remove'))
  await erin.next(isPush('dan@localhost', (i) => i.attrs.subscription === 'none'))
  await erin.next(isPresence('dan@localhost', 'unsubscribe'))
  await erin.next(isPresence('dan@localhost', 'unsubscribed'))
  await erin.next(isPresence('dan@localhost/d', 'unavailable'))
  assert.deepEqual(await rosterGet(erin), [{ jid: 'dan@localhost', subscription: 'none', groups: [] }])
  // A subscription to an account that does not exist is answered unsubscribed.
  await dan.send(xml('presence', { to: 'ghost@localhost', type: 'subscribe' }))
  await dan.next(isPresence('ghost@localhost', 'unsubscribed'))
  await Promise.all([dan.stop(), erin.stop()])
})

test('host_config."<vhost>".roster = "shared": everyone on the vhost, read-only, presence to all', async () => {
  const sam = await login('sam@example.com', 's')
  const sue = await login('sue@example.com', 'u')
  await sam.next(isPresence('sue@example.com/u'))
  assert.deepEqual(await rosterGet(sam), [{ jid: 'sue@example.com', name: 'sue', subscription: 'both', groups: [] }])
  const refused = await rosterSet(sam, { jid: 'x@example.com' })
  assert.equal(refused.getChild('error').getChild('not-allowed')?.name, 'not-allowed')
  await sue.stop()
  await sam.next(isPresence('sue@example.com/u', 'unavailable'))
  await sam.stop()
})

test('rosters and pending requests survive a restart (roster.sqlite under general.data_dir)', async () => {
  const alice = await login('alice@localhost', 'r')
  await rosterSet(alice, { jid: 'friend@example.org', name: 'Friend' }, ['Far'])
  await alice.send(xml('presence', { to: 'dan@localhost', type: 'subscribe' }))
  await alice.stop()
  await server.stop()
  server = await startTestServerAt(server.configFile)
  const again = await login('alice@localhost', 'r')
  const items = await rosterGet(again)
  assert.deepEqual(
    items.find((i: any) => i.jid === 'friend@example.org'),
    { jid: 'friend@example.org', name: 'Friend', subscription: 'none', groups: ['Far'] },
  )
  assert.deepEqual(
    items.find((i: any) => i.jid === 'dan@localhost'),
    { jid: 'dan@localhost', subscription: 'none', ask: 'subscribe', groups: [] },
  )
  const dan = await login('dan@localhost', 'd2')
  await dan.next(isPresence('alice@localhost', 'subscribe'))
  await Promise.all([again.stop(), dan.stop()])
})

test("seeded accounts (the embedded default's demo accounts) are contacts of each other from the first start only", async () => {
  const users = { 'ann@localhost': 'pw', 'ben@localhost': 'pw', 'cid@localhost': 'pw' }
  const seeded = await startTestServer({ users }, {}, { demoRoster: Object.keys(users) })
  try {
    const ann = await connectClient(seeded.c2sPort, 'ann@localhost', 'pw', { resource: 'a' })
    const ben = await connectClient(seeded.c2sPort, 'ben@localhost', 'pw', { resource: 'b' })
    await ann.next(isPresence('ben@localhost/b'))
    const items = (await rosterGet(ann)).map((i: any) => `${i.jid} ${i.subscription}`)
    assert.deepEqual(items, ['ben@localhost both', 'cid@localhost both'])
    await rosterSet(ann, { jid: 'cid@localhost', subscription: 'remove' })
    await ann.next(isPush('cid@localhost', (i) => i.attrs.subscription === 'remove'))
    await Promise.all([ann.stop(), ben.stop()])
  } finally {
    await seeded.stop()
  }
  // The file exists now: a restart does not seed again (ann's removal stays).
  const again = await startTestServerAt(seeded.configFile, { demoRoster: Object.keys(users) })
  try {
    const ann = await connectClient(again.c2sPort, 'ann@localhost', 'pw', { resource: 'a' })
    assert.deepEqual(
      (await rosterGet(ann)).map((i: any) => i.jid),
      ['ben@localhost'],
    )
    await ann.stop()
  } finally {
    await again.stop()
  }
})

test("XEP-0191: a blocked contact neither gets the account's presence broadcast nor sends it one; unblocking restores it", async () => {
  const users = { 'dev@localhost': 'pw', 'eve@localhost': 'pw' }
  const s = await startTestServer({ users }, {}, { demoRoster: Object.keys(users) }) // both subscribed both ways
  try {
    const dev = await connectClient(s.c2sPort, 'dev@localhost', 'pw', { resource: 'd' })
    const eve = await connectClient(s.c2sPort, 'eve@localhost', 'pw', { resource: 'e' })
    await dev.next(isPresence('eve@localhost/e'))
    const ping = (c: TestClient) => c.iq(xml('iq', { type: 'get', to: 'localhost' }, xml('ping', { xmlns: 'urn:xmpp:ping' })))
    const block = (verb: string) => dev.iq(xml('iq', { type: 'set' }, xml(verb, { xmlns: 'urn:xmpp:blocking' }, xml('item', { jid: 'eve@localhost' }))))
    const statusFrom = (c: TestClient, from: string, status: string) =>
      c.received.filter((x: any) => isPresence(from)(x) && x.getChildText('status') === status).length
    assert.equal((await block('block')).attrs.type, 'result')
    await eve.send(xml('presence', {}, xml('status', {}, 'eve while blocked')))
    await dev.send(xml('presence', {}, xml('status', {}, 'dev while blocking')))
    // Each side's stanzas are handled in order: after both pings, a broadcast would have arrived.
    await ping(eve)
    await ping(dev)
    await ping(eve)
    assert.equal(statusFrom(dev, 'eve@localhost/e', 'eve while blocked'), 0)
    assert.equal(statusFrom(eve, 'dev@localhost/d', 'dev while blocking'), 0)
    assert.equal((await block('unblock')).attrs.type, 'result')
    await eve.send(xml('presence', {}, xml('status', {}, 'eve again')))
    await dev.next((x: any) => isPresence('eve@localhost/e')(x) && x.getChildText('status') === 'eve again')
    await Promise.all([dev.stop(), eve.stop()])
  } finally {
    await s.stop()
  }
})
