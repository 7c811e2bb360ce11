// Client input that must never crash the server or disturb other sessions: unsupported SASL
// mechanisms, malformed XML, oversized stanzas, stanzas before TLS/auth/bind, auth floods.
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { connectClient, xml } from '../helpers/client.js'
import { RawXmpp } from '../helpers/raw-xmpp.js'
import { startTestServer, type TestServer } from '../helpers/xmppd.js'

let server: TestServer

before(async () => {
  server = await startTestServer({ maxStanzaSize: 4096 })
})
after(() => server.stop())

/** The server still serves: a fresh pair of clients exchanges a message. */
async function stillServes(): Promise<void> {
  const alice = await connectClient(server.c2sPort, 'alice@localhost', 'alice-pw')
  const bob = await connectClient(server.c2sPort, 'bob@localhost', 'bob-pw')
  await alice.chat('bob@localhost', 'still here')
  await bob.next((s) => s.getChildText?.('body') === 'still here')
  await Promise.all([alice.stop(), bob.stop()])
}

test('an unsupported SASL mechanism gets invalid-mechanism; the server survives', async () => {
  const raw = await RawXmpp.connect(server.c2sPort)
  await raw.openStream()
  await raw.starttls()
  assert.match(raw.received, /<mechanism>PLAIN<\/mechanism>/)
  raw.received = ''
  raw.send(`<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='X-NOT-OFFERED'>AAAA</auth>`)
  await raw.waitFor(/<failure[^>]*><invalid-mechanism\/><\/failure>/)
  raw.received = ''
  raw.send(`<response xmlns='urn:ietf:params:xml:ns:xmpp-sasl'>AAAA</response>`)
  await raw.waitFor(/<invalid-mechanism\/>/)
  // The same stream can still log in with PLAIN.
  assert.match(await raw.auth('alice', 'alice-pw'), /^<success/)
  raw.close()
  await stillServes()
})

test('malformed XML closes that stream with a stream error; others go on', async () => {
  const bystander = await connectClient(server.c2sPort, 'carol@localhost', 'carol-pw')
  const junks = [
    '<message><body>unclosed</wrong></message>',
    '<!DOCTYPE x [<!ENTITY a "b">]><x/>',
    '<message><body>&unknown;</body></message>',
    '<!-- a comment -->',
    '<?php echo 1 ?>',
  ]
  for (const junk of junks) {
    const raw = await RawXmpp.connect(server.c2sPort)
    await raw.login('alice', 'alice-pw', `junk${junk.length}`)
    raw.send(junk)
    await raw.waitClosed()
  }
  const raw = await RawXmpp.connect(server.c2sPort)
  await raw.login('alice', 'alice-pw', 'junk')
  raw.send('<message><body>unclosed</wrong></message>')
  await raw.waitFor(/<stream:error><not-well-formed/)
  await raw.waitClosed()
  const ping = await bystander.iq(xml('iq', { type: 'get', to: 'localhost' }, xml('ping', { xmlns: 'urn:xmpp:ping' })))
  assert.equal(ping.attrs.type, 'result')
  await bystander.stop()
  await stillServes()
})

test('an oversized stanza gets policy-violation, in one write or trickled', async () => {
  for (const chunked of [false, true]) {
    const raw = await RawXmpp.connect(server.c2sPort)
    await raw.login('alice', 'alice-pw', `big${chunked}`)
    const big = `<message to='bob@localhost' type='chat'><body>${'x'.repeat(20000)}</body></message>`
    if (chunked) for (let i = 0; i < big.length && !raw.closed; i += 1000) raw.send(big.slice(i, i + 1000))
    else raw.send(big)
    await raw.waitFor(/<policy-violation/)
    await raw.waitClosed()
  }
  // Just under the limit passes, and many small stanzas in one write are fine.
  const raw = await RawXmpp.connect(server.c2sPort)
  await raw.login('alice', 'alice-pw', 'small')
  const ok = `<iq type='get' id='p1' to='localhost'><ping xmlns='urn:xmpp:ping'/></iq>`
  raw.send(`<message to='localhost' type='headline'><body>${'y'.repeat(3500)}</body></message>` + ok.repeat(100))
  await raw.waitFor(/id="p1"/)
  assert.equal(raw.closed, false)
  raw.close()
  await stillServes()
})

test('multi-byte characters split across TCP writes arrive intact', async () => {
  const bob = await connectClient(server.c2sPort, 'bob@localhost', 'bob-pw')
  const raw = await RawXmpp.connect(server.c2sPort)
  await raw.login('alice', 'alice-pw', 'utf8')
  const bytes = Buffer.from(`<message to='bob@localhost' type='chat'><body>héllo 🎉 ü</body></message>`)
  for (let i = 0; i < bytes.length; i += 3) {
    raw.send(bytes.subarray(i, i + 3) as unknown as string)
    await new Promise((r) => setTimeout(r, 1))
  }
  // From this stream (alice/utf8): bob may first get what an earlier test left in offline storage.
  const m = await bob.next((s) => s.is('message') && String(s.attrs.from).endsWith('/utf8'))
  assert.equal(m.getChildText('body'), 'héllo 🎉 ü')
  raw.close()
  await bob.stop()
})

test('stanzas before STARTTLS, before auth and before bind are refused', async () => {
  const plain = await RawXmpp.connect(server.c2sPort)
  await plain.openStream()
  plain.send(`<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>AGFsaWNlAGFsaWNlLXB3</auth>`)
  await plain.waitFor(/<policy-violation/)
  await plain.waitClosed()

  const noAuth = await RawXmpp.connect(server.c2sPort)
  await noAuth.openStream()
  await noAuth.starttls()
  noAuth.send(`<message to='bob@localhost' type='chat'><body>sneaky</body></message>`)
  await noAuth.waitFor(/<not-authorized/)
  await noAuth.waitClosed()

  const noBind = await RawXmpp.connect(server.c2sPort)
  await noBind.openStream()
  await noBind.starttls()
  await noBind.auth('alice', 'alice-pw')
  await noBind.openStream()
  noBind.send(`<message to='bob@localhost' type='chat'><body>sneaky</body></message>`)
  await noBind.waitFor(/<not-authorized/)
  await noBind.waitClosed()

  const register = await RawXmpp.connect(server.c2sPort)
  await register.openStream()
  await register.starttls()
  register.send(`<iq type='get' id='r'><query xmlns='jabber:iq:register'/></iq>`)
  await register.waitFor(/<not-authorized/)
  await stillServes()
})

test('repeated failed logins close the stream (auth flood)', async () => {
  const raw = await RawXmpp.connect(server.c2sPort)
  await raw.openStream()
  await raw.starttls()
  for (let i = 0; i < 2; i++) assert.match(await raw.auth('alice', `bad${i}`), /<not-authorized/)
  raw.send(`<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>${Buffer.from('\0alice\0bad').toString('base64')}</auth>`)
  await raw.waitFor(/<policy-violation/)
  await raw.waitClosed()
})

test('an element that is not a stanza closes the stream with unsupported-stanza-type', async () => {
  const raw = await RawXmpp.connect(server.c2sPort)
  await raw.login('alice', 'alice-pw', 'odd')
  raw.send(`<foo xmlns='urn:example'/>`)
  await raw.waitFor(/<unsupported-stanza-type/)
  await raw.waitClosed()
  await stillServes()
})
