// Fuzz: a few thousand random and mutated stanzas and stream fragments (fixed seed, so a failure
// replays), sent by authenticated and unauthenticated streams in parallel. The server must
// survive every one, and end by routing a normal message.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { connectClient } from '../helpers/client.js'
import { RawXmpp } from '../helpers/raw-xmpp.js'
import { sample, startTestServer } from '../helpers/xmppd.js'

/** mulberry32: a tiny seeded PRNG. */
function prng(seed: number) {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed)
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

const SEED = 20261124
const CASES = 3000
const WORKERS = 8

const TEMPLATES = [
  `<message to='bob@localhost' type='chat' id='m1'><body>hello</body></message>`,
  `<message to='bob@localhost/res' type='groupchat'><body>x</body><subject>s</subject></message>`,
  `<message to='localhost' type='headline'><body/></message>`,
  `<message to='nobody@elsewhere.example' type='chat'><body>far</body></message>`,
  `<presence/>`,
  `<presence type='unavailable'/>`,
  `<presence to='bob@localhost' type='subscribe'/>`,
  `<presence to='bob@localhost' type='probe'/>`,
  `<presence><priority>-5</priority><show>dnd</show></presence>`,
  `<iq type='get' id='p' to='localhost'><ping xmlns='urn:xmpp:ping'/></iq>`,
  `<iq type='get' id='d'><query xmlns='http://jabber.org/protocol/disco#info' node='x'/></iq>`,
  `<iq type='set' id='r'><query xmlns='jabber:iq:roster'><item jid='x@localhost'/></query></iq>`,
  `<iq type='result' id='zz' to='bob@localhost/r'/>`,
  `<iq type='get' id='c'><command xmlns='http://jabber.org/protocol/commands' node='urn:xmppd:admin#reload'/></iq>`,
  `<iq type='set' id='c2' to='localhost'><command xmlns='http://jabber.org/protocol/commands' node='urn:xmppd:admin#plugin-disable' action='execute'/></iq>`,
  `<iq type='set' id='b'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'><resource>again</resource></bind></iq>`,
  `<message to='bob@localhost' from='admin@localhost' type='chat'><body>spoof</body><x xmlns='urn:unknown:ns'><deep><er/></deep></x></message>`,
  `<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>AGFsaWNlAGFsaWNlLXB3</auth>`,
  `<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>`,
  `<stream:stream to='localhost' xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' version='1.0'>`,
  `<r xmlns='urn:xmpp:sm:3'/>`,
]
const NOISE = [
  '<',
  '>',
  '/',
  '&',
  ';',
  '"',
  "'",
  '=',
  '\u0000',
  '\u00e9',
  '\ud83c\udf89',
  '&amp;',
  '&#x0;',
  '&#65;',
  ']]>',
  '<![CDATA[',
  ' ',
  'xmlns:a="b"',
  '<a:b>',
  '</stream:stream>',
  '\uffff',
  '\ud800',
]
const JIDS = [
  'bob@localhost',
  'BOB@LOCALHOST/Res',
  '@localhost',
  'a@b@c',
  'x'.repeat(1100) + '@localhost',
  'localhost/',
  '',
  'bob@localhost/\u0007',
  '[::1]',
  'é@localhost',
]

function mutate(rnd: () => number, s: string): string {
  const pick = <T>(xs: T[]) => xs[Math.floor(rnd() * xs.length)]
  switch (Math.floor(rnd() * 9)) {
    case 0: // truncate
      return s.slice(0, Math.floor(rnd() * s.length))
    case 1: // insert noise
    case 2: {
      const at = Math.floor(rnd() * s.length)
      return s.slice(0, at) + pick(NOISE) + s.slice(at)
    }
    case 3: // replace an address
      return s.replace(/to='[^']*'/, `to='${pick(JIDS)}'`)
    case 4: // deep nesting
      return `<message to='bob@localhost' type='chat'><body>n</body>${'<a>'.repeat(200 + Math.floor(rnd() * 800))}${'</a>'.repeat(200)}</message>`
    case 5: // random bytes
      return Array.from({ length: 1 + Math.floor(rnd() * 60) }, () => String.fromCharCode(Math.floor(rnd() * 0x3000))).join('')
    case 6: // duplicate a tag name swap
      return s.replace(/<(\w+)/, `<${pick(['message', 'iq', 'presence', 'x', 'stream:error', 'body'])}`)
    case 7: // many of them at once
      return s.repeat(2 + Math.floor(rnd() * 20))
    default: // unchanged
      return s
  }
}

