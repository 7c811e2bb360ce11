// Issue 11's "Done when", on the real server with real clients and a real endpoint: notifications
// pending behind a refusing endpoint survive kill -9, SIGTERM, reload and disable/enable; after
// the way back every message arrives at least once, and each always with the webhook-id it got at
// acceptance. One request is left hanging at the endpoint when the process dies or the instance
// stops, so that a duplicate really happens and its id can be compared. Duplicates are reported,
// not forbidden (at least once). A second process on the same data dir and a corrupt outbox file
// are clear errors. Nothing here asserts a timing.
import { test, afterEach, type TestContext } from 'node:test'
import assert from 'node:assert/strict'
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import net from 'node:net'
import path from 'node:path'
import { bodies, chatSender } from '../helpers/chat-load.js'
import { assertBalanced, eventually, hostCounts } from '../helpers/metrics.js'
import { deliveryReport, webhookRecorder, type Recorder } from '../helpers/webhook-recorder.js'
import { ADMIN_TOKEN, configToml, spawnBin, startTestServer, writeConfig } from '../helpers/xmppd.js'
import { balanced, countsWhen, startXmppdProcess, type XmppdProcess } from '../helpers/xmppd-process.js'

const N = 2000
const USERS = { 'alice@localhost': 'alice-pw', 'bob@localhost': 'bob-pw' }

const cleanups: Array<() => Promise<unknown>> = []
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c().catch(() => undefined)
})

/** request_timeout is long so that a hanging request is still in flight when the process dies. */
const config = (url: string) =>
  configToml({
    users: USERS,
    extra: `
[http_connections.http_pool]
server = "${url}"
request_timeout = 60000

[plugins.mod_event_pusher_http]
pool_name = "http_pool"
path = "/n"
drain_timeout = 300
`,
  })

async function recorder(): Promise<Recorder> {
  const rec = await webhookRecorder({ startDown: true })
  cleanups.push(() => rec.close())
  return rec
}

async function processOn(configFile: string): Promise<XmppdProcess> {
  const p = await startXmppdProcess(configFile)
  cleanups.push(() => p.stop('SIGKILL'))
  return p
}

/** alice sends `tag 0` … `tag n-1` to bob (offline: kept, or refused past the bound; the notification is still due). */
async function send(c2sPort: number, tag: string, n = N): Promise<string[]> {
  const alice = await chatSender(c2sPort, 'alice', 'alice-pw')
  cleanups.push(async () => alice.close())
  const messages = bodies(tag, n)
  await alice.send('bob@localhost', messages)
  return messages
}

/** The endpoint comes back but holds the first request it gets (the breaker's probe) unanswered. */
async function holdOneRequest(rec: Recorder): Promise<void> {
  rec.answer('hang')
  await rec.up()
  await eventually(
    () => rec.deliveries.length,
    (n) => assert.ok(n >= 1),
    10_000,
  )
}

/** Every message answered 2xx, each always with one webhook-id; the duplicates go to the output. */
async function allArrived(t: TestContext, rec: Recorder, messages: string[], held: number): Promise<void> {
  await rec.waitForAll(messages)
  const r = deliveryReport(rec.deliveries, messages)
  t.diagnostic(`${messages.length} messages, ${rec.deliveries.length} requests, ${r.duplicates} duplicates (${held} were held unanswered)`)
  assert.deepEqual(r.missing, [])
  assert.deepEqual(r.idChanged, [], 'a message kept its webhook-id across its requests')
}

for (const signal of ['SIGKILL', 'SIGTERM'] as const) {
  test(`${N} pending behind a refusing endpoint survive ${signal === 'SIGKILL' ? 'kill -9' : 'SIGTERM'} and a restart`, async (t) => {
    const rec = await recorder()
    const file = writeConfig(config(rec.url))
    const first = await processOn(file)
    const messages = await send(first.c2sPort, signal)
    const before = await countsWhen(first, (c) => c.accepted === N && c.pending === N)
    assert.equal(before.failed, 0, 'refused is not failed')
    await holdOneRequest(rec)
    const held = rec.deliveries.length
    assert.equal(await first.stop(signal), signal === 'SIGKILL' ? null : 0)

    rec.answer(204)
    const second = await processOn(file)
    await allArrived(t, rec, messages, held)
    const after = await countsWhen(second, (c) => c.pending === 0 && balanced(c))
    assert.deepEqual(after, { accepted: 0, recovered: before.pending, sent: N, failed: 0, queueFull: 0, pending: 0 })
    assert.equal(await second.stop('SIGTERM'), 0)
  })
}

