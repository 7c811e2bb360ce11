// Connection limits and slow readers (issue 14): past max_connections (in total) or
// max_connections_per_ip a new TCP connection is closed at once, unanswered, and counted; a client
// that never reads is closed with policy-violation once more than max_send_buffer is queued for
// it, the server's memory stays bounded, and chat between other clients, and its webhook
// notification, go on during and after each attack. Real server and clients on loopback.
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { connectBystanders, pusherToml, type Bystanders } from '../helpers/bystanders.js'
import { connectClient, xml } from '../helpers/client.js'
import { RawXmpp } from '../helpers/raw-xmpp.js'
import { webhookRecorder, type Recorder } from '../helpers/webhook-recorder.js'
import { sample, startTestServer, type TestServer } from '../helpers/xmppd.js'
import { OPEN_FILES_MARGIN, effectiveMaxConnections, openFilesLimit } from '../../lib/server/xmpp/open-files.js'

const PER_IP = 6
/** Where the per-IP attacker connects from: the bystanders (127.0.0.1) are another client IP. */
const ATTACKER_IP = '127.0.0.2'
let server: TestServer
let rec: Recorder
/** Logged in from 127.0.0.1 throughout: 2 of that IP's PER_IP connections. */
let bystanders: Bystanders

before(async () => {
  rec = await webhookRecorder()
  server = await startTestServer({ c2s: { max_connections_per_ip: PER_IP, max_send_buffer: 262144 }, extra: pusherToml(rec.url) })
  bystanders = await connectBystanders(server.c2sPort, rec, { recipient: ['carol@localhost', 'carol-pw'] })
})
after(async () => {
  await bystanders?.stop()
  await server?.stop()
  await rec?.close()
})

async function metric(name: string, reason: string, on: TestServer = server): Promise<number> {
  return sample(await on.metricsText(), name, { reason }) ?? NaN
}

/** This process's resident memory (the server runs in it), in bytes. */
function rss(): number {
  const kb = /^VmRSS:\s+(\d+) kB/m.exec(readFileSync('/proc/self/status', 'utf8'))
  return Number(kb?.[1]) * 1024
}

/** A fresh pair logs in and exchanges a message, which is notified. */
async function chatWorks(on: TestServer = server): Promise<void> {
  const fresh = await connectBystanders(on.c2sPort, rec, { recipient: ['carol@localhost', 'carol-pw'], resource: 'fresh' })
  await fresh.chat('still here')
  await fresh.stop()
}

/** Connects from `ip` until a stream header is answered (the limit's count dropped), then closes. */
async function servedAgain(port: number, ip?: string): Promise<void> {
  for (;;) {
    const raw = await RawXmpp.connect(port, 'localhost', ip)
    const ok = await raw.openStream().then(
      () => true,
      () => false,
    )
    raw.close()
    if (ok) return
    await new Promise((r) => setTimeout(r, 100))
  }
}

test('max_connections in force stays below the open-files limit, and is logged', () => {
  const limit = Number(/^Max open files\s+(\d+)/m.exec(readFileSync('/proc/self/limits', 'utf8'))?.[1])
  assert.equal(openFilesLimit(), limit)
  const listening = server.logs.find((l) => l.msg === 'c2s listening')
  assert.equal(listening?.open_files_limit, limit)
  assert.equal(listening?.max_connections, Math.min(10_000, limit - OPEN_FILES_MARGIN))
  // A low limit caps it, the pools' sockets counted; configured lower, the configured value holds.
  assert.equal(effectiveMaxConnections(10_000, 100, 1024), 1024 - OPEN_FILES_MARGIN - 100)
  assert.equal(effectiveMaxConnections(50, 100, 1024), 50)
  assert.equal(openFilesLimit('Max open files            unlimited            unlimited            files'), undefined)
})

test('past max_connections_per_ip a new connection is closed unanswered and counted', async () => {
  assert.equal(await metric('xmppd_connections_refused_total', 'max_connections'), 0)
  const before = await metric('xmppd_connections_refused_total', 'max_connections_per_ip')
  const held: RawXmpp[] = []
  for (let i = 0; i < PER_IP; i++) {
    const raw = await RawXmpp.connect(server.c2sPort, 'localhost', ATTACKER_IP)
    await raw.openStream() // answered: within the limit
    held.push(raw)
  }
  const refused = await RawXmpp.connect(server.c2sPort, 'localhost', ATTACKER_IP)
  await refused.waitClosed()
  assert.equal(refused.received, '')
  assert.equal(await metric('xmppd_connections_refused_total', 'max_connections_per_ip'), before + 1)
  // Another IP is not held back by it: the bystanders chat, notified, while the attacker holds its limit.
  await bystanders.chat('while one IP is at its limit')
  assert.ok(held.every((raw) => !raw.closed))
  for (const raw of held) raw.close()
  // The count drops as they close: eventually a new connection is served again.
  await servedAgain(server.c2sPort, ATTACKER_IP)
  await bystanders.chat('after the attacker left')
  await chatWorks()
})

