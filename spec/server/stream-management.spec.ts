// XEP-0198 stream management on the real server, with @xmpp/client (which enables it and resumes on
// its own) and a raw client that writes the nonzas itself: the feature, acks both ways, a cut socket
// resumed with nothing lost, a resumption refused once resume_timeout has passed, a detached session
// not online, its unacknowledged messages routed again when it ends (an iq answered with an error),
// a detached session replaced by a new bind, an unanswered idle ping that
// detaches rather than ends, at most 10 detached sessions per account, max_unacked_stanzas.
// Three servers: resumption generous (60 s), resumption short (1 s), and idle pings after 1 s.
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { jid } from '@xmpp/jid'
import { connectClient, xml, type TestClient } from '../helpers/client.js'
import { RawXmpp } from '../helpers/raw-xmpp.js'
import { sample, startTestServer, type TestServer } from '../helpers/xmppd.js'

const SM = 'urn:xmpp:sm:3'
let server: TestServer
let short: TestServer
let idle: TestServer

before(async () => {
  // The shared roster: tests watch contacts' presence (everyone sees everyone on the vhost).
  server = await startTestServer({ c2s: { resume_timeout: 60 }, general: { roster: 'shared' } })
  short = await startTestServer({ c2s: { resume_timeout: 1, max_unacked_stanzas: 10 }, general: { roster: 'shared' } })
  idle = await startTestServer({ c2s: { resume_timeout: 60, idle_timeout: 1, ping_timeout: 1 } })
})
after(async () => {
  await server?.stop()
  await short?.stop()
  await idle?.stop()
})

async function until(cond: () => boolean | Promise<boolean>, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 20))
  }
}

const metric = async (s: TestServer, name: string, labels: Record<string, string> = {}) => sample(await s.metricsText(), name, labels) ?? NaN
const bodies = (c: TestClient) => c.received.filter((s) => s.is('message')).map((s) => s.getChildText('body'))
const session = (s: TestServer, bare: string, resource: string) => s.sessions.full(bare, resource)

/** A raw login (STARTTLS, PLAIN) up to the features of the authenticated stream, without binding. */
async function authenticated(s: TestServer, user: string, password: string): Promise<RawXmpp> {
  const raw = await RawXmpp.connect(s.c2sPort)
  await raw.openStream()
  await raw.starttls()
  assert.match(await raw.auth(user, password), /^<success/)
  await raw.openStream()
  return raw
}

/** A raw session, bound, with stream management enabled (resumable unless `resume` is false); returns the id. */
async function enabled(raw: RawXmpp, resume = true): Promise<string> {
  raw.received = ''
  raw.send(`<enable xmlns='${SM}'${resume ? " resume='true'" : ''}/>`)
  const m = await raw.waitFor(/<enabled [^>]*\/>/)
  raw.received = ''
  return /id="([^"]+)"/.exec(m[0])?.[1] ?? ''
}

async function rawLogin(s: TestServer, user: string, password: string, resource: string, resume = true): Promise<{ raw: RawXmpp; id: string }> {
  const raw = await RawXmpp.connect(s.c2sPort)
  await raw.login(user, password, resource)
  return { raw, id: await enabled(raw, resume) }
}

test('<sm/> is offered once authenticated; <enable/> before bind fails, after bind it is enabled with an id', async () => {
  const raw = await authenticated(server, 'carol', 'carol-pw')
  assert.match(raw.received, /<sm xmlns="urn:xmpp:sm:3"\/>/)
  raw.send(`<enable xmlns='${SM}' resume='true'/>`)
  await raw.waitFor(/<failed xmlns="urn:xmpp:sm:3"><unexpected-request xmlns="urn:ietf:params:xml:ns:xmpp-stanzas"\/><\/failed>/)
  raw.send(`<iq type='set' id='b'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'><resource>features</resource></bind></iq>`)
  await raw.waitFor(/<jid>carol@localhost\/features<\/jid>/)
  raw.received = ''
  raw.send(`<enable xmlns='${SM}' resume='true'/>`)
  const [el] = await raw.waitFor(/<enabled [^>]*\/>/)
  assert.match(el, /resume="true"/)
  assert.match(el, /max="60"/)
  assert.match(el, /id="[\w-]{16,}"/)
  // Enabled once only.
  raw.send(`<enable xmlns='${SM}'/>`)
  await raw.waitFor(/<failed xmlns="urn:xmpp:sm:3"><unexpected-request/)
  raw.close()
})

