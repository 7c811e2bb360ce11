// Issue 14 (8): user:pass@ in a pool's server URL would silently replace a configured Authorization
// header (got builds its own from the URL), so the two together are refused at start, located.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { startTestServer } from '../helpers/xmppd.js'

const pool = (server: string) => `[http_connections.http_pool]\nserver = "${server}"\n`

test('user:pass@ in the pool URL with an Authorization header: a config error at start naming the header and the pool', async () => {
  const extra = `${pool('http://u:p@127.0.0.1:9')}[plugins.mod_event_pusher_http]\npool_name = "http_pool"\npath = "/n"\nheaders = { Authorization = "Bearer x" }`
  await assert.rejects(startTestServer({ extra }), (err: { code: string; errors: Error[] }) => {
    assert.equal(err.code, 'XMPPD_ERR_CONFIG')
    assert.deepEqual(
      err.errors.map((e) => e.message),
      [
        'plugins.mod_event_pusher_http.headers: an Authorization header together with user:pass@ in http_connections.http_pool.server: one would silently replace the other; keep one',
      ],
    )
    return true
  })
})

test('the same on one handler of several: its own path', async () => {
  const extra =
    `${pool('http://token@127.0.0.1:9')}[plugins.mod_event_pusher_http]\npool_name = "http_pool"\n` +
    `[[plugins.mod_event_pusher_http.handlers]]\npath = "/a"\n` +
    `[[plugins.mod_event_pusher_http.handlers]]\npath = "/b"\nheaders = { authorization = "Basic eDp5" }`
  await assert.rejects(startTestServer({ extra }), (err: { errors: Error[] }) => {
    assert.equal(err.errors.length, 1)
    assert.match(
      err.errors[0].message,
      /^plugins\.mod_event_pusher_http\.handlers\.1\.headers: an Authorization header together with user:pass@ in http_connections\.http_pool\.server/,
    )
    return true
  })
})

test('either one alone starts', async () => {
  for (const extra of [
    `${pool('http://u:p@127.0.0.1:9')}[plugins.mod_event_pusher_http]\npool_name = "http_pool"\npath = "/n"\nheaders = { X-Key = "k" }`,
    `${pool('http://127.0.0.1:9')}[plugins.mod_event_pusher_http]\npool_name = "http_pool"\npath = "/n"\nheaders = { Authorization = "Bearer x" }`,
  ]) {
    const server = await startTestServer({ extra })
    await server.stop()
  }
})
