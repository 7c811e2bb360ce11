// Issue 16 (1, 7): SCRAM-SHA-256 and SCRAM-SHA-1 offered before PLAIN, with real clients on the
// real server: @xmpp/client (which speaks SCRAM-SHA-1), a raw SCRAM-SHA-256 exchange written on
// node:crypto (spec/helpers/scram-client.ts), a `xmppd hash-password --scram` credential (SCRAM and
// PLAIN), wrong passwords and unknown names (a stable salt, then not-authorized), the throttle and
// the three-failure close, a vhost with an scrypt account (PLAIN only, logged); and the streams: a
// new id on every header, <system-shutdown/> when the server stops.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { hashPassword } from '../../lib/server/xmpp/accounts.js'
import { connectClient } from '../helpers/client.js'
import { RawXmpp } from '../helpers/raw-xmpp.js'
import { sendxmpp } from '../helpers/sendxmpp.js'
import { offeredMechanisms, scramAuth } from '../helpers/scram-client.js'
import { DEFAULT_USERS, sample, spawnBin, startTestServer, startTestServerAt, type TestServer } from '../helpers/xmppd.js'

async function hashScramCli(password: string): Promise<string> {
  const p = spawnBin('xmppd', ['hash-password', '--scram'])
  p.child.stdin!.end(`${password}\n`)
  assert.equal(await p.exit, 0, p.stderr())
  return p.stdout().trim()
}

/** A TLS stream to `domain`, its features read. */
async function secureStream(server: TestServer, domain = 'localhost'): Promise<RawXmpp> {
  const raw = await RawXmpp.connect(server.c2sPort, domain)
  await raw.openStream()
  await raw.starttls()
  return raw
}

const authenticatedWith = (server: TestServer, jid: string) => server.logs.filter((l) => l.msg === 'authenticated' && l.jid === jid).map((l) => l.mechanism)

test('SCRAM: offered before PLAIN; @xmpp/client, left to choose, logs in with SCRAM-SHA-1; a raw SCRAM-SHA-256 and SCRAM-SHA-1 exchange, the server signature verified', async () => {
  const server = await startTestServer({ extra: '[auth]\nmin_failure_delay = 10\n' })
  try {
    const raw = await secureStream(server)
    assert.deepEqual(offeredMechanisms(raw), ['SCRAM-SHA-256', 'SCRAM-SHA-1', 'PLAIN'])
    const r256 = await scramAuth(raw, 'alice', 'alice-pw', 'SCRAM-SHA-256')
    assert.ok(r256.ok, r256.answer)
    assert.equal(r256.serverVerified, true)
    assert.equal(r256.iterations, 4096)
    // The stream restarts and binds as after PLAIN.
    await raw.openStream()
    raw.send(`<iq type='set' id='b1'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'><resource>raw</resource></bind></iq>`)
    assert.equal((await raw.waitFor(/<jid>([^<]+)<\/jid>/))[1], 'alice@localhost/raw')
    raw.close()

    const raw1 = await secureStream(server)
    const r1 = await scramAuth(raw1, 'bob', 'bob-pw', 'SCRAM-SHA-1')
    assert.ok(r1.ok && r1.serverVerified, r1.answer)
    raw1.close()

    const carol = await connectClient(server.c2sPort, 'carol@localhost', 'carol-pw', { resource: 'x', mechanism: 'auto' })
    assert.equal(carol.jid, 'carol@localhost/x')
    await carol.stop()
    assert.deepEqual(authenticatedWith(server, 'carol@localhost'), ['SCRAM-SHA-1'])
    assert.deepEqual(authenticatedWith(server, 'alice@localhost'), ['SCRAM-SHA-256'])
  } finally {
    await server.stop()
  }
})

test('go-sendxmpp (this Debian build knows no SCRAM) signs in with PLAIN where SCRAM is offered, also against a --scram hash', async () => {
  const erin = await hashScramCli('erin-pw')
  const server = await startTestServer({ users: { ...DEFAULT_USERS, 'erin@localhost': erin } })
  try {
    const bob = await connectClient(server.c2sPort, 'bob@localhost', 'bob-pw')
    await sendxmpp(server.c2sPort, 'alice@localhost', 'alice-pw', 'bob@localhost', 'hi from a plain secret')
    await sendxmpp(server.c2sPort, 'erin@localhost', 'erin-pw', 'bob@localhost', 'hi from a scram hash')
    await bob.next((m) => m.is('message') && m.getChildText('body') === 'hi from a plain secret')
    await bob.next((m) => m.is('message') && m.getChildText('body') === 'hi from a scram hash')
    await bob.stop()
    assert.deepEqual(authenticatedWith(server, 'erin@localhost'), ['PLAIN'])
  } finally {
    await server.stop()
  }
})