test(`fuzz: ${CASES} cases (seed ${SEED}) do not crash the server; routing works after`, { timeout: 120_000 }, async () => {
  const server = await startTestServer({ admins: ['alice@localhost'], maxStanzaSize: 16384 })
  try {
    const rnd = prng(SEED)
    const cases = Array.from({ length: CASES }, () => ({ text: mutate(rnd, TEMPLATES[Math.floor(rnd() * TEMPLATES.length)]), auth: rnd() < 0.85 }))
    let reconnects = 0
    async function worker(w: number): Promise<void> {
      let raw: RawXmpp | undefined
      let authed = false
      for (let i = w; i < cases.length; i += WORKERS) {
        const c = cases[i]
        if (!raw || raw.closed || authed !== c.auth) {
          raw?.close()
          raw = await RawXmpp.connect(server.c2sPort)
          reconnects++
          if (c.auth) await raw.login('alice', 'alice-pw', `fuzz${w}`)
          else await raw.openStream()
          authed = c.auth
        }
        raw.send(c.text)
        await new Promise((r) => setImmediate(r))
      }
      raw?.close()
    }
    await Promise.all(Array.from({ length: WORKERS }, (_, w) => worker(w)))
    assert.ok(reconnects > WORKERS * 10, `only ${reconnects} streams closed: the fuzzer hardly reached the error paths`)
    assert.deepEqual(
      server.logs.filter((l) => l.level === 'error'),
      [],
      'no unexpected server errors',
    )
    const alice = await connectClient(server.c2sPort, 'alice@localhost', 'alice-pw', { resource: 'after' })
    const bob = await connectClient(server.c2sPort, 'bob@localhost', 'bob-pw', { resource: 'after' })
    await alice.chat('bob@localhost', 'after the fuzz')
    const m = await bob.next((s) => s.getChildText?.('body') === 'after the fuzz')
    assert.equal(m.attrs.from, 'alice@localhost/after')
    await Promise.all([alice.stop(), bob.stop()])
  } finally {
    await server.stop()
  }
})

/** Cuts bytes at random points (1 to 40 bytes a piece), or byte by byte. */
function cutter(rnd: () => number, byteByByte: boolean): (bytes: Buffer) => Buffer[] {
  return (bytes) => {
    const pieces: Buffer[] = []
    for (let i = 0; i < bytes.length;) {
      const len = byteByByte ? 1 : 1 + Math.floor(rnd() * 40)
      pieces.push(bytes.subarray(i, i + len))
      i += len
    }
    return pieces
  }
}

test('a whole session split byte by byte, then at random points, still works (multi-byte characters too)', { timeout: 60_000 }, async () => {
  const server = await startTestServer()
  try {
    const bob = await connectClient(server.c2sPort, 'bob@localhost', 'bob-pw', { resource: 'split' })
    for (const byteByByte of [true, false]) {
      const rnd = prng(SEED + (byteByByte ? 1 : 2))
      const raw = await RawXmpp.connect(server.c2sPort)
      raw.chunker = cutter(rnd, byteByByte)
      await raw.login('alice', 'alice-pw', byteByByte ? 'bytes' : 'random')
      for (let i = 0; i < 10; i++) {
        const body = `split ${byteByByte} ${i} é 🎉 &amp; <x/>`.replace('<x/>', '&lt;x/&gt;')
        raw.send(`<message to='bob@localhost/split' type='chat' id='s${i}'><body>${body}</body><z a='é&apos;🎉'/></message>`)
        const m = await bob.next((s) => s.attrs.id === `s${i}` && s.attrs.from === `alice@localhost/${byteByByte ? 'bytes' : 'random'}`)
        assert.equal(m.getChildText('body'), `split ${byteByByte} ${i} é 🎉 & <x/>`)
        assert.equal(m.getChild('z').attrs.a, `é'🎉`)
      }
      raw.close()
    }
    await bob.stop()
  } finally {
    await server.stop()
  }
})

