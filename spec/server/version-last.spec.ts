// XEP-0092 software version and XEP-0012 last activity on the real server, with @xmpp/client and
// go-sendxmpp: the server's name and version, an account's client answering at its full JID;
// the server's uptime, an account's last logout (status, across a restart), 0 while online,
// forbidden across vhosts; disco#info lists exactly these features.
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import path from 'node:path'
import { connectClient, xml, type TestClient } from '../helpers/client.js'
import { sendxmpp } from '../helpers/sendxmpp.js'
import { root, startTestServer, startTestServerAt, type TestServer } from '../helpers/xmppd.js'

const NS_VERSION = 'jabber:iq:version'
const NS_LAST = 'jabber:iq:last'
const NS_DISCO_INFO = 'http://jabber.org/protocol/disco#info'
const USERS = { 'alice@localhost': 'alice-pw', 'bob@localhost': 'bob-pw', 'carol@localhost': 'carol-pw', 'dan@localhost': 'dan-pw', 'eve@a.test': 'eve-pw' }
let server: TestServer
let startedBefore: number

before(async () => {
  startedBefore = Date.now()
  // The shared roster: every account on a vhost sees the others' presence, so may read their last
  // activity. The stored roster's rule (a subscription) has its own test below.
  server = await startTestServer({ hosts: ['localhost', 'a.test'], users: USERS, general: { roster: 'shared' } })
})
after(() => server.stop())

const condition = (iq: any) => iq.getChild('error')?.children.find((c: any) => typeof c !== 'string' && c.name !== 'text')?.name
const query = (c: TestClient, ns: string, to?: string, type = 'get') => c.iq(xml('iq', { type, ...(to ? { to } : {}) }, xml('query', { xmlns: ns })))
/** Whole seconds since `t`, rounded up: an upper bound for what the server may answer. */
const secondsSince = (t: number) => Math.ceil((Date.now() - t) / 1000)

test('software version of the server: xmppd and the package version, no os; a set is bad-request', async () => {
  const alice = await connectClient(server.c2sPort, 'alice@localhost', 'alice-pw')
  try {
    const reply = await query(alice, NS_VERSION, 'localhost')
    assert.equal(reply.attrs.type, 'result')
    assert.equal(reply.attrs.from, 'localhost')
    const q = reply.getChild('query', NS_VERSION)
    const { version } = JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8'))
    assert.equal(q.getChildText('name'), 'xmppd')
    assert.equal(q.getChildText('version'), version)
    assert.equal(q.getChild('os'), undefined)
    assert.equal(condition(await query(alice, NS_VERSION, 'localhost', 'set')), 'bad-request')
  } finally {
    await alice.stop()
  }
})

test("an account's version: its client answers at the full JID; the bare JID is service-unavailable", async () => {
  const alice = await connectClient(server.c2sPort, 'alice@localhost', 'alice-pw')
  const bob = await connectClient(server.c2sPort, 'bob@localhost', 'bob-pw', { resource: 'desk' })
  bob.xmpp.iqCallee.get(NS_VERSION, 'query', () => xml('query', { xmlns: NS_VERSION }, xml('name', {}, 'spec-client'), xml('version', {}, '9.9')))
  try {
    const full = await query(alice, NS_VERSION, 'bob@localhost/desk')
    assert.equal(full.attrs.type, 'result')
    assert.equal(full.attrs.from, 'bob@localhost/desk')
    assert.equal(full.getChild('query', NS_VERSION).getChildText('name'), 'spec-client')
    assert.equal(condition(await query(alice, NS_VERSION, 'bob@localhost')), 'service-unavailable')
    assert.equal(condition(await query(alice, NS_VERSION)), 'service-unavailable', 'no `to`: the own bare JID (RFC 6120 §10.3.3)')
  } finally {
    await alice.stop()
    await bob.stop()
  }
})

test('last activity of the server is its uptime, with no text', async () => {
  const alice = await connectClient(server.c2sPort, 'alice@localhost', 'alice-pw')
  try {
    const reply = await query(alice, NS_LAST, 'localhost')
    assert.equal(reply.attrs.type, 'result')
    const q = reply.getChild('query', NS_LAST)
    assert.match(q.attrs.seconds, /^\d+$/)
    assert.ok(Number(q.attrs.seconds) <= secondsSince(startedBefore), `${q.attrs.seconds}s is not more than the server has run`)
    assert.equal(q.getText(), '')
  } finally {
    await alice.stop()
  }
})

test("last activity of an account: 0 while online (two resources, one left), then its logout's status; after go-sendxmpp, no status", async () => {
  const alice = await connectClient(server.c2sPort, 'alice@localhost', 'alice-pw')
  const carol1 = await connectClient(server.c2sPort, 'carol@localhost', 'carol-pw', { resource: 'one' })
  const carol2 = await connectClient(server.c2sPort, 'carol@localhost', 'carol-pw', { resource: 'two' })
  try {
    const online = await query(alice, NS_LAST, 'carol@localhost')
    assert.equal(online.attrs.from, 'carol@localhost')
    assert.equal(online.getChild('query', NS_LAST).attrs.seconds, '0')
    await carol1.stop()
    assert.equal((await query(alice, NS_LAST, 'carol@localhost')).getChild('query', NS_LAST).attrs.seconds, '0', 'one resource is still online')
    const left = Date.now()
    await carol2.send(xml('presence', { type: 'unavailable' }, xml('status', {}, 'Heading Home')))
    await alice.next((s) => s.is('presence') && s.attrs.from === 'carol@localhost/two' && s.attrs.type === 'unavailable')
    await carol2.stop()
    const last = (await query(alice, NS_LAST, 'carol@localhost')).getChild('query', NS_LAST)
    assert.ok(Number(last.attrs.seconds) <= secondsSince(left), `${last.attrs.seconds}s since carol left`)
    assert.equal(last.getText(), 'Heading Home', 'the status of the unavailable presence, not overwritten by the stream ending')

    const sent = Date.now()
    await sendxmpp(server.c2sPort, 'bob@localhost', 'bob-pw', 'alice@localhost', 'hello from go-sendxmpp')
    const bob = (await query(alice, NS_LAST, 'bob@localhost')).getChild('query', NS_LAST)
    assert.match(bob.attrs.seconds, /^\d+$/)
    assert.ok(Number(bob.attrs.seconds) <= secondsSince(sent))
    assert.equal(bob.getText(), '')
    // Its own last activity: the account may always ask.
    assert.equal((await query(alice, NS_LAST)).getChild('query', NS_LAST).attrs.seconds, '0')
  } finally {
    await alice.stop()
  }
})

