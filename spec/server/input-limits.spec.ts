// Input limits that hold for every byte however the input is split (issue 14, items 1, 5, 7):
// unfinished start tags, the stream header and tag names are bounded; nesting is bounded by
// max_depth; forbidden characters (raw or as references) and a `<!` split across reads close the
// stream. A real server on loopback, attacked over raw TCP; chat between two other clients, and its
// webhook notification, go on during and after each attack.
import { after, before, test } from 'node:test'
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { connectBystanders, pusherToml, type Bystanders } from '../helpers/bystanders.js'
import type { TestClient } from '../helpers/client.js'
import { RawXmpp } from '../helpers/raw-xmpp.js'
import { webhookRecorder, type Recorder } from '../helpers/webhook-recorder.js'
import { startTestServer, type TestServer } from '../helpers/xmppd.js'

const HEADER = `<stream:stream to='localhost' xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' version='1.0'>`
const MB = 1024 * 1024
/** RSS may grow this much during a 10 MB attack (the unbounded parser grew by 100-150 MB). */
const RSS_BOUND = 48 * MB

let server: TestServer
let rec: Recorder
let bystanders: Bystanders
/** The bystanders' recipient, bob@localhost/chat. */
let bob: TestClient
let n = 0

before(async () => {
  rec = await webhookRecorder()
  server = await startTestServer({ maxStanzaSize: 65536, extra: pusherToml(rec.url) })
  bystanders = await connectBystanders(server.c2sPort, rec, { resource: 'chat' })
  bob = bystanders.recipient
})
after(async () => {
  await bystanders?.stop()
  await server?.stop()
  await rec?.close()
})

/** The in-process server's resident memory, from /proc. */
function rss(): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync('/proc/self/status', 'utf8'))
  assert.ok(m, 'VmRSS in /proc/self/status')
  return Number(m[1]) * 1024
}

/** A message from alice reaches bob, and its notification the recorder: chat goes on. */
async function chatWorks(): Promise<void> {
  await bystanders.chat(`still chatting ${++n}`)
}

/** Sends `prefix` then `total` bytes of `fill` in 64 KB writes, until the server closes. */
async function flood(raw: RawXmpp, prefix: string, fill: string, total: number): Promise<number> {
  raw.send(prefix)
  const chunk = fill.repeat(65536 / fill.length)
  let sent = 0
  while (sent < total && !raw.closed) {
    sent += chunk.length
    if (!raw.write(chunk)) await Promise.race([raw.drained(), raw.waitClosed(10_000)])
  }
  return sent
}

async function attack(prefix: string, fill: string, login = false): Promise<void> {
  const raw = await RawXmpp.connect(server.c2sPort)
  if (login) await raw.login('carol', 'carol-pw', 'attacker')
  const before = rss()
  const [sent] = await Promise.all([flood(raw, prefix, fill, 10 * MB), chatWorks()])
  await raw.waitFor(/<policy-violation/)
  await raw.waitClosed()
  const grown = rss() - before
  assert.ok(sent < 10 * MB, `closed before the 10 MB were sent (${sent} bytes)`)
  assert.ok(grown < RSS_BOUND, `RSS grew ${Math.round(grown / MB)} MB`)
  await chatWorks()
}

test('a 10 MB unfinished attribute value before auth is closed with policy-violation; memory stays bounded', async () => {
  await attack(`${HEADER}<message to='bob@localhost' a="`, 'x')
})

test('a 10 MB stream header is closed with policy-violation (its own 8 KiB bound)', async () => {
  await attack(`<stream:stream to='localhost' xmlns='jabber:client' a='`, 'y')
})

test('a 10 MB tag name is closed with policy-violation', async () => {
  await attack(`${HEADER}<`, 'n')
})

test('text between stanzas is bounded too', async () => {
  await attack(`${HEADER}`, 't')
})

test('after TLS and auth: a 10 MB attribute is closed and nothing reaches the recipient', async () => {
  await attack(`<message to='bob@localhost' type='chat'><body>big</body><x a='`, 'z', true)
  assert.ok(!bob.received.some((s) => s.getChildText?.('body') === 'big'), 'the oversized stanza was not routed')
  assert.ok(!rec.deliveries.some((d) => d.message === 'big'), 'nor notified')
})