test('a `xmppd hash-password --scram` credential logs in with SCRAM-SHA-1, SCRAM-SHA-256 and PLAIN; a wrong password fails each way', async () => {
  const dave = await hashScramCli('dave pw ✓')
  assert.match(dave, /^scram\$4096\$[^$]+(\$[^$]+){4}$/)
  const server = await startTestServer({ users: { ...DEFAULT_USERS, 'dave@localhost': dave }, extra: '[auth]\nmin_failure_delay = 10\n' })
  try {
    const c = await connectClient(server.c2sPort, 'dave@localhost', 'dave pw ✓', { mechanism: 'SCRAM-SHA-1' })
    await c.stop()
    assert.deepEqual(authenticatedWith(server, 'dave@localhost'), ['SCRAM-SHA-1'])

    const raw = await secureStream(server)
    const salt = Buffer.from(dave.split('$')[2], 'base64').toString('base64')
    assert.equal((await scramAuth(raw, 'dave', 'wrong', 'SCRAM-SHA-256')).answer.includes('<not-authorized'), true)
    const ok = await scramAuth(raw, 'dave', 'dave pw ✓', 'SCRAM-SHA-256')
    assert.ok(ok.ok && ok.serverVerified, ok.answer)
    assert.equal(ok.salt, salt, 'the salt is the one in the hash')
    raw.close()

    const plain = await secureStream(server)
    assert.match(await plain.auth('dave', 'wrong'), /<not-authorized/)
    assert.match(await plain.auth('dave', 'dave pw ✓'), /^<success/)
    plain.close()
  } finally {
    await server.stop()
  }
})

test('a malformed scram$ credential is a config error', async () => {
  await assert.rejects(startTestServer({ users: { 'eve@localhost': 'scram$4096$c2FsdA==$x$y$z$w' } }), /hash-password --scram/)
})

test('wrong password and unknown names: a stable salt, then not-authorized; throttled; three failures close the stream', async () => {
  const server = await startTestServer({ extra: '[auth]\nmin_failure_delay = 10\nmax_failure_delay = 1\n' })
  const throttled = async () => sample(await server.metricsText(), 'xmppd_auth_throttled_total', {})
  try {
    const raw = await secureStream(server)
    const wrong = await scramAuth(raw, 'alice', 'nope', 'SCRAM-SHA-256')
    assert.match(wrong.answer, /<not-authorized/)
    const nobody1 = await scramAuth(raw, 'nobody', 'x', 'SCRAM-SHA-1')
    assert.match(nobody1.answer, /<not-authorized/)
    assert.equal(nobody1.iterations, 4096)
    assert.equal(Buffer.from(nobody1.salt!, 'base64').length, Buffer.from(wrong.salt!, 'base64').length, 'an unknown name gets a salt like an account')
    // The third failure closes the stream.
    const third = await scramAuth(raw, 'nobody', 'y', 'SCRAM-SHA-256')
    assert.match(third.answer, /<not-authorized/)
    await raw.waitFor(/policy-violation/)
    await raw.waitClosed()
    assert.ok((await throttled())! >= 1, 'repeated SCRAM failures are throttled')

    const again = await secureStream(server)
    const nobody2 = await scramAuth(again, 'nobody', 'z', 'SCRAM-SHA-256')
    assert.equal(nobody2.salt, nobody1.salt, 'stable per name')
    const other = await scramAuth(again, 'somebody-else', 'z', 'SCRAM-SHA-256')
    assert.notEqual(other.salt, nobody1.salt, 'differs between names')
    again.close()

    // Across a restart (the same data folder, its .xmppd-scram-secret): the same salts.
    await server.stop()
    const restarted = await startTestServerAt(server.configFile)
    try {
      const r = await secureStream(restarted)
      assert.equal((await scramAuth(r, 'nobody', 'x', 'SCRAM-SHA-1')).salt, nobody1.salt)
      assert.equal((await scramAuth(r, 'alice', 'x', 'SCRAM-SHA-1')).salt, wrong.salt)
      r.close()
    } finally {
      await restarted.stop()
    }
  } finally {
    await server.stop()
  }
})

