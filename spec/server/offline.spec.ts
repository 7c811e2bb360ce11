// Offline storage on the real server with real clients (@xmpp/client, go-sendxmpp, raw XML):
// messages for an account with no available resource are kept in SQLite and delivered on its next
// initial presence, in order, with an XEP-0203 delay; the per-account bound; offline_message fires
// once per kept message and only then; XEP-0359 stanza ids; the </stream:stream> gap.
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { jid } from '@xmpp/jid'
import type { Element, JID } from '../../lib/contract.js'
import { connectClient, xml, type TestClient } from '../helpers/client.js'
import { eventually } from '../helpers/metrics.js'
import { RawXmpp } from '../helpers/raw-xmpp.js'
import { sendxmpp } from '../helpers/sendxmpp.js'
import { sample, startTestServer, startTestServerAt, type TestServer } from '../helpers/xmppd.js'

const USERS = { 'alice@localhost': 'alice-pw', 'bob@localhost': 'bob-pw', 'carol@localhost': 'carol-pw', 'dan@localhost': 'dan-pw' }
let server: TestServer
/** offline_message as the hook saw it, on localhost. */
const kept: Array<{ body: string | null; from: string; to: string; sid: string | undefined }> = []

const NS_SID = 'urn:xmpp:sid:0'
const sidBy = (s: Element, by: string) => s.getChildren('stanza-id', NS_SID).find((c) => c.attrs.by === by)?.attrs.id as string | undefined
const bodies = (c: TestClient) => c.received.filter((s) => s.is('message') && s.getChildText('body')).map((s) => s.getChildText('body'))

function watchOffline(s: TestServer, into: typeof kept): void {
  s.hooksOf('localhost')!.on('offline_message', (p: Element, from: JID, to: JID) => {
    into.push({ body: p.getChildText('body'), from: from.toString(), to: to.toString(), sid: sidBy(p, `${to.local}@${to.domain}`) })
  })
}

before(async () => {
  // The shared roster: a test watches a contact's presence to know when it is online.
  server = await startTestServer({ users: USERS, general: { roster: 'shared' } })
  watchOffline(server, kept)
})
after(() => server.stop())

test('messages for an offline account are kept and delivered on login, in order, with a delay stamp and their stanza-id', async () => {
  const before = kept.length
  await sendxmpp(server.c2sPort, 'alice@localhost', 'alice-pw', 'bob@localhost', 'one (go-sendxmpp)')
  await sendxmpp(server.c2sPort, 'alice@localhost', 'alice-pw', 'bob@localhost', 'two (go-sendxmpp)')
  const alice = await connectClient(server.c2sPort, 'alice@localhost', 'alice-pw', { resource: 'a' })
  await alice.chat('bob@localhost', 'three')
  await eventually(
    () => kept.length - before,
    (n) => assert.equal(n, 3),
  )
  const hooked = kept.slice(before)
  assert.deepEqual(
    hooked.map((k) => [k.body, k.to]),
    [
      ['one (go-sendxmpp)', 'bob@localhost'],
      ['two (go-sendxmpp)', 'bob@localhost'],
      ['three', 'bob@localhost'],
    ],
  )
  assert.equal(hooked[2].from, 'alice@localhost/a')
  for (const k of hooked) assert.match(k.sid ?? '', /^[\w-]{16}$/, 'the kept message carries its stanza-id')
  let text = await server.metricsText()
  assert.equal(sample(text, 'xmppd_offline_messages', { host: 'localhost' }), 3)
  assert.ok(
    alice.received.every((s) => !(s.is('message') && s.attrs.type === 'error')),
    'the sender got no error',
  )

  const sent = Date.now()
  const bob = await connectClient(server.c2sPort, 'bob@localhost', 'bob-pw')
  await bob.next((s) => s.getChildText?.('body') === 'three')
  assert.deepEqual(bodies(bob), ['one (go-sendxmpp)', 'two (go-sendxmpp)', 'three'])
  const delivered = bob.received.filter((s) => s.is('message') && s.getChildText('body'))
  for (const [i, m] of delivered.entries()) {
    const delay = m.getChild('delay', 'urn:xmpp:delay')
    assert.ok(delay, 'an XEP-0203 delay')
    assert.equal(delay.attrs.from, 'localhost')
    const stamp = Date.parse(delay.attrs.stamp)
    assert.ok(stamp <= sent, `stamped when kept (${delay.attrs.stamp}), before the login`)
    assert.equal(sidBy(m, 'bob@localhost'), hooked[i].sid, 'the same stanza-id as offline_message saw')
  }
  text = await server.metricsText()
  assert.equal(sample(text, 'xmppd_offline_messages', { host: 'localhost' }), 0)
  assert.equal(sample(text, 'xmppd_offline_messages_stored_total', { host: 'localhost' })! >= 3, true)
  assert.equal(sample(text, 'xmppd_offline_messages_delivered_total', { host: 'localhost' })! >= 3, true)
  // Delivered once: a second login gets nothing.
  await bob.stop()
  const again = await connectClient(server.c2sPort, 'bob@localhost', 'bob-pw')
  await again.iq(xml('iq', { type: 'get', to: 'localhost' }, xml('ping', { xmlns: 'urn:xmpp:ping' })))
  assert.deepEqual(bodies(again), [])
  await Promise.all([again.stop(), alice.stop()])
})

