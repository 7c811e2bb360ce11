// Connection limits and slow readers (issue 14): past max_connections_per_ip a new TCP connection
// is closed at once, unanswered, and counted; a client that never reads is closed with
// policy-violation once more than max_send_buffer is queued for it, the server's memory stays
// bounded, and chat between other clients goes on. Real server and clients on loopback.
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { connectClient, xml } from '../helpers/client.js'
import { RawXmpp } from '../helpers/raw-xmpp.js'
import { sample, startTestServer, type TestServer } from '../helpers/xmppd.js'
import { OPEN_FILES_MARGIN, effectiveMaxConnections, openFilesLimit } from '../../lib/server/xmpp/open-files.js'

const PER_IP = 6
let server: TestServer

before(async () => {
  server = await startTestServer({ c2s: { max_connections_per_ip: PER_IP, max_send_buffer: 262144 } })
})
after(() => server.stop())

async function metric(name: string, reason: string): Promise<number> {
  return sample(await server.metricsText(), name, { reason }) ?? NaN
}

/** This process's resident memory (the server runs in it), in bytes. */
function rss(): number {
  const kb = /^VmRSS:\s+(\d+) kB/m.exec(readFileSync('/proc/self/status', 'utf8'))
  return Number(kb?.[1]) * 1024
}

async function chatWorks(): Promise<void> {
  const alice = await connectClient(server.c2sPort, 'alice@localhost', 'alice-pw')
  const carol = await connectClient(server.c2sPort, 'carol@localhost', 'carol-pw')
  await alice.chat('carol@localhost', 'still here')
  await carol.next((s) => s.getChildText?.('body') === 'still here')
  await Promise.all([alice.stop(), carol.stop()])
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
    const raw = await RawXmpp.connect(server.c2sPort)
    await raw.openStream() // answered: within the limit
    held.push(raw)
  }
  const refused = await RawXmpp.connect(server.c2sPort)
  await refused.waitClosed()
  assert.equal(refused.received, '')
  assert.equal(await metric('xmppd_connections_refused_total', 'max_connections_per_ip'), before + 1)
  for (const raw of held) raw.close()
  // The count drops as they close: eventually a new connection is served again.
  for (;;) {
    const raw = await RawXmpp.connect(server.c2sPort)
    const ok = await raw.openStream().then(
      () => true,
      () => false,
    )
    raw.close()
    if (ok) break
    await new Promise((r) => setTimeout(r, 100))
  }
  await chatWorks()
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
  // Reading again, it gets what was queued, then the stream error, then the end.
  slow.resume()
  await slow.waitClosed(15_000)
  assert.ok(sawError, `no policy-violation; the stream ended with ${tail}`)
  await sender.stop()
  await chatWorks()
})