test('max_depth (default 32): 32 levels are routed, 33 close the stream with policy-violation', async () => {
  const raw = await RawXmpp.connect(server.c2sPort)
  await raw.login('carol', 'carol-pw', 'deep')
  // message (1) > x (2..31) > body (32)
  raw.send(`<message to='bob@localhost/chat' type='chat'>${'<x>'.repeat(30)}<body>deep 32</body>${'</x>'.repeat(30)}</message>`)
  await bob.next((s) => String(s).includes('<body>deep 32</body>'))
  raw.send(`<message to='bob@localhost/chat' type='chat'>${'<x>'.repeat(31)}<body>deep 33</body>${'</x>'.repeat(31)}</message>`)
  await raw.waitFor(/<policy-violation/)
  await raw.waitClosed()
  await chatWorks()
  assert.ok(!bob.received.some((s) => String(s).includes('deep 33')), 'the too deep stanza was not routed')
})

const FORBIDDEN = ['\u0000', '\u0001', '\u001f', '\ufffe', '\uffff', '&#0;', '&#x1;', '&#xFFFE;', '&#xD800;', '&#x110000;']

test('forbidden characters, raw or as references, in text or attributes, close with not-well-formed', async () => {
  for (const [i, bad] of FORBIDDEN.entries()) {
    for (const where of ['text', 'attr']) {
      const raw = await RawXmpp.connect(server.c2sPort)
      await raw.login('carol', 'carol-pw', `bad${i}${where}`)
      const marker = `forbidden-${i}-${where}`
      const stanza =
        where === 'text'
          ? `<message to='bob@localhost' type='chat'><body>${marker} ${bad}</body></message>`
          : `<message to='bob@localhost' type='chat' id='${bad}'><body>${marker}</body></message>`
      raw.send(stanza)
      await raw.waitFor(/<not-well-formed/)
      await raw.waitClosed()
    }
  }
  await chatWorks()
  assert.ok(!bob.received.some((s) => String(s).includes('forbidden-')), 'nothing with a forbidden character was routed')
  assert.ok(!rec.deliveries.some((d) => d.message.includes('forbidden-')), 'nor notified')
})

test('a forbidden character before the stream header closes the stream too', async () => {
  const raw = await RawXmpp.connect(server.c2sPort)
  raw.send(`<stream:stream to='local\u0000host' xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' version='1.0'>`)
  await raw.waitFor(/<not-well-formed/)
  await raw.waitClosed()
})

/** Sends `a`, lets the server read it, then `b`. */
async function split(raw: RawXmpp, a: string, b: string): Promise<void> {
  raw.send(a)
  await new Promise((r) => setTimeout(r, 50))
  raw.send(b)
}

test('a `<!` split across two reads is refused with restricted-xml, before and after the header', async () => {
  const early = await RawXmpp.connect(server.c2sPort)
  await split(early, '<', '!DOCTYPE x [<!ENTITY a "b">]>')
  await early.waitFor(/<restricted-xml/)
  await early.waitClosed()

  const raw = await RawXmpp.connect(server.c2sPort)
  await raw.login('carol', 'carol-pw', 'comment')
  await split(raw, `<message to='bob@localhost' type='chat'><body>c</body><`, '!-- hidden --></message>')
  await raw.waitFor(/<restricted-xml/)
  await raw.waitClosed()

  const pi = await RawXmpp.connect(server.c2sPort)
  await pi.openStream()
  await split(pi, '<?', 'evil x?>')
  await pi.waitFor(/<restricted-xml/)
  await pi.waitClosed()
  await chatWorks()
})

test('the closes above are counted: xmppd_sessions_closed_total{reason="limit"} and {reason="forbidden_input"}', async () => {
  const text = await server.registry.metrics()
  const closed = (reason: string) => Number(new RegExp(`^xmppd_sessions_closed_total\\{reason="${reason}"\\} (\\d+)`, 'm').exec(text)?.[1] ?? 0)
  assert.ok(closed('limit') >= 5, `limit: ${closed('limit')}`)
  assert.ok(closed('forbidden_input') >= 3, `forbidden_input: ${closed('forbidden_input')}`)
})