test('a session bound without presence, or with a negative priority, does not take them; the first resource able to does', async () => {
  const alice = await connectClient(server.c2sPort, 'alice@localhost', 'alice-pw', { resource: 'a2' })
  const silent = await connectClient(server.c2sPort, 'carol@localhost', 'carol-pw', { resource: 'silent', presence: false })
  assert.equal(server.sessions.isOnline(jid('carol@localhost')), false, 'bound, no presence: not online')
  await alice.chat('carol@localhost', 'for later')
  await eventually(
    () => kept.filter((k) => k.body === 'for later').length,
    (n) => assert.equal(n, 1),
  )
  await silent.send(xml('presence', {}, xml('priority', {}, '-1')))
  await alice.chat('carol@localhost', 'still later')
  await eventually(
    () => kept.filter((k) => k.body === 'still later').length,
    (n) => assert.equal(n, 1),
  )
  assert.equal(server.sessions.isOnline(jid('carol@localhost')), true, 'available (negative priority) is online')
  assert.deepEqual(bodies(silent), [])
  await silent.send(xml('presence', {}, xml('priority', {}, '5')))
  await silent.next((s) => s.getChildText?.('body') === 'still later')
  assert.deepEqual(bodies(silent), ['for later', 'still later'])
  await Promise.all([alice.stop(), silent.stop()])
})

test('unknown accounts, groupchat and body-less chat bounce; headline is dropped; none of them is kept', async () => {
  const before = kept.length
  const dropped = sample(await server.metricsText(), 'xmppd_offline_messages_dropped_total', { host: 'localhost' })!
  const alice = await connectClient(server.c2sPort, 'alice@localhost', 'alice-pw')
  await alice.chat('nobody@localhost', 'to no one')
  await alice.send(xml('message', { to: 'dan@localhost', type: 'groupchat', id: 'gc' }, xml('body', {}, 'gc')))
  await alice.send(xml('message', { to: 'dan@localhost', type: 'chat', id: 'cs' }, xml('composing', { xmlns: 'http://jabber.org/protocol/chatstates' })))
  await alice.send(xml('message', { to: 'dan@localhost', type: 'headline', id: 'hl' }, xml('body', {}, 'news')))
  for (const id of [undefined, 'gc', 'cs']) {
    const err = await alice.next((s) => s.is('message') && s.attrs.type === 'error' && (id ? s.attrs.id === id : s.attrs.from === 'nobody@localhost'))
    assert.ok(err.getChild('error').getChild('service-unavailable'), `service-unavailable for ${id ?? 'the unknown account'}`)
  }
  await eventually(
    async () => sample(await server.metricsText(), 'xmppd_offline_messages_dropped_total', { host: 'localhost' })!,
    (n) => assert.equal(n, dropped + 1, 'the headline is counted dropped'),
  )
  assert.equal(alice.received.filter((s) => s.attrs.id === 'hl').length, 0, 'no error for a headline')
  assert.equal(kept.length, before, 'offline_message fired for none of them')
  const dan = await connectClient(server.c2sPort, 'dan@localhost', 'dan-pw')
  await dan.iq(xml('iq', { type: 'get', to: 'localhost' }, xml('ping', { xmlns: 'urn:xmpp:ping' })))
  assert.deepEqual(bodies(dan), [], 'nothing was kept for dan')
  await Promise.all([alice.stop(), dan.stop()])
})