/** The in-process server, its endpoint down, with N pending and one request held at the endpoint. */
async function serverWithBacklog() {
  const rec = await recorder()
  const server = await startTestServer(config(rec.url))
  cleanups.push(() => server.stop())
  const messages = await send(server.c2sPort, 'backlog')
  await eventually(
    () => hostCounts(server.registry, 'localhost'),
    (c) => assert.deepEqual([c.accepted, c.pending, c.failedTotal], [N, N, 0]),
    30_000,
  )
  await holdOneRequest(rec)
  const held = rec.deliveries.length
  rec.answer(204)
  return { rec, server, messages, held }
}

test(`${N} pending survive xmppctl reload (the instance restarts on a changed pool)`, async (t) => {
  const { rec, server, messages, held } = await serverWithBacklog()
  // The operator shortens request_timeout: the pool changed, so the instance is replaced.
  writeFileSync(server.configFile, readFileSync(server.configFile, 'utf8').replace('request_timeout = 60000', 'request_timeout = 5000'))
  const ctl = spawnBin('xmppctl', ['--config', server.configFile, '--url', `http://127.0.0.1:${server.httpPort}`, 'reload', '--json'])
  assert.equal(await ctl.exit, 0, ctl.stderr())
  assert.deepEqual(JSON.parse(ctl.stdout()).started, [{ id: 'mod_event_pusher_http', host: 'localhost' }])
  await allArrived(t, rec, messages, held)
  const c = await assertBalanced(server.registry, 'localhost', 10_000)
  assert.deepEqual([c.accepted, c.sent, c.failedTotal, c.recovered], [N, N, 0, 0])
})

test('a request in flight at a reload is delivered by the new instance, with no new message to wake it', async (t) => {
  const rec = await recorder()
  const server = await startTestServer(config(rec.url))
  cleanups.push(() => server.stop())
  rec.answer('hang')
  await rec.up()
  const [message] = await send(server.c2sPort, 'alone', 1)
  await eventually(
    () => rec.deliveries.length,
    (n) => assert.equal(n, 1),
  )
  rec.answer(204)
  writeFileSync(server.configFile, readFileSync(server.configFile, 'utf8').replace('request_timeout = 60000', 'request_timeout = 5000'))
  const res = await fetch(`http://127.0.0.1:${server.httpPort}/api/reload`, { method: 'POST', headers: { authorization: `Bearer ${ADMIN_TOKEN}` } })
  assert.equal(res.status, 200, await res.text())
  await allArrived(t, rec, [message], 1)
  const c = await assertBalanced(server.registry, 'localhost')
  assert.deepEqual([c.accepted, c.sent, c.failedTotal], [1, 1, 0])
})

test(`${N} pending survive disable and enable (admin API)`, async (t) => {
  const { rec, server, messages, held } = await serverWithBacklog()
  const api = (action: string) =>
    fetch(`http://127.0.0.1:${server.httpPort}/api/plugins/mod_event_pusher_http/hosts/localhost/${action}`, {
      method: 'POST',
      headers: { authorization: `Bearer ${ADMIN_TOKEN}` },
    })
  assert.equal((await api('disable')).status, 200)
  // Disabled: the endpoint is up and answering, and nothing is sent (the held request was aborted).
  assert.equal(rec.deliveries.length, held)
  assert.equal((await api('enable')).status, 200)
  await allArrived(t, rec, messages, held)
  const c = await assertBalanced(server.registry, 'localhost', 10_000)
  assert.deepEqual([c.accepted, c.sent, c.failedTotal, c.recovered], [N, N, 0, 0])
})

