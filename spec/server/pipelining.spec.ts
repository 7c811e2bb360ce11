// Input pipelined past a stream restart (issue 14). Plaintext written in the same write right
// after `<starttls/>` (STARTTLS command injection, the CVE-2011-0411 class) is discarded: nothing
// of it is processed, before or after TLS. A new stream header pipelined right after `<auth>`
// (before `<success/>`) is held until the SASL outcome, then read as the restarted stream, under
// that stream's limits; after a `<failure/>` it goes on in the old stream and gets nowhere.
import { after, before, test } from 'node:test'
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { connectClient, type TestClient } from '../helpers/client.js'
import { RawXmpp } from '../helpers/raw-xmpp.js'
import { fixtureCert, startTestServer, type TestServer } from '../helpers/xmppd.js'

const HEADER = `<stream:stream to='localhost' xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' version='1.0'>`
const plain = (user: string, pw: string) => Buffer.from(`\0${user}\0${pw}`).toString('base64')
const AUTH = (user: string, pw: string) => `<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>${plain(user, pw)}</auth>`
const BIND = (resource: string) => `<iq type='set' id='bind1'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'><resource>${resource}</resource></bind></iq>`
const CA = readFileSync(fixtureCert, 'utf8')

let server: TestServer
let bob: TestClient

before(async () => {
  server = await startTestServer()
  bob = await connectClient(server.c2sPort, 'bob@localhost', 'bob-pw', { resource: 'pipe' })
})
after(async () => {
  await bob.stop()
  await server.stop()
})

/** Random cut points, one event-loop turn apart (so the server sees several reads). */
function randomCuts(seed: number): (bytes: Buffer) => Buffer[] {
  return (bytes) => {
    const pieces: Buffer[] = []
    for (let i = 0; i < bytes.length;) {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff
      const len = 1 + (seed % 23)
      pieces.push(bytes.subarray(i, i + len))
      i += len
    }
    return pieces
  }
}

test('plaintext pipelined after <starttls/> is discarded: not processed before or after TLS', async () => {
  const injected = [
    AUTH('alice', 'alice-pw'),
    HEADER + AUTH('alice', 'alice-pw'),
    `<iq type='set' id='inj'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'/></iq><message to='bob@localhost/pipe' type='chat'><body>injected</body></message>`,
    `<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>${plain('alice', 'alice-pw').slice(0, 5)}`, // an unfinished element
  ]
  for (const pipelined of injected) {
    const raw = await RawXmpp.connect(server.c2sPort)
    await raw.openStream()
    await raw.starttls(CA, pipelined) // TLS and the new stream's features: the stream was not closed
    assert.match(raw.received, /<mechanism>PLAIN<\/mechanism>/, 'the TLS stream is not authenticated: the plaintext <auth> was not processed')
    assert.doesNotMatch(raw.received, /<success|<failure|stream:error/)
    // The stream goes on normally over TLS.
    assert.match(await raw.auth('alice', 'alice-pw'), /^<success/)
    await raw.openStream()
    raw.send(BIND('after-tls'))
    await raw.waitFor(/<jid>alice@localhost\/after-tls<\/jid>/)
    raw.close()
  }
  assert.deepEqual(
    bob.received.filter((s) => String(s).includes('injected')),
    [],
    'the injected message never reached bob',
  )
})

test('a stream header and bind pipelined right after <auth> work: read as the restarted stream', async () => {
  for (const split of [false, true]) {
    const raw = await RawXmpp.connect(server.c2sPort)
    await raw.openStream()
    await raw.starttls(CA)
    raw.received = ''
    if (split) raw.chunker = randomCuts(7)
    const resource = `piped-${split}`
    raw.send(
      AUTH('alice', 'alice-pw') +
        HEADER +
        BIND(resource) +
        `<message to='bob@localhost/pipe' type='chat' id='p-${split}'><body>pipelined ${split}</body></message>`,
    )
    await raw.waitFor(new RegExp(`<jid>alice@localhost/${resource}</jid>`))
    assert.match(raw.received, /<success[^>]*\/>[\s\S]*<stream:stream[\s\S]*<bind/, 'success, then the new stream with bind offered')
    const m = await bob.next((s) => s.attrs.id === `p-${split}`)
    assert.equal(m.attrs.from, `alice@localhost/${resource}`)
    raw.close()
  }
})

test('after <auth>, the pipelined new stream is under its own limits (header bound applies)', async () => {
  const raw = await RawXmpp.connect(server.c2sPort)
  await raw.openStream()
  await raw.starttls(CA)
  raw.received = ''
  const bigHeader = HEADER.replace('<stream:stream ', `<stream:stream x='${'a'.repeat(9000)}' `)
  raw.send(AUTH('alice', 'alice-pw') + bigHeader)
  await raw.waitFor(/<success/)
  await raw.waitFor(/<policy-violation/)
  await raw.waitClosed()
})

test('a stream header and bind pipelined after a failing <auth> get nowhere: failure, then the stream is closed unbound', async () => {
  const raw = await RawXmpp.connect(server.c2sPort)
  await raw.openStream()
  await raw.starttls(CA)
  raw.received = ''
  raw.send(AUTH('alice', 'wrong') + HEADER + BIND('never') + `<message to='bob@localhost/pipe' type='chat'><body>unauthenticated</body></message>`)
  await raw.waitFor(/<failure/)
  await raw.waitFor(/<not-authorized[^>]*\/>[\s\S]*<\/stream:error>/)
  await raw.waitClosed()
  assert.doesNotMatch(raw.received, /<jid>|<success/)
  // Chat goes on, and nothing from the failed stream reached bob.
  const carol = await connectClient(server.c2sPort, 'carol@localhost', 'carol-pw', { resource: 'c' })
  await carol.chat('bob@localhost/pipe', 'still fine')
  await bob.next((s) => s.getChildText?.('body') === 'still fine')
  assert.deepEqual(
    bob.received.filter((s) => String(s).includes('unauthenticated')),
    [],
  )
  await carol.stop()
})
