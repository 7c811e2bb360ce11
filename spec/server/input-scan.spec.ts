// The c2s pre-scan on its own: whatever the split of the input, the parser is handed the same
// text and the same error closes the stream. (The server-level attacks are in input-limits.spec.)
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { InputScanner } from '../../lib/server/xmpp/transport/input-scan.js'

const HEADER = `<?xml version='1.0'?>\n<stream:stream to='localhost' xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' version='1.0'>`
const LIMITS = { maxStanzaSize: 2048, maxHeaderSize: 8192, maxDepth: 4 }

const INPUTS: Array<[string, string]> = [
  ['valid', `${HEADER} \n<message to='a@b' x="1>2"><body>é 🎉 &amp; a&gt;b <![CDATA[ ]] > ]]]></body><c/></message>\t<presence/></stream:stream>`],
  ['comment', `${HEADER}<message><!-- x --></message>`],
  ['doctype before the header', `<!DOCTYPE x>${HEADER}`],
  ['processing instruction', `${HEADER}<?php x?>`],
  ['too deep', `${HEADER}<a><b><c><d><e/></d></c></b></a>`],
  ['NUL', `${HEADER}<message><body>\u0000</body></message>`],
  ['U+FFFF', `${HEADER}<message a='\uffff'/>`],
  ['unfinished attribute', `${HEADER}<message a='${'x'.repeat(3000)}`],
  ['long tag name', `${HEADER}<${'n'.repeat(3000)}`],
  ['long header', `<stream:stream a='${'h'.repeat(9000)}'>`],
]

function run(pieces: string[]): { fed: string; error?: string } {
  const scanner = new InputScanner(LIMITS)
  let fed = ''
  for (const p of pieces) {
    const r = scanner.scan(p)
    if ('error' in r) return { fed, error: r.error.condition }
    fed += r.feed
  }
  return { fed }
}

/** Every way to cut `s` in two, and 50 random cuts into many pieces (surrogate pairs kept whole). */
function splits(s: string): string[][] {
  const chars = Array.from(s)
  const out: string[][] = []
  for (let i = 1; i < chars.length; i++) out.push([chars.slice(0, i).join(''), chars.slice(i).join('')])
  let seed = 7
  for (let k = 0; k < 50; k++) {
    const pieces: string[] = []
    for (let i = 0; i < chars.length;) {
      seed = (seed * 1103515245 + 12345) % 2147483648
      const len = 1 + (seed % 9)
      pieces.push(chars.slice(i, i + len).join(''))
      i += len
    }
    out.push(pieces)
  }
  out.push(chars)
  return out
}

for (const [name, input] of INPUTS) {
  test(`pre-scan, ${name}: the same result however the input is split`, () => {
    const whole = run([input])
    for (const pieces of splits(input)) {
      const r = run(pieces)
      assert.equal(r.error, whole.error, `split ${JSON.stringify(pieces.slice(0, 3))}…`)
      if (!whole.error) assert.equal(r.fed, whole.fed)
    }
  })
}

test('pre-scan: the expected outcome for each input', () => {
  const outcome = Object.fromEntries(INPUTS.map(([name, input]) => [name, run([input]).error ?? 'ok']))
  assert.deepEqual(outcome, {
    valid: 'ok',
    comment: 'restricted-xml',
    'doctype before the header': 'restricted-xml',
    'processing instruction': 'restricted-xml',
    'too deep': 'policy-violation',
    NUL: 'not-well-formed',
    'U+FFFF': 'not-well-formed',
    'unfinished attribute': 'policy-violation',
    'long tag name': 'policy-violation',
    'long header': 'policy-violation',
  })
  // Whitespace between stanzas is dropped; everything else reaches the parser.
  const valid = INPUTS[0][1]
  assert.equal(run([valid]).fed, valid.replace('?>\n<', '?><').replace(' \n<message', '<message').replace('\t<presence', '<presence'))
})

test('stopAfterStanza: each scan ends after one top-level element and returns the rest unscanned; the feeds add up to the same text', () => {
  const input = `${HEADER}<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/> <auth mechanism='PLAIN'>AGEAYg==</auth><presence/><message><body>x</body></message><iq`
  const whole = run([input])
  for (const pieces of splits(input)) {
    const scanner = new InputScanner(LIMITS)
    scanner.stopAfterStanza = true
    const feeds: string[] = []
    for (const p of pieces) {
      for (let rest: string | undefined = p; rest;) {
        const r = scanner.scan(rest)
        assert.ok(!('error' in r))
        feeds.push(r.feed)
        rest = r.rest
      }
    }
    assert.equal(feeds.join(''), whole.fed)
    // No feed ever holds the end of one top-level element and anything of the next.
    for (const f of feeds) assert.doesNotMatch(f, /(\/>|<\/\w+>)\s*<(?!\/)/, `feed ${JSON.stringify(f)}`)
  }
})