test('disco#info of the server lists urn:xmpp:sm:3', async () => {
  const c = await connectClient(server.c2sPort, 'carol@localhost', 'carol-pw', { resource: 'disco' })
  const reply = await c.iq(xml('iq', { type: 'get', to: 'localhost' }, xml('query', { xmlns: 'http://jabber.org/protocol/disco#info' })))
  const features = reply
    .getChild('query')
    .getChildren('feature')
    .map((f: any) => f.attrs.var)
  assert.ok(features.includes(SM), features.join(' '))
  await c.stop()
})

test('acks both ways: <r/> answered with the count handled, <r/> asked after 5 stanzas, an ack past what was sent closes the stream', async () => {
  const { raw } = await rawLogin(server, 'alice', 'alice-pw', 'acks', false)
  raw.send(`<r xmlns='${SM}'/>`)
  await raw.waitFor(/<a xmlns="urn:xmpp:sm:3" h="0"\/>/)
  raw.send(`<iq type='get' id='p1' to='localhost'><ping xmlns='urn:xmpp:ping'/></iq><iq type='get' id='p2' to='localhost'><ping xmlns='urn:xmpp:ping'/></iq>`)
  raw.send(`<r xmlns='${SM}'/>`)
  await raw.waitFor(/<a xmlns="urn:xmpp:sm:3" h="2"\/>/)

  const bob = await connectClient(server.c2sPort, 'bob@localhost', 'bob-pw', { presence: false })
  for (let i = 1; i <= 5; i++) await bob.chat('alice@localhost/acks', `ack me ${i}`)
  await raw.waitFor(/ack me 5[\s\S]*<r xmlns="urn:xmpp:sm:3"\/>/)
  // What the server sent since <enable/>: the two ping results and the five messages.
  const sent = (raw.received.match(/<(message|iq|presence)[\s>]/g) ?? []).length
  assert.equal(sent, 7)
  raw.send(`<a xmlns='${SM}' h='${sent}'/>`)
  raw.send(`<r xmlns='${SM}'/>`)
  await raw.waitFor(/<a xmlns="urn:xmpp:sm:3" h="2"\/>[\s\S]*<a xmlns="urn:xmpp:sm:3" h="2"\/>/)
  raw.send(`<a xmlns='${SM}' h='${sent + 1}'/>`)
  await raw.waitFor(/<stream:error><undefined-condition/)
  await raw.waitClosed()
  await bob.stop()
})

test('@xmpp/client: a cut socket is resumed on a new connection with nothing lost; detached, the session is not online', async () => {
  const alice = await connectClient(server.c2sPort, 'alice@localhost', 'alice-pw', { resource: 'phone' })
  const sm = alice.xmpp.streamManagement
  await until(() => sm.enabled === true, '<enabled/>') // the client enables it once online
  assert.ok(sm.id)
  const bob = await connectClient(server.c2sPort, 'bob@localhost', 'bob-pw', { resource: 'desk' })
  await bob.chat('alice@localhost/phone', 'before the cut')
  await alice.next((s) => s.getChildText('body') === 'before the cut')
  const resumedBefore = await metric(server, 'xmppd_sm_resumed_total')

  alice.xmpp.socket.socket.destroy() // the TLS socket under @xmpp/tls's wrapper; no </stream:stream>: the connection is lost
  await until(() => session(server, 'alice@localhost', 'phone')?.detached === true, 'the session to detach')
  assert.equal(server.sessions.isOnline(jid('alice@localhost')), false)
  const detachedNow = await metric(server, 'xmppd_sm_sessions_detached')
  assert.ok(detachedNow >= 1)
  const sent = ['to the full JID 1', 'to the full JID 2', 'to the full JID 3']
  for (const body of sent) await bob.chat('alice@localhost/phone', body)
  await bob.chat('alice@localhost', 'to the bare JID')
  // Sent while detached: no error comes back.
  await bob.iq(xml('iq', { type: 'get', to: 'localhost' }, xml('ping', { xmlns: 'urn:xmpp:ping' })))
  assert.equal(bob.received.filter((s) => s.attrs.type === 'error').length, 0)

  const resumed = new Promise((resolve) => sm.once('resumed', resolve))
  await alice.xmpp.reconnect.reconnect()
  await resumed
  const expected = ['before the cut', ...sent, 'to the bare JID']
  await until(() => bodies(alice).length >= expected.length, 'the messages sent while detached')
  assert.deepEqual(bodies(alice), expected) // each once, in order
  assert.equal(String(alice.xmpp.jid), 'alice@localhost/phone')
  assert.equal(session(server, 'alice@localhost', 'phone')?.detached, false)
  assert.equal(server.sessions.isOnline(jid('alice@localhost')), true)
  assert.equal(await metric(server, 'xmppd_sm_sessions_detached'), detachedNow - 1)
  assert.equal(await metric(server, 'xmppd_sm_resumed_total'), resumedBefore + 1)

  // The resumed stream carries the session both ways.
  await alice.chat('bob@localhost/desk', 'after the resumption')
  const got = await bob.next((s) => s.getChildText('body') === 'after the resumption')
  assert.equal(got.attrs.from, 'alice@localhost/phone')
  await alice.stop()
  await bob.stop()
})

