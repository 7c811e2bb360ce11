// Secrets stay secret, and the HTTP listener's access rules: /api always needs the token;
// /metrics and /dashboard need it from anywhere but loopback.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import http from 'node:http'
import { networkInterfaces } from 'node:os'
import { createLogger } from '../../lib/server/observability/logger.js'
import { connectClient } from '../helpers/client.js'
import { startSink } from '../helpers/sink.js'
import { ADMIN_TOKEN, configToml, startTestServer } from '../helpers/xmppd.js'

function get(url: string, localAddress: string, headers: Record<string, string> = {}): Promise<number> {
  return new Promise((resolve, reject) => {
    http.get(url, { localAddress, headers }, (res) => (res.resume(), resolve(res.statusCode ?? 0))).on('error', reject)
  })
}

const external = Object.values(networkInterfaces())
  .flat()
  .find((i) => i && i.family === 'IPv4' && !i.internal)?.address

test('from a non-loopback address /metrics needs the token; /health does not', { skip: external ? false : 'no non-loopback IPv4 interface here' }, async () => {
  const server = await startTestServer(configToml().replace('[listen.http]\nip = "127.0.0.1"', `[listen.http]\nip = "${external}"`))
  try {
    const base = `http://${external}:${server.httpPort}`
    assert.equal(await get(`${base}/metrics`, external!), 401)
    assert.equal(await get(`${base}/metrics`, external!, { authorization: `Bearer ${ADMIN_TOKEN}` }), 200)
    assert.equal(await get(`${base}/health`, external!), 200)
    assert.equal(await get(`${base}/api/plugins`, external!), 401)
  } finally {
    await server.stop()
  }
})

test('/api needs the token even from loopback', async () => {
  const server = await startTestServer()
  try {
    assert.equal(await get(`http://127.0.0.1:${server.httpPort}/api/plugins`, '127.0.0.1'), 401)
    assert.equal(await get(`http://127.0.0.1:${server.httpPort}/api/plugins`, '127.0.0.1', { authorization: `Bearer ${ADMIN_TOKEN}` }), 200)
    assert.equal(await get(`http://127.0.0.1:${server.httpPort}/metrics`, '127.0.0.1'), 200)
  } finally {
    await server.stop()
  }
})

test('passwords, the admin token and endpoint credentials appear in no log line and no status output', async () => {
  const sink = await startSink()
  const credentialed = sink.url.replace('http://', 'http://pushuser:endpoint-secret-42@')
  const server = await startTestServer({
    users: { 'alice@localhost': 'alice-secret-pw', 'bob@localhost': 'bob-secret-pw' },
    extra: `[http_connections.http_pool]\nserver = "${credentialed}"\n[plugins.mod_event_pusher_http]\npool_name = "http_pool"\npath = "/n"\n`,
  })
  try {
    const alice = await connectClient(server.c2sPort, 'alice@localhost', 'alice-secret-pw')
    const bob = await connectClient(server.c2sPort, 'bob@localhost', 'bob-secret-pw')
    await assert.rejects(connectClient(server.c2sPort, 'alice@localhost', 'wrong-guess-pw'))
    await alice.chat('bob@localhost', 'hi')
    const [req] = await sink.waitFor(1)
    assert.equal(req.headers.authorization, `Basic ${Buffer.from('pushuser:endpoint-secret-42').toString('base64')}`, 'credentials do reach the endpoint')
    const status = await (await fetch(`http://127.0.0.1:${server.httpPort}/api/status`, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } })).text()
    const metrics = await server.metricsText()
    await Promise.all([alice.stop(), bob.stop()])
    const logs = JSON.stringify(server.logs)
    for (const secret of ['alice-secret-pw', 'bob-secret-pw', 'wrong-guess-pw', ADMIN_TOKEN, 'endpoint-secret-42']) {
      assert.ok(!logs.includes(secret), `log holds ${secret}`)
      assert.ok(!status.includes(secret), `status holds ${secret}`)
      assert.ok(!metrics.includes(secret), `metrics hold ${secret}`)
    }
    assert.match(status, /"url":"http:\/\/127\.0\.0\.1:\d+\/n"/)
  } finally {
    await server.stop()
    await sink.close()
  }
})

test("the JetStream outbox's password and token are redacted like other secrets, wherever its section is logged", () => {
  const lines: string[] = []
  const log = createLogger({ destination: { write: (line: string) => void lines.push(line) } })
  const jetstream = { servers: ['nats://10.0.0.1:4222'], user: 'push', password: 'nats-secret-pw', token: 'nats-secret-token' }
  log.info({ jetstream }, 'section')
  log.info({ options: { outbox: 'jetstream', jetstream } }, 'options')
  log.child({ plugin: 'mod_event_pusher_http' }).warn({ password: 'nats-secret-pw', token: 'nats-secret-token' }, 'flat')
  assert.equal(lines.length, 3)
  for (const line of lines) {
    assert.ok(!line.includes('nats-secret-pw') && !line.includes('nats-secret-token'), line)
    assert.match(line, /"password":"\[redacted\]"/)
    assert.match(line, /"token":"\[redacted\]"/)
  }
  assert.match(lines[1], /"user":"push"/, 'the user name is no secret')
})
