// Issue 14 (4): JID parts longer than RFC 7622's 1,023 bytes are jid-malformed, and the cache of
// parsed addresses stays bounded however many distinct huge addresses a client writes to, while
// chat between two others, and its webhook notification, go on.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { startTestServer } from '../helpers/xmppd.js'
import { RawXmpp } from '../helpers/raw-xmpp.js'
import { connectBystanders, pusherToml } from '../helpers/bystanders.js'
import { webhookRecorder } from '../helpers/webhook-recorder.js'

const rssMb = () => Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync('/proc/self/status', 'utf8'))![1]) / 1024
const errorOf = (raw: RawXmpp, id: string) => raw.waitFor(new RegExp(`<message(?=[^>]*id="${id}")[^>]*type="error"[\\s\\S]*?</message>`))

test('a `to` part longer than 1,023 bytes (counted in UTF-8) gets jid-malformed; 1,023 bytes is a JID', async () => {
  const server = await startTestServer()
  const raw = await RawXmpp.connect(server.c2sPort)
  try {
    await raw.login('alice', 'alice-pw')
    // 512 two-byte characters: 512 characters, 1,024 bytes.
    for (const [id, to] of [
      ['local', `${'é'.repeat(512)}@localhost`],
      ['domain', `bob@${'d'.repeat(1024)}`],
      ['resource', `bob@localhost/${'r'.repeat(1024)}`],
    ]) {
      raw.send(`<message to='${to}' id='${id}' type='chat'><body>x</body></message>`)
      const [reply] = await errorOf(raw, id)
      assert.match(reply, /<error type="modify"><jid-malformed/, id)
    }
    raw.send(`<message to='${'a'.repeat(1023)}@localhost' id='ok' type='chat'><body>x</body></message>`)
    const [reply] = await errorOf(raw, 'ok')
    assert.match(reply, /<service-unavailable/) // a well-formed JID, no such account
  } finally {
    raw.close()
    await server.stop()
  }
})

test('binding a resource longer than 1,023 bytes gets jid-malformed; 1,023 bytes binds', async () => {
  const server = await startTestServer()
  try {
    const raw = await RawXmpp.connect(server.c2sPort)
    await assert.rejects(raw.login('alice', 'alice-pw', 'é'.repeat(512)), /timed out|jid-malformed/)
    assert.match(raw.received, /<iq[^>]*type="error"[\s\S]*<jid-malformed/)
    raw.close()
    const ok = await RawXmpp.connect(server.c2sPort)
    assert.equal(await ok.login('alice', 'alice-pw', 'r'.repeat(1023)), `alice@localhost/${'r'.repeat(1023)}`)
    ok.close()
  } finally {
    await server.stop()
  }
})

test('writing to 3,000 distinct 60 KB addresses: each jid-malformed, memory bounded, chat between others (notified) goes on', async () => {
  const rec = await webhookRecorder()
  const server = await startTestServer({ extra: pusherToml(rec.url) })
  const bystanders = await connectBystanders(server.c2sPort, rec, { sender: ['carol@localhost', 'carol-pw'], recipient: ['bob@localhost', 'bob-pw'] })
  const raw = await RawXmpp.connect(server.c2sPort)
  try {
    await raw.login('alice', 'alice-pw')
    const before = rssMb()
    let answered = 0
    let tail = ''
    raw.onText((text) => {
      const seen = tail + text
      answered += seen.split('<jid-malformed').length - 1
      tail = seen.slice(-20)
    })
    const N = 3000
    const filler = 'x'.repeat(60_000)
    for (let i = 0; i < N; i++) {
      if (!raw.write(`<message to='${i}${filler}@localhost' type='chat'><body>x</body></message>`)) await raw.drained()
      if (i % 500 === 0) await bystanders.chat(`during ${i}`)
    }
    const deadline = Date.now() + 120_000
    while (answered < N && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50))
    assert.equal(answered, N)
    global.gc?.()
    // Before: the cache kept 10,000 such addresses, about 70 KB each (3,000 of them: over 200 MB).
    const grown = rssMb() - before
    console.log(`RSS grew by ${grown.toFixed(0)} MB for ${N} addresses`)
    assert.ok(grown < 120, `RSS grew by ${grown.toFixed(0)} MB`)
    await bystanders.chat('after')
  } finally {
    raw.close()
    await bystanders.stop()
    await server.stop()
    await rec.close()
  }
})