const FORBIDDEN_CODES = [0x0, 0x1, 0x8, 0xb, 0xc, 0xe, 0x1f, 0xfffe, 0xffff, 0xd800, 0xdfff]

test('forbidden characters, raw or as references, split at random, always close with not-well-formed and are never routed', { timeout: 60_000 }, async () => {
  const server = await startTestServer()
  try {
    const bob = await connectClient(server.c2sPort, 'bob@localhost', 'bob-pw', { resource: 'f' })
    const rnd = prng(SEED + 3)
    for (let i = 0; i < 30; i++) {
      const code = FORBIDDEN_CODES[Math.floor(rnd() * FORBIDDEN_CODES.length)]
      const asRef = rnd() < 0.5 || code >= 0xd800 // a lone surrogate cannot be sent raw as UTF-8
      const bad = asRef ? (rnd() < 0.5 ? `&#${code};` : `&#x${code.toString(16)};`) : String.fromCharCode(code)
      const inText = rnd() < 0.5
      const raw = await RawXmpp.connect(server.c2sPort)
      await raw.login('alice', 'alice-pw', `f${i}`)
      raw.chunker = cutter(rnd, false)
      const stanza = inText
        ? `<message to='bob@localhost/f' type='chat'><body>case ${i} ${bad}</body></message>`
        : `<message to='bob@localhost/f' type='chat' id='c${i}${bad}'><body>case ${i}</body></message>`
      raw.send(stanza)
      await raw.waitFor(/<not-well-formed/)
      await raw.waitClosed()
    }
    const alice = await connectClient(server.c2sPort, 'alice@localhost', 'alice-pw', { resource: 'after' })
    await alice.chat('bob@localhost/f', 'clean')
    await bob.next((s) => s.getChildText?.('body') === 'clean')
    assert.deepEqual(
      bob.received.filter((s) => /case \d+/.test(String(s))),
      [],
      'nothing with a forbidden character reached bob',
    )
    await Promise.all([alice.stop(), bob.stop()])
  } finally {
    await server.stop()
  }
})

/** Bytes that are not UTF-8 (RFC 3629): each must close the stream however it is split. */
const INVALID_UTF8: Array<[string, number[]]> = [
  ['overlong NUL', [0xc0, 0x80]],
  ['overlong C1', [0xc1, 0xbf]],
  ['overlong 3-byte /', [0xe0, 0x80, 0xaf]],
  ['overlong 4-byte', [0xf0, 0x80, 0x80, 0x80]],
  ['surrogate D800', [0xed, 0xa0, 0x80]],
  ['surrogate DFFF', [0xed, 0xbf, 0xbf]],
  ['past U+10FFFF', [0xf4, 0x90, 0x80, 0x80]],
  ['F5 lead', [0xf5, 0x80, 0x80, 0x80]],
  ['FE', [0xfe]],
  ['FF', [0xff]],
  ['stray continuation', [0x80]],
  ['two stray continuations', [0xbf, 0xbf]],
  ['truncated 2-byte', [0xc3]],
  ['truncated 3-byte', [0xe2, 0x82]],
  ['truncated 4-byte', [0xf0, 0x9f, 0x8e]],
]

/** Writes `bytes` in the given pieces, a few event-loop turns apart (so the server reads them apart). */
async function sendPieces(raw: RawXmpp, bytes: Buffer, cuts: number[]): Promise<void> {
  let from = 0
  for (const at of [...cuts, bytes.length]) {
    if (at > from) raw.sendBytes(bytes.subarray(from, at))
    from = Math.max(from, at)
    await new Promise((r) => setTimeout(r, 2))
  }
}