test('past max_connections (in total) a new connection is closed unanswered and counted; chat, its notification and /health go on', async () => {
  // 12: the two bystanders and ten attackers (max_connections accepts 1 and up). The attackers come
  // from another IP than the bystanders and the refused connection from a third, so only the total
  // can refuse it (max_connections_per_ip stays at its default, 100). handshake_timeout is long so
  // that the attackers' unfinished streams are not closed before the spec closes them.
  const TOTAL = 12
  const capped = await startTestServer({ c2s: { max_connections: TOTAL, handshake_timeout: 600 }, extra: pusherToml(rec.url) })
  const held: RawXmpp[] = []
  let pair: Bystanders | undefined
  try {
    assert.equal(capped.logs.find((l) => l.msg === 'c2s listening')?.max_connections, TOTAL)
    pair = await connectBystanders(capped.c2sPort, rec, { resource: 'capped' })
    while (held.length < TOTAL - 2) {
      const raw = await RawXmpp.connect(capped.c2sPort, 'localhost', '127.0.0.3')
      await raw.openStream() // answered: counted in
      held.push(raw)
    }
    const refused = await RawXmpp.connect(capped.c2sPort, 'localhost', '127.0.0.4')
    await refused.waitClosed()
    assert.equal(refused.received, '', 'closed before any stream')
    assert.equal(await metric('xmppd_connections_refused_total', 'max_connections', capped), 1)
    assert.equal(await metric('xmppd_connections_refused_total', 'max_connections_per_ip', capped), 0)
    // While the listener is full: the bystanders' chat and its notification, and /health.
    await pair.chat('while max_connections is reached')
    const health = await fetch(`http://127.0.0.1:${capped.httpPort}/health`)
    assert.equal(health.status, 200)
    assert.equal(((await health.json()) as { status: string }).status, 'ok')
    assert.ok(
      held.every((raw) => !raw.closed),
      'the attackers were still connected',
    )
    for (const raw of held) raw.close()
    // Once they are gone, a new client gets in and logs in.
    await servedAgain(capped.c2sPort, '127.0.0.4')
    await pair.chat('after the attackers left')
    await chatWorks(capped)
  } finally {
    for (const raw of held) raw.close()
    await pair?.stop()
    await capped.stop()
  }
})

test('a recipient that never reads is closed with policy-violation; memory stays bounded', async () => {
  const closedBefore = await metric('xmppd_sessions_closed_total', 'slow_reader')
  const slow = await RawXmpp.connect(server.c2sPort)
  const jid = await slow.login('bob', 'bob-pw', 'slow')
  let tail = ''
  let sawError = false
  slow.onText((text) => {
    tail = (tail + text).slice(-2000)
    if (tail.includes('<policy-violation')) sawError = true
  })
  slow.pause()
  const rssBefore = rss()
  const sender = await connectClient(server.c2sPort, 'alice@localhost', 'alice-pw', { resource: 'flood' })
  const body = 'x'.repeat(16_000)
  // Sent as the flood starts; awaited once it is over (the bystanders are not what is flooded).
  const during = bystanders.chat('while a slow reader is flooded')
  during.catch(() => undefined) // its failure is reported where it is awaited
  // Up to 128 MB: without the limit the server would queue all of it for bob.
  let sent = 0
  for (let i = 0; i < 8000; i++) {
    await sender.send(xml('message', { to: jid, type: 'chat' }, xml('body', {}, body)))
    sent += body.length
    if (i % 50 === 49 && (await metric('xmppd_sessions_closed_total', 'slow_reader')) > closedBefore) break
  }
  assert.equal(await metric('xmppd_sessions_closed_total', 'slow_reader'), closedBefore + 1, `closed after ${sent} bytes sent`)
  const grown = rss() - rssBefore
  assert.ok(grown < 100 * 1024 * 1024, `RSS grew by ${grown} bytes after ${sent} bytes sent`)
  await during
  // Reading again, it gets what was queued, then the stream error, then the end.
  slow.resume()
  await slow.waitClosed(15_000)
  assert.ok(sawError, `no policy-violation; the stream ended with ${tail}`)
  await sender.stop()
  await bystanders.chat('after the slow reader was closed')
  await chatWorks()
})
