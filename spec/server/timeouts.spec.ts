// Handshake and idle timeouts (issue 14): a connection that does not finish TLS, SASL and bind in
// handshake_timeout is closed with connection-timeout; a bound session silent for idle_timeout
// gets an XEP-0199 ping and is kept if it answers, closed if it does not within ping_timeout.
// Real server on loopback with limits of a few seconds; nothing here asserts how long anything took.
// Two bystanders logged in throughout (they answer pings, so they stay) chat while each attacking
// connection is open and after it is closed, and each message is notified to a webhook recorder.
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { connectBystanders, pusherToml, type Bystanders } from '../helpers/bystanders.js'
import { RawXmpp } from '../helpers/raw-xmpp.js'
import { webhookRecorder, type Recorder } from '../helpers/webhook-recorder.js'
import { sample, startTestServer, type TestServer } from '../helpers/xmppd.js'

let server: TestServer
let rec: Recorder
let bystanders: Bystanders

before(async () => {
  rec = await webhookRecorder()
  server = await startTestServer({ c2s: { handshake_timeout: 3, idle_timeout: 1, ping_timeout: 2 }, extra: pusherToml(rec.url) })
  bystanders = await connectBystanders(server.c2sPort, rec, { sender: ['carol@localhost', 'carol-pw'], recipient: ['alice@localhost', 'alice-pw'] })
})
after(async () => {
  await bystanders?.stop()
  await server?.stop()
  await rec?.close()
})

async function closedFor(reason: string): Promise<number> {
  return sample(await server.metricsText(), 'xmppd_sessions_closed_total', { reason }) ?? NaN
}

/** A fresh pair of real clients logs in and exchanges a message, which is notified. */
async function chatWorks(): Promise<void> {
  const fresh = await connectBystanders(server.c2sPort, rec, { recipient: ['carol@localhost', 'carol-pw'], resource: 'fresh' })
  await fresh.chat('still here')
  await fresh.stop()
}

test('all four close reasons are there from the start, at zero', async () => {
  const text = await server.metricsText()
  for (const reason of ['limit', 'timeout', 'slow_reader', 'forbidden_input']) {
    assert.equal(typeof sample(text, 'xmppd_sessions_closed_total', { reason }), 'number', reason)
  }
})

test('a connection that never sends its stream header is closed with connection-timeout', async () => {
  const before = await closedFor('timeout')
  const raw = await RawXmpp.connect(server.c2sPort)
  await bystanders.chat('while a silent connection is open')
  await raw.waitFor(/<stream:error><connection-timeout/, 10_000)
  await raw.waitClosed(10_000)
  assert.ok((await closedFor('timeout')) > before)
  await bystanders.chat('after it was closed')
})

test('a stream that stops after STARTTLS (no SASL) is closed with connection-timeout', async () => {
  const raw = await RawXmpp.connect(server.c2sPort)
  await raw.openStream()
  await raw.starttls()
  await bystanders.chat('while a stream stuck after STARTTLS is open')
  await raw.waitFor(/<stream:error><connection-timeout/, 10_000)
  await raw.waitClosed(10_000)
  await bystanders.chat('after it was closed')
})

test('a silent bound session is pinged; answered it stays, unanswered it is closed', async () => {
  const raw = await RawXmpp.connect(server.c2sPort)
  await raw.login('bob', 'bob-pw', 'idle')
  const pingOf = /<iq [^>]*id=["'](xmppd-ping-\d+)["'][^>]*><ping xmlns=["']urn:xmpp:ping["']\/><\/iq>/
  const first = await raw.waitFor(pingOf, 10_000)
  assert.match(first[0], /type=["']get["']/)
  raw.received = ''
  raw.send(`<iq type='result' id='${first[1]}' to='localhost'/>`)
  // Kept: once silent again it gets the next ping, on the same stream.
  const second = await raw.waitFor(pingOf, 10_000)
  assert.notEqual(second[1], first[1])
  assert.equal(raw.closed, false)
  const before = await closedFor('timeout')
  await bystanders.chat('while a silent session is being pinged')
  await raw.waitFor(/<stream:error><connection-timeout/, 10_000)
  await raw.waitClosed(10_000)
  assert.ok((await closedFor('timeout')) > before)
  // A bound session that went quiet well past the handshake timeout was never cut for it.
  await bystanders.chat('after it was closed')
  await chatWorks()
})
