// The admin API's route table: parameters, the token before anything else under /api, 404 and 405
// as JSON, and each coded error answered with the HTTP status it carries (lib/errors.ts), as
// docs/errors.md lists them.
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import path from 'node:path'
import * as errors from '../../lib/errors.js'
import { ADMIN_TOKEN, root, startTestServer, type TestServer } from '../helpers/xmppd.js'

let server: TestServer
before(async () => {
  server = await startTestServer({ hosts: ['localhost', 'b.test'] })
})
after(() => server.stop())

const auth = { authorization: `Bearer ${ADMIN_TOKEN}` }
async function api(method: string, p: string, headers: Record<string, string> = auth) {
  const res = await fetch(`http://127.0.0.1:${server.httpPort}${p}`, { method, headers })
  const text = await res.text()
  return { status: res.status, body: text ? (JSON.parse(text) as { error?: string; message?: string; plugins?: Array<{ id: string; host: string }> }) : {} }
}

test('routes with parameters: percent-decoded, a trailing slash tolerated, ?host checked', async () => {
  const one = await api('GET', '/api/plugins/mod%5Fevent_pusher_http/status?host=b.test')
  assert.equal(one.status, 200)
  assert.deepEqual(
    one.body.plugins!.map((p) => [p.id, p.host]),
    [['mod_event_pusher_http', 'b.test']],
  )
  assert.equal((await api('GET', '/api/plugins/')).status, 200)
  assert.deepEqual(await api('GET', '/api/status?host=nope.test'), { status: 404, body: { error: 'unknown_host', message: "no virtual host 'nope.test'" } })
})

test('coded errors answer with their own status: 404 unknown plugin, 409 already in state, 400 invalid config', async () => {
  assert.deepEqual(await api('GET', '/api/plugins/mod_nope/status'), { status: 404, body: { error: 'unknown_plugin', message: "no plugin named 'mod_nope'" } })
  assert.equal((await api('POST', '/api/plugins/mod_nope/hosts/localhost/enable')).body.error, 'unknown_plugin')
  const again = await api('POST', '/api/plugins/mod_event_pusher_http/hosts/b.test/disable')
  assert.deepEqual([again.status, again.body.error], [409, 'already_in_state'])
  // No section and so no pool_name: the plugin's options are invalid, a ConfigError.
  const on = await api('POST', '/api/plugins/mod_event_pusher_http/hosts/b.test/enable')
  assert.deepEqual([on.status, on.body.error], [400, 'invalid_config'])
  assert.match(on.body.message!, /pool_name/)
  assert.equal(server.loader.list('b.test')[0].enabled, false, 'nothing changed')
})

test('anything else under /api: 401 without the token, then 404 naming the method; other methods 405', async () => {
  for (const p of ['/api', '/api/nope', '/api/plugins/x/hosts/localhost/frob', '/api/plugins/x/y/status']) {
    assert.equal((await api('GET', p, {})).status, 401, p)
    assert.deepEqual(await api('GET', p), { status: 404, body: { error: 'not_found', message: `no route GET ${p}` } })
  }
  assert.deepEqual(await api('POST', '/api/plugins'), { status: 404, body: { error: 'not_found', message: 'no route POST /api/plugins' } })
  assert.equal((await api('PUT', '/api/plugins')).status, 405)
  assert.equal((await api('DELETE', '/api/reload')).body.error, 'method_not_allowed')
  assert.equal((await api('HEAD', '/health', {})).status, 200)
  assert.equal((await api('GET', '/healthz', {})).body.error, 'not_found')
})

test('docs/errors.md gives each coded error the status and error name it carries', () => {
  const carried = new Map<string, string>()
  for (const value of Object.values(errors)) {
    if (typeof value !== 'function' || !('http' in value)) continue
    const http = value.http as errors.HttpAnswer | undefined
    carried.set(value.name, http ? `${http.status} \`${http.error}\`` : '')
  }
  const config = new errors.ConfigError('x', 'y')
  carried.set(config.code, `${config.http.status} \`${config.http.error}\``)
  assert.deepEqual(new errors.ConfigErrors([]).http, config.http)

  const documented = new Map<string, string>()
  for (const line of readFileSync(path.join(root, 'docs/errors.md'), 'utf8').split('\n')) {
    const cells = line.split(' | ')
    const code = /^\| `([A-Z_]+)`$/.exec(cells[0] ?? '')?.[1]
    if (code) documented.set(code, (/^\d{3} `\w+`/.exec(cells[2]) ?? [''])[0])
  }
  assert.ok(carried.size >= 8, `found ${carried.size} coded errors`)
  assert.deepEqual(Object.fromEntries(documented), Object.fromEntries(carried))
})
