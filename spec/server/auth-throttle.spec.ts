// Issue 14 (6): failed logins are answered after a delay that grows with recent failures from the
// IP and for the account (never a ban), every failure takes at least auth.min_failure_delay, and
// a flood against an scrypt account does not keep others from logging in. Only lower bounds on
// time are asserted (the machine may be slow, never fast); chat between two others, and its
// webhook notification, go on during and after the flood.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { hashPassword } from '../../lib/server/xmpp/accounts.js'
import { RawXmpp } from '../helpers/raw-xmpp.js'
import { connectBystanders, pusherToml } from '../helpers/bystanders.js'
import { eventually } from '../helpers/metrics.js'
import { webhookRecorder } from '../helpers/webhook-recorder.js'
import { sample, startTestServer, type TestServer } from '../helpers/xmppd.js'

/** One SASL PLAIN attempt on a fresh TLS stream from `ip`; resolves with its answer and how long it took. */
async function attempt(server: TestServer, ip: string, user: string, password: string): Promise<{ answer: string; ms: number }> {
  const raw = await RawXmpp.connect(server.c2sPort, 'localhost', ip)
  try {
    await raw.openStream()
    await raw.starttls()
    const started = performance.now()
    const answer = await raw.auth(user, password)
    return { answer, ms: performance.now() - started }
  } finally {
    raw.close()
  }
}

const throttled = async (server: TestServer) => sample(await server.metricsText(), 'xmppd_auth_throttled_total', {})

test('repeated failures from one IP for one account: each answered no sooner than its doubled delay, up to the maximum; counted; never a ban', async () => {
  const server = await startTestServer({ extra: '[auth]\nmin_failure_delay = 100\nmax_failure_delay = 1\n' })
  try {
    assert.equal(await throttled(server), 0)
    const floors = [100, 200, 400, 800, 1000, 1000]
    for (const [i, floor] of floors.entries()) {
      const { answer, ms } = await attempt(server, '127.0.0.2', 'alice', 'wrong')
      assert.match(answer, /<not-authorized/)
      assert.ok(ms >= floor, `failure ${i + 1} answered after ${ms.toFixed(0)} ms, before ${floor} ms`)
    }
    // Every failure after the first was delayed by the earlier ones.
    assert.equal(await throttled(server), floors.length - 1)
    // The account's failures slow it from another IP too; the IP's, for another account.
    assert.ok((await attempt(server, '127.0.0.3', 'alice', 'wrong')).ms >= 1000)
    assert.ok((await attempt(server, '127.0.0.2', 'bob', 'wrong')).ms >= 1000)
    assert.equal(await throttled(server), floors.length + 1)
    // Throttled, not banned: the right password still logs in from the same IP.
    assert.match((await attempt(server, '127.0.0.2', 'alice', 'alice-pw')).answer, /<success/)
  } finally {
    await server.stop()
  }
})

test('a wrong password takes at least auth.min_failure_delay (250 ms): unknown user, plain secret, scrypt hash', async () => {
  const server = await startTestServer({ users: { 'plain@localhost': 'plain-pw', 'hashed@localhost': await hashPassword('hashed-pw') } })
  try {
    for (const [ip, user] of [
      ['127.0.0.4', 'nobody'],
      ['127.0.0.5', 'plain'],
      ['127.0.0.6', 'hashed'],
    ]) {
      const { answer, ms } = await attempt(server, ip, user, 'wrong')
      assert.match(answer, /<not-authorized/, user)
      assert.ok(ms >= 250, `${user}: answered after ${ms.toFixed(0)} ms`)
    }
    assert.equal(await throttled(server), 0) // first failures: the minimum only
  } finally {
    await server.stop()
  }
})

test('a flood of wrong passwords against an scrypt account: another account logs in from another IP meanwhile, and chats (notified)', async () => {
  const users = { 'alice@localhost': await hashPassword('alice-pw'), 'bob@localhost': await hashPassword('bob-pw'), 'carol@localhost': 'carol-pw' }
  const rec = await webhookRecorder()
  const server = await startTestServer({ users, extra: `[auth]\nmin_failure_delay = 20\nmax_failure_delay = 0.2\n${pusherToml(rec.url)}` })
  let flooding = true
  const flooders = Array.from({ length: 24 }, async () => {
    while (flooding) await attempt(server, '127.0.0.7', 'alice', 'wrong').catch(() => undefined)
  })
  try {
    await new Promise((resolve) => setTimeout(resolve, 1000)) // the flood is under way
    const bystanders = await connectBystanders(server.c2sPort, rec, { sender: ['bob@localhost', 'bob-pw'], recipient: ['carol@localhost', 'carol-pw'] })
    try {
      await bystanders.chat('during the flood')
      // The flood was being throttled (its first wave, all at once, had no earlier failures).
      await eventually(
        () => throttled(server),
        (n) => assert.ok((n ?? 0) > 0),
        10_000,
      )
      await bystanders.chat('still during the flood')
      flooding = false
      await Promise.all(flooders)
      await bystanders.chat('after the flood')
    } finally {
      await bystanders.stop()
    }
  } finally {
    flooding = false
    await Promise.all(flooders)
    await server.stop()
    await rec.close()
  }
})