test(
  'invalid UTF-8, whole or split at every position around it, closes with not-well-formed, is counted, and never reaches the recipient',
  { timeout: 120_000 },
  async () => {
    const server = await startTestServer()
    try {
      const forbidden = async () => sample(await server.registry.metrics(), 'xmppd_sessions_closed_total', { reason: 'forbidden_input' }) ?? 0
      const before = await forbidden()
      const bob = await connectClient(server.c2sPort, 'bob@localhost', 'bob-pw', { resource: 'u' })
      let closes = 0
      for (const [name, seq] of INVALID_UTF8) {
        const head = Buffer.from(`<message to='bob@localhost/u' type='chat'><body>case ${name} `)
        const bytes = Buffer.concat([head, Buffer.from(seq), Buffer.from(` end</body></message>`)])
        // Unsplit, then cut at each position from two bytes before the sequence to two after it.
        const splits: number[][] = [[]]
        for (let at = head.length - 2; at <= head.length + seq.length + 2; at++) splits.push([at])
        for (const cuts of splits) {
          const raw = await RawXmpp.connect(server.c2sPort)
          await raw.login('alice', 'alice-pw', 'u')
          await sendPieces(raw, bytes, cuts)
          await raw.waitFor(/<not-well-formed[^>]*\/><text[^>]*>input is not valid UTF-8/)
          await raw.waitClosed()
          closes++
        }
      }
      // Before the stream header (no TLS, no auth): refused the same way.
      const early = await RawXmpp.connect(server.c2sPort)
      early.sendBytes(Buffer.concat([Buffer.from(`<?xml version='1.0'?><stream:stream to='local`), Buffer.from([0xed, 0xa0, 0x80]), Buffer.from(`host'>`)]))
      await early.waitFor(/<not-well-formed/)
      await early.waitClosed()
      closes++
      assert.equal((await forbidden()) - before, closes, 'each close counted as forbidden_input')

      const alice = await connectClient(server.c2sPort, 'alice@localhost', 'alice-pw', { resource: 'after' })
      await alice.chat('bob@localhost/u', 'clean')
      await bob.next((s) => s.getChildText?.('body') === 'clean')
      assert.deepEqual(
        bob.received.filter((s) => /case /.test(String(s)) || String(s).includes('\ufffd')),
        [],
        'nothing with invalid UTF-8 (nor a U+FFFD made from it) reached bob',
      )
      await Promise.all([alice.stop(), bob.stop()])
    } finally {
      await server.stop()
    }
  },
)

test('valid multi-byte characters split at every byte position, and a literal U+FFFD, are accepted and routed intact', { timeout: 60_000 }, async () => {
  const server = await startTestServer()
  try {
    const bob = await connectClient(server.c2sPort, 'bob@localhost', 'bob-pw', { resource: 'v' })
    const raw = await RawXmpp.connect(server.c2sPort)
    await raw.login('alice', 'alice-pw', 'v')
    // 2, 3 and 4 bytes, U+FFFD sent as EF BF BD, the last code point U+10FFFF, U+FEFF, U+E000.
    const body = `é € 🎉 \ufffd \u{10ffff} \ufeff \ue000 ok`
    const bytes = Buffer.from(`<message to='bob@localhost/v' type='chat' id='ID'><body>${body}</body></message>`)
    const first = bytes.indexOf(0xc3) // é: the first non-ASCII byte
    const last = bytes.lastIndexOf(Buffer.from(' ok')) // after the last non-ASCII byte
    let sent = 0
    for (let at = first; at <= last; at++) {
      const id = `v${at}`
      const msg = Buffer.from(bytes.toString().replace("id='ID'", `id='${id}'`))
      await sendPieces(raw, msg, [at + id.length - 2])
      const m = await bob.next((s) => s.attrs.id === id)
      assert.equal(m.getChildText('body'), body, `split at byte ${at}`)
      sent++
    }
    assert.ok(sent > 20, `${sent} split positions`)
    assert.equal(raw.closed, false)
    raw.close()
    await bob.stop()
  } finally {
    await server.stop()
  }
})