test('an account that was never online is item-not-found (a session without presence does not count); another vhost is forbidden', async () => {
  const alice = await connectClient(server.c2sPort, 'alice@localhost', 'alice-pw')
  const quiet = await connectClient(server.c2sPort, 'dan@localhost', 'dan-pw', { presence: false })
  await quiet.stop()
  const eve = await connectClient(server.c2sPort, 'eve@a.test', 'eve-pw')
  try {
    assert.equal(condition(await query(alice, NS_LAST, 'dan@localhost')), 'item-not-found')
    const forbidden = await query(eve, NS_LAST, 'alice@localhost')
    assert.equal(forbidden.attrs.type, 'error')
    assert.equal(condition(forbidden), 'forbidden')
    assert.equal(forbidden.getChild('query', NS_LAST), undefined, 'no last activity in the error')
    assert.equal(condition(await query(alice, NS_LAST, 'nobody@localhost')), 'service-unavailable')
  } finally {
    await alice.stop()
    await eve.stop()
  }
})

test('disco#info: the server lists jabber:iq:version and jabber:iq:last (no private-storage feature); an account lists jabber:iq:last', async () => {
  const alice = await connectClient(server.c2sPort, 'alice@localhost', 'alice-pw')
  try {
    const features = async (to: string) =>
      (await query(alice, NS_DISCO_INFO, to))
        .getChild('query', NS_DISCO_INFO)
        .getChildren('feature')
        .map((f: any) => f.attrs.var)
    const host = await features('localhost')
    for (const f of [NS_VERSION, NS_LAST]) assert.ok(host.includes(f), `server: ${f} in ${host}`)
    assert.ok(!host.some((f: string) => f.includes('private')), `no invented XEP-0049 feature in ${host}`)
    const account = await features('bob@localhost')
    assert.ok(account.includes(NS_LAST), `account: ${account}`)
    assert.ok(!account.includes(NS_VERSION), 'the server does not answer version for an account')
  } finally {
    await alice.stop()
  }
})

test('a last logout survives a restart; the shutdown itself is the logout of those still online', async () => {
  const first = await startTestServer({ general: { roster: 'shared' } })
  const bob = await connectClient(first.c2sPort, 'bob@localhost', 'bob-pw')
  await bob.send(xml('presence', { type: 'unavailable' }, xml('status', {}, 'Gone fishing')))
  await bob.stop()
  const alice = await connectClient(first.c2sPort, 'alice@localhost', 'alice-pw')
  const stopped = Date.now()
  await first.stop()
  await alice.stop()
  const second = await startTestServerAt(first.configFile)
  const carol = await connectClient(second.c2sPort, 'carol@localhost', 'carol-pw')
  try {
    const bobLast = (await query(carol, NS_LAST, 'bob@localhost')).getChild('query', NS_LAST)
    assert.equal(bobLast.getText(), 'Gone fishing')
    const aliceLast = (await query(carol, NS_LAST, 'alice@localhost')).getChild('query', NS_LAST)
    assert.ok(aliceLast, 'alice, online at the shutdown, has a logout')
    assert.ok(Number(aliceLast.attrs.seconds) <= secondsSince(stopped))
  } finally {
    await carol.stop()
    await second.stop()
  }
})

test("on a stored-roster vhost, an account's last activity needs a presence subscription to it (XEP-0012 §4)", async () => {
  const stored = await startTestServer({ hosts: ['localhost', 'a.test'], users: USERS })
  const carol = await connectClient(stored.c2sPort, 'carol@localhost', 'carol-pw')
  const dan = await connectClient(stored.c2sPort, 'dan@localhost', 'dan-pw')
  try {
    assert.equal(condition(await query(carol, NS_LAST, 'dan@localhost')), 'forbidden', 'no subscription yet')
    await carol.send(xml('presence', { to: 'dan@localhost', type: 'subscribe' }))
    await dan.next((p) => p.is('presence') && p.attrs.type === 'subscribe' && String(p.attrs.from).startsWith('carol@localhost'))
    await dan.send(xml('presence', { to: 'carol@localhost', type: 'subscribed' }))
    await carol.next((p) => p.is('presence') && p.attrs.type === 'subscribed' && String(p.attrs.from).startsWith('dan@localhost'))
    const reply = await query(carol, NS_LAST, 'dan@localhost')
    assert.equal(reply.attrs.type, 'result', String(reply))
    assert.equal(reply.getChild('query', NS_LAST).attrs.seconds, '0', 'dan is online')
    assert.equal(condition(await query(dan, NS_LAST, 'carol@localhost')), 'forbidden', 'one way only: dan is not subscribed to carol')
  } finally {
    await carol.stop()
    await dan.stop()
    await stored.stop()
  }
})