test('a message routed after the client sent </stream:stream> is kept, not lost', async () => {
  const raw = await RawXmpp.connect(server.c2sPort)
  await raw.login('dan', 'dan-pw', 'leaving')
  raw.send(`<presence/>`)
  const alice = await connectClient(server.c2sPort, 'alice@localhost', 'alice-pw', { resource: 'gap' })
  await alice.next((s) => s.is('presence') && s.attrs.from === 'dan@localhost/leaving')
  // dan closes its stream but lingers on the socket: the server ends its side, the socket stays.
  raw.halfOpen()
  raw.send('</stream:stream>')
  await raw.waitFor(/<\/stream:stream>/)
  assert.equal(raw.closed, false, 'the socket is still open')
  await alice.chat('dan@localhost/leaving', 'after the close')
  await eventually(
    () => kept.filter((k) => k.body === 'after the close').length,
    (n) => assert.equal(n, 1),
  )
  assert.equal(kept.find((k) => k.body === 'after the close')!.to, 'dan@localhost/leaving', 'to as addressed')
  raw.close()
  const dan = await connectClient(server.c2sPort, 'dan@localhost', 'dan-pw')
  await dan.next((s) => s.getChildText?.('body') === 'after the close')
  await Promise.all([alice.stop(), dan.stop()])
})

test('XEP-0359: the server stamps the stanza-id before user_send_packet, and strips one forged by the sender', async () => {
  const seen: string[] = []
  const off = server.hooksOf('localhost')!.on('user_send_packet', (p: Element) => {
    const id = sidBy(p, 'bob@localhost')
    if (p.getChildText('body') === 'forged') seen.push(id ?? 'none')
  })
  const alice = await connectClient(server.c2sPort, 'alice@localhost', 'alice-pw')
  const bob = await connectClient(server.c2sPort, 'bob@localhost', 'bob-pw')
  await alice.send(
    xml(
      'message',
      { to: 'bob@localhost', type: 'chat' },
      xml('body', {}, 'forged'),
      xml('stanza-id', { xmlns: NS_SID, by: 'bob@localhost', id: 'forged-id' }),
      xml('stanza-id', { xmlns: NS_SID, by: 'Bob@Localhost', id: 'forged-too' }),
      xml('stanza-id', { xmlns: NS_SID, by: 'archive.example', id: 'someone-else' }),
    ),
  )
  const m = await bob.next((s) => s.getChildText?.('body') === 'forged')
  off()
  const ours = m.getChildren('stanza-id', NS_SID).filter((c: Element) => String(c.attrs.by).toLowerCase() === 'bob@localhost')
  assert.equal(ours.length, 1, 'exactly one stanza-id by the recipient')
  assert.notEqual(ours[0].attrs.id, 'forged-id')
  assert.notEqual(ours[0].attrs.id, 'forged-too')
  assert.equal(sidBy(m, 'archive.example'), 'someone-else', 'a stanza-id by another entity is left alone')
  assert.deepEqual(seen, [ours[0].attrs.id], 'user_send_packet saw the id the recipient got')
  await Promise.all([alice.stop(), bob.stop()])
})

test('disco#info advertises msgoffline and urn:xmpp:sid:0', async () => {
  const alice = await connectClient(server.c2sPort, 'alice@localhost', 'alice-pw')
  const res = await alice.iq(xml('iq', { type: 'get', to: 'localhost' }, xml('query', { xmlns: 'http://jabber.org/protocol/disco#info' })))
  const features = res
    .getChild('query')
    .getChildren('feature')
    .map((f: Element) => f.attrs.var)
  assert.ok(features.includes('msgoffline'))
  assert.ok(features.includes(NS_SID))
  await alice.stop()
})

