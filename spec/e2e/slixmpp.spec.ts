// A client library nobody here wrote: slixmpp (Debian's python3-slixmpp) against the real server.
// It sees stream management, offline storage and stanza ids advertised and working: XEP-0198
// enabled and resumable, messages to an offline account delivered at its login in order with an
// XEP-0203 delay and an XEP-0359 stanza-id by the recipient, and a live message's stanza-id; and
// the stored roster: a nickname set, the subscription handshake, presence, a remove. It signs in
// with SCRAM-SHA-256.
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { sample, startTestServer, type TestServer } from '../helpers/xmppd.js'
import { slixmpp } from '../helpers/slixmpp.js'

let server: TestServer

before(async () => {
  server = await startTestServer()
})
after(() => server.stop())

test('slixmpp: SM enabled, offline messages at login in order with delay and stanza-id, a live stanza-id', async () => {
  const out = (await slixmpp('offline_sm.py', server.c2sPort)) as {
    features: string[]
    offline: Array<{ body: string; delay: boolean; sid: string; by: string }>
    sm: { alice: boolean; bob: boolean; bob_resumable: boolean }
    live: Array<{ body: string; delay: boolean; sid: string; by: string }>
  }
  for (const f of ['urn:xmpp:sm:3', 'msgoffline', 'urn:xmpp:sid:0']) assert.ok(out.features.includes(f), `${f} in ${out.features}`)
  assert.deepEqual(out.sm, { alice: true, bob: true, bob_resumable: true })
  assert.deepEqual(
    out.offline.map((m) => [m.body, m.delay, m.by]),
    [0, 1, 2].map((i) => [`offline ${i}`, true, 'bob@localhost']),
  )
  assert.deepEqual(
    out.live.map((m) => [m.body, m.delay, m.by]),
    [['live', false, 'bob@localhost']],
  )
  const ids = [...out.offline, ...out.live].map((m) => m.sid)
  assert.ok(ids.every((id) => typeof id === 'string' && id.length > 0))
  assert.equal(new Set(ids).size, ids.length, 'stanza ids are unique')
  const metrics = await (await fetch(`http://127.0.0.1:${server.httpPort}/metrics`)).text()
  assert.equal(sample(metrics, 'xmppd_offline_messages_stored_total', { host: 'localhost' }), 3)
  assert.equal(sample(metrics, 'xmppd_offline_messages_delivered_total', { host: 'localhost' }), 3)
  // SCRAM offered first (issue 16): slixmpp picks SCRAM-SHA-256 for every login.
  const mechanisms = server.logs.filter((l) => l.msg === 'authenticated').map((l) => l.mechanism)
  assert.ok(mechanisms.length >= 2 && mechanisms.every((m) => m === 'SCRAM-SHA-256'), String(mechanisms))
  // bob acked before closing: nothing was routed again.
  assert.equal(sample(metrics, 'xmppd_sm_unacked_rerouted_total'), 0)
})

test('slixmpp: a roster nickname and group are stored; the subscription handshake ends in both, presence flows; remove', async () => {
  const out = await slixmpp('roster.py', server.c2sPort)
  assert.deepEqual(out, {
    carol: { name: 'Caro', groups: ['Friends'], subscription: 'none' },
    alice_bob: 'both',
    bob_alice: 'both',
    alice_sees: ['py'],
    bob_sees: ['py'],
    after_remove: ['bob@localhost'],
    errors: [],
  })
})