test('raw: what the client had not acknowledged is sent again after <resumed/>', async () => {
  const { raw, id } = await rawLogin(server, 'carol', 'carol-pw', 'retransmit')
  const bob = await connectClient(server.c2sPort, 'bob@localhost', 'bob-pw', { presence: false })
  await bob.chat('carol@localhost/retransmit', 'one')
  await bob.chat('carol@localhost/retransmit', 'two')
  await raw.waitFor(/two/)
  raw.send(`<a xmlns='${SM}' h='1'/>`) // "one" handled; "two" never acknowledged
  raw.close()
  await until(() => session(server, 'carol@localhost', 'retransmit')?.detached === true, 'the session to detach')
  await bob.chat('carol@localhost/retransmit', 'three')

  const next = await authenticated(server, 'carol', 'carol-pw')
  next.received = ''
  next.send(`<resume xmlns='${SM}' previd='${id}' h='1'/>`)
  await next.waitFor(/three/)
  assert.match(next.received, new RegExp(`^<resumed xmlns="urn:xmpp:sm:3" h="0" previd="${id}"/>`))
  assert.doesNotMatch(next.received, />one</)
  assert.match(next.received, /<body>two<\/body>[\s\S]*<body>three<\/body>/)
  // The resumed stream is bound: a stanza from it goes out with the session's full JID.
  next.send(`<message to='${bob.jid}' type='chat'><body>from the resumed stream</body></message>`)
  const got = await bob.next((s) => s.getChildText('body') === 'from the resumed stream')
  assert.equal(got.attrs.from, 'carol@localhost/retransmit')
  // Everything acknowledged (one, two, three), then a clean close: the session ends, nothing is routed again.
  const rerouted = await metric(server, 'xmppd_sm_unacked_rerouted_total')
  next.send(`<a xmlns='${SM}' h='3'/></stream:stream>`)
  await until(() => !session(server, 'carol@localhost', 'retransmit'), 'a clean close to end the session')
  assert.equal(await metric(server, 'xmppd_sm_unacked_rerouted_total'), rerouted)
  await bob.stop()
})

