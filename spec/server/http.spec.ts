// The listen.http listener: /health and /metrics (one registry, process metrics included, no
// token from loopback).
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { connectClient, xml } from '../helpers/client.js'
import { sample, startTestServer, type TestServer } from '../helpers/xmppd.js'

let server: TestServer
before(async () => {
  server = await startTestServer()
})
after(() => server.stop())

test('/health answers 200 with the serving state', async () => {
  const res = await fetch(`http://127.0.0.1:${server.httpPort}/health`)
  assert.equal(res.status, 200)
  const body = (await res.json()) as { status: string; hosts: string[] }
  assert.equal(body.status, 'ok')
  assert.deepEqual(body.hosts, ['localhost'])
})

test('/metrics serves the registry from loopback without a token', async () => {
  const alice = await connectClient(server.c2sPort, 'alice@localhost', 'alice-pw')
  await alice.iq(xml('iq', { type: 'get', to: 'localhost' }, xml('ping', { xmlns: 'urn:xmpp:ping' })))
  const text = await server.metricsText()
  assert.match(text, /^process_cpu_user_seconds_total /m)
  assert.match(text, /^nodejs_heap_size_used_bytes /m)
  assert.equal(sample(text, 'xmppd_sessions', { host: 'localhost' }), 1)
  assert.ok((sample(text, 'xmppd_stanzas_received_total', { host: 'localhost', kind: 'iq' }) ?? 0) >= 1)
  await alice.stop()
})

test('unknown routes are 404 and wrong methods 405, as JSON', async () => {
  const a = await fetch(`http://127.0.0.1:${server.httpPort}/nothing`)
  assert.equal(a.status, 404)
  assert.equal(((await a.json()) as { error: string }).error, 'not_found')
  const b = await fetch(`http://127.0.0.1:${server.httpPort}/metrics`, { method: 'POST' })
  assert.equal(b.status, 405)
})