test('the per-account bound: past general.max_offline_messages the sender gets service-unavailable, counted, no offline_message', async () => {
  const small = await startTestServer({ users: USERS, general: { max_offline_messages: 2 } })
  const seen: typeof kept = []
  watchOffline(small, seen)
  try {
    const alice = await connectClient(small.c2sPort, 'alice@localhost', 'alice-pw')
    for (const body of ['m1', 'm2', 'm3']) await alice.send(xml('message', { to: 'carol@localhost', type: 'chat', id: body }, xml('body', {}, body)))
    const err = await alice.next((s) => s.is('message') && s.attrs.type === 'error' && s.attrs.id === 'm3')
    assert.ok(err.getChild('error').getChild('service-unavailable'))
    assert.match(err.getChild('error').getChildText('text') ?? '', /offline storage for carol@localhost is full/)
    assert.equal(alice.received.filter((s) => s.attrs.type === 'error').length, 1, 'm1 and m2 were kept')
    assert.deepEqual(
      seen.map((k) => k.body),
      ['m1', 'm2'],
    )
    const text = await small.metricsText()
    assert.equal(sample(text, 'xmppd_offline_messages_refused_total', { host: 'localhost' }), 1)
    assert.equal(sample(text, 'xmppd_offline_messages_stored_total', { host: 'localhost' }), 2)
    // Another account has its own bound.
    await alice.chat('dan@localhost', 'dan has room')
    await eventually(
      () => seen.length,
      (n) => assert.equal(n, 3),
    )
    await alice.stop()
  } finally {
    await small.stop()
  }
})

test('kept messages survive a restart of the server (SQLite under general.data_dir)', async () => {
  const first = await startTestServer({ users: USERS })
  const alice = await connectClient(first.c2sPort, 'alice@localhost', 'alice-pw')
  await alice.chat('carol@localhost', 'across a restart')
  await eventually(
    async () => sample(await first.metricsText(), 'xmppd_offline_messages', { host: 'localhost' }),
    (n) => assert.equal(n, 1),
  )
  await alice.stop()
  await first.stop()
  const second = await startTestServerAt(first.configFile)
  try {
    assert.equal(sample(await second.metricsText(), 'xmppd_offline_messages', { host: 'localhost' }), 1)
    const carol = await connectClient(second.c2sPort, 'carol@localhost', 'carol-pw')
    const m = await carol.next((s) => s.getChildText?.('body') === 'across a restart')
    assert.equal(m.attrs.from, 'alice@localhost/spec')
    assert.ok(m.getChild('delay', 'urn:xmpp:delay'))
    await carol.stop()
  } finally {
    await second.stop()
  }
})

test('max_offline_messages = 0: no offline storage; such messages bounce as before, msgoffline is not advertised', async () => {
  const off = await startTestServer({ users: USERS, general: { max_offline_messages: 0 } })
  const seen: typeof kept = []
  watchOffline(off, seen)
  try {
    const alice = await connectClient(off.c2sPort, 'alice@localhost', 'alice-pw')
    await alice.send(xml('message', { to: 'carol@localhost', type: 'chat', id: 'off1' }, xml('body', {}, 'nobody keeps this')))
    const err = await alice.next((s) => s.is('message') && s.attrs.type === 'error' && s.attrs.id === 'off1')
    assert.ok(err.getChild('error').getChild('service-unavailable'))
    const res = await alice.iq(xml('iq', { type: 'get', to: 'localhost' }, xml('query', { xmlns: 'http://jabber.org/protocol/disco#info' })))
    const features = res
      .getChild('query')
      .getChildren('feature')
      .map((f: Element) => f.attrs.var)
    assert.ok(!features.includes('msgoffline'))
    assert.ok(features.includes(NS_SID))
    assert.deepEqual(seen, [])
    const text = await off.metricsText()
    assert.equal(sample(text, 'xmppd_offline_messages_stored_total', { host: 'localhost' }), 0)
    assert.equal(sample(text, 'xmppd_offline_messages_refused_total', { host: 'localhost' }), 0)
    await alice.stop()
  } finally {
    await off.stop()
  }
})