test('malformed SCRAM: channel binding required by the client (p=), a tampered nonce: refused, and the stream goes on', async () => {
  const server = await startTestServer({ extra: '[auth]\nmin_failure_delay = 10\n' })
  try {
    const raw = await secureStream(server)
    assert.match((await scramAuth(raw, 'alice', 'alice-pw', 'SCRAM-SHA-256', { gs2: 'p=tls-unique,,' })).answer, /<failure/)
    assert.match((await scramAuth(raw, 'alice', 'alice-pw', 'SCRAM-SHA-256', { nonce: 'forged' })).answer, /<malformed-request/)
    raw.close()
    const y = await secureStream(server)
    // "y": the client could bind a channel but thinks the server cannot: fine.
    assert.ok((await scramAuth(y, 'alice', 'alice-pw', 'SCRAM-SHA-1', { gs2: 'y,,' })).ok)
    y.close()
  } finally {
    await server.stop()
  }
})

test('a vhost with an scrypt account offers PLAIN only (logged, naming it) and its accounts log in; other vhosts keep SCRAM', async () => {
  const server = await startTestServer({
    hosts: ['localhost', 'a.test'],
    users: { ...DEFAULT_USERS, 'olga@a.test': await hashPassword('olga-pw'), 'oscar@a.test': 'oscar-pw' },
  })
  try {
    const warning = server.logs.find((l) => l.host === 'a.test' && String(l.msg).includes('SCRAM is not offered'))
    assert.deepEqual(warning?.accounts, ['olga@a.test'])
    const held = await secureStream(server, 'a.test')
    assert.deepEqual(offeredMechanisms(held), ['PLAIN'])
    held.close()
    const olga = await connectClient(server.c2sPort, 'olga@a.test', 'olga-pw', { mechanism: 'auto' })
    const oscar = await connectClient(server.c2sPort, 'oscar@a.test', 'oscar-pw', { mechanism: 'auto' })
    await Promise.all([olga.stop(), oscar.stop()])
    assert.deepEqual(authenticatedWith(server, 'olga@a.test'), ['PLAIN'])
    assert.deepEqual(authenticatedWith(server, 'oscar@a.test'), ['PLAIN'])
    const local = await secureStream(server)
    assert.deepEqual(offeredMechanisms(local), ['SCRAM-SHA-256', 'SCRAM-SHA-1', 'PLAIN'])
    local.close()
  } finally {
    await server.stop()
  }
})

test('a new stream id on every header: at connection, after STARTTLS, after SASL', async () => {
  const server = await startTestServer()
  try {
    const raw = await RawXmpp.connect(server.c2sPort)
    const id = () => /<stream:stream[^>]*\sid=['"]([^'"]+)['"]/.exec(raw.received)?.[1]
    await raw.openStream()
    const first = id()
    await raw.starttls()
    const second = id()
    assert.ok((await scramAuth(raw, 'alice', 'alice-pw', 'SCRAM-SHA-256')).ok)
    await raw.openStream()
    const third = id()
    assert.ok(first && second && third, raw.received)
    assert.equal(new Set([first, second, third]).size, 3)
    raw.close()
  } finally {
    await server.stop()
  }
})

test('clients get <system-shutdown/> when the server stops, bound or still negotiating', async () => {
  const server = await startTestServer()
  const raw = await RawXmpp.connect(server.c2sPort)
  await raw.login('alice', 'alice-pw')
  const bob = await connectClient(server.c2sPort, 'bob@localhost', 'bob-pw', { mechanism: 'SCRAM-SHA-1' })
  const bobError = new Promise<Error>((resolve) => bob.xmpp.on('error', resolve))
  // Still negotiating: after STARTTLS, not authenticated.
  const early = await RawXmpp.connect(server.c2sPort)
  await early.openStream()
  await early.starttls()
  await server.stop()
  await early.waitFor(/<stream:error><system-shutdown /)
  await raw.waitFor(/<stream:error><system-shutdown xmlns=['"]urn:ietf:params:xml:ns:xmpp-streams['"]\/>/)
  assert.match(String((await bobError).message ?? (await bobError)), /system-shutdown/)
  await bob.stop()
})