/**
 * An endpoint that answers the first request of each connection (keep-alive) and resets the
 * connection as soon as a second request comes on it, unread: what a receiver shutting down does
 * to a request that goes out on an idle socket it is closing, made certain.
 */
async function oneRequestPerConnection(): Promise<{ url: string; answered: string[]; close(): Promise<void> }> {
  const answered: string[] = []
  const sockets = new Set<net.Socket>()
  const server = net.createServer((socket) => {
    sockets.add(socket)
    socket.on('close', () => sockets.delete(socket))
    let text = ''
    let served = false
    socket.on('data', (chunk) => {
      if (served) return void socket.resetAndDestroy()
      text += chunk.toString('latin1')
      const head = text.indexOf('\r\n\r\n')
      const length = Number(/content-length: *(\d+)/i.exec(text)?.[1] ?? NaN)
      if (head < 0 || text.length < head + 4 + length) return
      served = true
      answered.push(new URLSearchParams(text.slice(head + 4)).get('message') ?? '')
      socket.write('HTTP/1.1 204 No Content\r\nConnection: keep-alive\r\n\r\n')
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  return {
    url: `http://127.0.0.1:${(server.address() as net.AddressInfo).port}`,
    answered,
    async close() {
      for (const s of sockets) s.destroy()
      await new Promise((resolve) => server.close(resolve))
    },
  }
}

test('a kept-alive socket reset as a request goes out on it: the request waits and is delivered, not failed', async () => {
  const ep = await oneRequestPerConnection()
  cleanups.push(() => ep.close())
  const server = await startTestServer(config(ep.url))
  cleanups.push(() => server.stop())
  const [first] = await send(server.c2sPort, 'first', 1)
  await eventually(
    () => ep.answered,
    (a) => assert.deepEqual(a, [first]),
  )
  // The next one goes out on the kept-alive socket, which the endpoint resets unread.
  const [second] = await send(server.c2sPort, 'second', 1)
  await eventually(
    () => ep.answered,
    (a) => assert.deepEqual(a, [first, second]),
    5000,
  )
  const c = await assertBalanced(server.registry, 'localhost')
  assert.deepEqual([c.accepted, c.sent, c.failedTotal], [2, 2, 0])
})

test('a second process on the same data dir: a clear error, exit non-zero; the first goes on', async () => {
  const rec = await recorder()
  await rec.up()
  const file = writeConfig(config(rec.url))
  const first = await processOn(file)
  const second = spawnBin('xmppd', ['--config', file, '--log-level', 'info'])
  cleanups.push(async () => second.child.kill('SIGKILL'))
  assert.notEqual(await second.exit, 0)
  const outbox = path.join(path.dirname(file), 'xmppd-data', 'mod_event_pusher_http', 'outbox.sqlite')
  assert.match(second.stderr(), new RegExp(`outbox file ${outbox.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: in use by another process`))
  assert.doesNotMatch(second.stderr(), /^\s+at /m, 'no stack trace')
  // The first one still delivers.
  const messages = await send(first.c2sPort, 'still', 100)
  await rec.waitForAll(messages)
  assert.ok(balanced(await countsWhen(first, (c) => c.sent === 100)))
})

test('a corrupt outbox file: a clear error naming the file, exit non-zero, nothing listening', async () => {
  const file = writeConfig(config('http://127.0.0.1:9'))
  const dir = path.join(path.dirname(file), 'xmppd-data', 'mod_event_pusher_http')
  mkdirSync(dir, { recursive: true })
  const outbox = path.join(dir, 'outbox.sqlite')
  writeFileSync(outbox, Buffer.from('garbage, not a database '.repeat(400)))
  const run = spawnBin('xmppd', ['--config', file])
  cleanups.push(async () => run.child.kill('SIGKILL'))
  assert.equal(await run.exit, 1)
  const err = run.stderr()
  assert.ok(err.includes(`outbox file ${outbox}: not a usable SQLite database`), err)
  assert.doesNotMatch(err, /^\s+at /m, 'no stack trace')
  assert.doesNotMatch(run.stdout(), /listening/, 'nothing listens')
  assert.equal(readFileSync(outbox, 'utf8'), 'garbage, not a database '.repeat(400), 'the file is left as it was')
})