test('a <resume/> with an unknown id, or another account’s, fails with item-not-found', async () => {
  const { raw, id } = await rawLogin(server, 'alice', 'alice-pw', 'theirs')
  const before = await metric(server, 'xmppd_sm_resume_failed_total')
  for (const [user, pw, previd] of [
    ['bob', 'bob-pw', 'no-such-id'],
    ['bob', 'bob-pw', id],
  ]) {
    const other = await authenticated(server, user, pw)
    other.received = ''
    other.send(`<resume xmlns='${SM}' previd='${previd}' h='0'/>`)
    await other.waitFor(/<failed xmlns="urn:xmpp:sm:3"><item-not-found xmlns="urn:ietf:params:xml:ns:xmpp-stanzas"\/><\/failed>/)
    // The stream goes on: it may bind instead.
    other.send(`<iq type='set' id='b'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'/></iq>`)
    await other.waitFor(/<jid>bob@localhost\//)
    other.close()
  }
  assert.equal(await metric(server, 'xmppd_sm_resume_failed_total'), before + 2)
  assert.equal(session(server, 'alice@localhost', 'theirs')?.detached, false)
  raw.close()
})

test('past resume_timeout the session ends (unavailable to contacts) and a <resume/> fails with item-not-found', async () => {
  const bob = await connectClient(short.c2sPort, 'bob@localhost', 'bob-pw', { resource: 'watch' })
  const { raw, id } = await rawLogin(short, 'carol', 'carol-pw', 'late')
  raw.send('<presence/>')
  await bob.next((s) => s.is('presence') && s.attrs.from === 'carol@localhost/late' && !s.attrs.type)
  raw.close()
  await until(() => session(short, 'carol@localhost', 'late')?.detached === true, 'the session to detach')
  await bob.next((s) => s.is('presence') && s.attrs.from === 'carol@localhost/late' && s.attrs.type === 'unavailable')
  assert.equal(session(short, 'carol@localhost', 'late'), undefined)
  const next = await authenticated(short, 'carol', 'carol-pw')
  next.received = ''
  next.send(`<resume xmlns='${SM}' previd='${id}' h='0'/>`)
  await next.waitFor(/<failed xmlns="urn:xmpp:sm:3"><item-not-found/)
  next.close()
  await bob.stop()
})

test('when a detached session ends, its unacknowledged messages are routed again: to another resource of the account', async () => {
  const desk = await connectClient(short.c2sPort, 'alice@localhost', 'alice-pw', { resource: 'desk' })
  const { raw } = await rawLogin(short, 'alice', 'alice-pw', 'phone')
  const bob = await connectClient(short.c2sPort, 'bob@localhost', 'bob-pw', { presence: false })
  const before = await metric(short, 'xmppd_sm_unacked_rerouted_total')
  await bob.chat('alice@localhost/phone', 'unacked 1')
  await raw.waitFor(/unacked 1/)
  raw.close() // never acknowledged
  await until(() => session(short, 'alice@localhost', 'phone')?.detached === true, 'the session to detach')
  await bob.chat('alice@localhost/phone', 'unacked 2')
  await until(() => !session(short, 'alice@localhost', 'phone'), 'resume_timeout to end the session')
  await desk.next((s) => s.getChildText('body') === 'unacked 2')
  assert.deepEqual(bodies(desk), ['unacked 1', 'unacked 2'])
  assert.equal(await metric(short, 'xmppd_sm_unacked_rerouted_total'), before + 2)
  assert.equal(bob.received.filter((s) => s.attrs.type === 'error').length, 0)
  await desk.stop()
  await bob.stop()
})

test('an SM timeout puts the unacknowledged messages in offline storage: offline_message once each, then delivered at the next login', async () => {
  const pushed: string[] = []
  const unsubscribe = short.hooksOf('localhost')!.on('offline_message', (p, from, to) => {
    if (to.toString().startsWith('carol@localhost')) pushed.push(`${p.getChildText('body')} from ${from}`)
  })
  const { raw } = await rawLogin(short, 'carol', 'carol-pw', 'alone')
  const bob = await connectClient(short.c2sPort, 'bob@localhost', 'bob-pw', { presence: false })
  const before = await metric(short, 'xmppd_sm_unacked_rerouted_total')
  await bob.chat('carol@localhost/alone', 'for the offline store 1')
  await bob.chat('carol@localhost/alone', 'for the offline store 2')
  await raw.waitFor(/for the offline store 2/)
  raw.close() // never acknowledged
  await until(async () => (await metric(short, 'xmppd_sm_unacked_rerouted_total')) === before + 2, 'the messages to be routed again')
  assert.equal(session(short, 'carol@localhost', 'alone'), undefined)
  assert.deepEqual(pushed, [`for the offline store 1 from ${bob.jid}`, `for the offline store 2 from ${bob.jid}`]) // once each
  assert.equal(bob.received.filter((s) => s.attrs.type === 'error').length, 0)
  const carol = await connectClient(short.c2sPort, 'carol@localhost', 'carol-pw', { resource: 'back' })
  await carol.next((s) => s.getChildText('body') === 'for the offline store 2')
  assert.deepEqual(bodies(carol), ['for the offline store 1', 'for the offline store 2'])
  assert.ok(carol.received.every((s) => !s.is('message') || s.getChild('delay', 'urn:xmpp:delay')))
  unsubscribe()
  await carol.stop()
  await bob.stop()
})

test('an iq request a session never acknowledged gets service-unavailable back when the session ends', async () => {
  const { raw } = await rawLogin(short, 'carol', 'carol-pw', 'asked')
  const bob = await connectClient(short.c2sPort, 'bob@localhost', 'bob-pw', { presence: false })
  const asked = bob.iq(xml('iq', { type: 'get', to: 'carol@localhost/asked' }, xml('query', { xmlns: 'jabber:iq:version' })))
  await raw.waitFor(/jabber:iq:version/)
  raw.close() // neither answered nor acknowledged
  const reply = await asked
  assert.equal(reply.attrs.type, 'error')
  assert.ok(reply.getChild('error').getChild('service-unavailable', 'urn:ietf:params:xml:ns:xmpp-stanzas'))
  assert.equal(session(short, 'carol@localhost', 'asked'), undefined)
  await bob.stop()
})

test('a session detached and then replaced (same resource bound anew, no resumption) passes its unacknowledged messages to the new one', async () => {
  const { raw } = await rawLogin(server, 'carol', 'carol-pw', 'laptop')
  const bob = await connectClient(server.c2sPort, 'bob@localhost', 'bob-pw', { presence: false })
  await bob.chat('carol@localhost/laptop', 'kept for the laptop')
  await raw.waitFor(/kept for the laptop/)
  raw.close()
  await until(() => session(server, 'carol@localhost', 'laptop')?.detached === true, 'the session to detach')
  await bob.chat('carol@localhost/laptop', 'queued for the laptop')
  const fresh = await connectClient(server.c2sPort, 'carol@localhost', 'carol-pw', { resource: 'laptop' })
  await fresh.next((s) => s.getChildText('body') === 'queued for the laptop')
  assert.deepEqual(bodies(fresh), ['kept for the laptop', 'queued for the laptop'])
  assert.equal(session(server, 'carol@localhost', 'laptop')?.detached, false)
  await fresh.stop()
  await bob.stop()
})

test('past max_unacked_stanzas the stream is closed with policy-violation, counted as slow_reader', async () => {
  const { raw } = await rawLogin(short, 'carol', 'carol-pw', 'hoarder')
  const bob = await connectClient(short.c2sPort, 'bob@localhost', 'bob-pw', { presence: false })
  const before = await metric(short, 'xmppd_sessions_closed_total', { reason: 'slow_reader' })
  for (let i = 1; i <= 11; i++) await bob.chat('carol@localhost/hoarder', `hoard ${i}`)
  await raw.waitFor(/<stream:error><policy-violation[\s\S]*max_unacked_stanzas/)
  await raw.waitClosed()
  assert.equal(await metric(short, 'xmppd_sessions_closed_total', { reason: 'slow_reader' }), before + 1)
  await until(() => !session(short, 'carol@localhost', 'hoarder'), 'the session to end')
  await bob.stop()
})

test('an unanswered idle ping detaches a resumable session (the timeouts spare it) and it resumes', async () => {
  const { raw, id } = await rawLogin(idle, 'alice', 'alice-pw', 'sleepy')
  await raw.waitFor(/<stream:error><connection-timeout/, 10_000) // pinged, never answered
  await until(() => session(idle, 'alice@localhost', 'sleepy')?.detached === true, 'the session to detach')
  // Longer than idle_timeout + ping_timeout: the detached session is still there.
  await new Promise((r) => setTimeout(r, 3000))
  assert.equal(session(idle, 'alice@localhost', 'sleepy')?.detached, true)
  const next = await authenticated(idle, 'alice', 'alice-pw')
  next.received = ''
  next.send(`<resume xmlns='${SM}' previd='${id}' h='0'/>`)
  await next.waitFor(/<resumed xmlns="urn:xmpp:sm:3"/)
  // The ping the first connection never answered is sent again.
  await next.waitFor(/<iq [^>]*id="xmppd-ping-1"/)
  assert.equal(session(idle, 'alice@localhost', 'sleepy')?.detached, false)
  next.close()
})

test('at most 10 detached sessions per account: the oldest ends when an eleventh detaches', async () => {
  const ids: string[] = []
  for (let i = 0; i <= 10; i++) {
    const { raw, id } = await rawLogin(server, 'bob', 'bob-pw', `many${i}`)
    ids.push(id)
    raw.close()
    await until(() => session(server, 'bob@localhost', `many${i}`)?.detached === true || !session(server, 'bob@localhost', `many${i}`), `many${i} to detach`)
  }
  await until(() => !session(server, 'bob@localhost', 'many0'), 'the oldest to end')
  for (let i = 1; i <= 10; i++) assert.equal(session(server, 'bob@localhost', `many${i}`)?.detached, true, `many${i}`)
  assert.equal([...server.sessions.resources('bob@localhost')].filter((s) => s.detached).length, 10)
  const next = await authenticated(server, 'bob', 'bob-pw')
  next.received = ''
  next.send(`<resume xmlns='${SM}' previd='${ids[0]}' h='0'/>`)
  await next.waitFor(/<failed xmlns="urn:xmpp:sm:3"><item-not-found/)
  next.send(`<resume xmlns='${SM}' previd='${ids[10]}' h='0'/>`)
  await next.waitFor(/<resumed xmlns="urn:xmpp:sm:3"/)
  next.close()
})
