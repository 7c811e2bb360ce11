// Operating the plugin while the server runs: xmppctl and the /api it speaks, the token, toggles
// per vhost, reload.
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { readFileSync, writeFileSync } from 'node:fs'
import { connectClient, type TestClient } from '../helpers/client.js'
import { assertBalanced } from '../helpers/metrics.js'
import { startSink, type Sink } from '../helpers/sink.js'
import { ADMIN_TOKEN, spawnBin, startTestServer, type TestServer } from '../helpers/xmppd.js'

let sink: Sink
let server: TestServer
const clients: TestClient[] = []

const users = { 'alice@a.test': 'pw', 'bob@a.test': 'pw', 'carl@b.test': 'pw', 'dora@b.test': 'pw' }
const pluginSections = (bPath: string) => `
[plugins.mod_event_pusher_http]
pool_name = "http_pool"
path = "/n"

[host_config."b.test".plugins.mod_event_pusher_http]
enabled = false
path = "${bPath}"
`

before(async () => {
  sink = await startSink()
  server = await startTestServer({
    hosts: ['a.test', 'b.test'],
    users,
    extra: `[http_connections.http_pool]\nserver = "${sink.url}"\n${pluginSections('/b')}`,
  })
})
after(async () => {
  await Promise.all(clients.map((c) => c.stop()))
  await server.stop()
  await sink.close()
})

async function xmppctl(args: string[], env: NodeJS.ProcessEnv = {}) {
  const run = spawnBin('xmppctl', ['--config', server.configFile, '--url', `http://127.0.0.1:${server.httpPort}`, ...args], env)
  const code = await run.exit
  return { code, stdout: run.stdout(), stderr: run.stderr() }
}

async function client(jid: string): Promise<TestClient> {
  const c = await connectClient(server.c2sPort, jid, 'pw') // available: bare-JID messages reach it
  clients.push(c)
  return c
}

/** Sends a chat message, waits for its delivery, and says whether a notification came. */
async function notified(from: TestClient, to: TestClient, body: string): Promise<boolean> {
  await from.chat(to.jid.split('/')[0], body)
  await to.next((s) => s.getChildText?.('body') === body)
  await new Promise((r) => setTimeout(r, 150))
  return sink.requests.some((r) => r.form.message === body)
}

test('xmppctl plugin list shows the state per vhost', async () => {
  const r = await xmppctl(['plugin', 'list'])
  assert.equal(r.code, 0, r.stderr)
  assert.match(r.stdout, /mod_event_pusher_http\s+\S+\s+a\.test\s+enabled\s+config/)
  assert.match(r.stdout, /mod_event_pusher_http\s+\S+\s+b\.test\s+disabled\s+config/)
  const json = JSON.parse((await xmppctl(['plugin', 'list', '--json', '--host', 'a.test'])).stdout)
  assert.deepEqual(
    json.plugins.map((p: { host: string }) => p.host),
    ['a.test'],
  )
})

test('disable stops notifications on that vhost only; enable brings them back; a config-disabled vhost can be enabled', async () => {
  const [alice, bob, carl, dora] = await Promise.all(['alice@a.test', 'bob@a.test', 'carl@b.test', 'dora@b.test'].map(client))
  assert.equal(await notified(alice, bob, 'a before'), true)
  assert.equal(await notified(carl, dora, 'b before'), false, 'b.test starts disabled by config')

  const on = await xmppctl(['plugin', 'enable', 'mod_event_pusher_http', '--host', 'b.test'])
  assert.equal(on.code, 0, on.stderr)
  assert.match(on.stdout, /enabled on b\.test/)
  assert.equal(await notified(carl, dora, 'b enabled'), true)
  assert.equal(sink.requests.find((r) => r.form.message === 'b enabled')!.url, '/b')

  const off = await xmppctl(['plugin', 'disable', 'mod_event_pusher_http', '--host', 'a.test'])
  assert.equal(off.code, 0, off.stderr)
  assert.equal(await notified(alice, bob, 'a disabled'), false)
  assert.equal(await notified(carl, dora, 'b still on'), true, 'the other vhost is untouched')

  const again = await xmppctl(['plugin', 'disable', 'mod_event_pusher_http', '--host', 'a.test'])
  assert.equal(again.code, 1)
  assert.match(again.stderr, /already disabled/)
  // Disabled: its totals still show, read from the registry by role; the running parts do not.
  const idle = await xmppctl(['plugin', 'status', '--host', 'a.test'])
  assert.match(idle.stdout, /^mod_event_pusher_http on a\.test: disabled \(runtime\)$/m)
  assert.match(idle.stdout, /\[a\.test, mod_http_notifications, sent\]\s+1$/m)
  assert.match(idle.stdout, /^ {2}retries: 0$/m)
  assert.doesNotMatch(idle.stdout, /pool http_pool/)
  const idleJson = JSON.parse((await xmppctl(['plugin', 'status', '--host', 'a.test', '--json'])).stdout)
  assert.deepEqual(idleJson.plugins[0].metrics.sent, { name: 'mod_http_notifications_sent_total', type: 'counter', total: 1 })

  assert.equal((await xmppctl(['plugin', 'enable', 'mod_event_pusher_http', '--host', 'a.test'])).code, 0)
  assert.equal(await notified(alice, bob, 'a back'), true)
  const status = await xmppctl(['plugin', 'status', '--host', 'a.test'])
  assert.match(status.stdout, /mod_event_pusher_http on a\.test: enabled \(runtime\)/)
  assert.match(status.stdout, /\[a\.test, mod_http_notifications, sent\]\s+2/)
  assert.match(status.stdout, /pool http_pool: breaker closed/)
  await assertBalanced(server.registry, 'a.test')
  await assertBalanced(server.registry, 'b.test')
})

test('no token or a wrong one: 401, nothing changes', async () => {
  const url = `http://127.0.0.1:${server.httpPort}`
  const before = server.loader.list()
  for (const headers of [{}, { authorization: 'Bearer wrong-token' }, { authorization: ADMIN_TOKEN }] as Array<Record<string, string>>) {
    const res = await fetch(`${url}/api/plugins/mod_event_pusher_http/hosts/a.test/disable`, { method: 'POST', headers })
    assert.equal(res.status, 401)
    assert.equal(((await res.json()) as { error: string }).error, 'unauthorized')
    assert.equal((await fetch(`${url}/api/plugins`, { headers })).status, 401)
  }
  assert.deepEqual(server.loader.list(), before)
  const r = await xmppctl(['--token', 'wrong-token', 'plugin', 'disable', 'mod_event_pusher_http', '--host', 'a.test'])
  assert.equal(r.code, 1)
  assert.match(r.stderr, /admin token/)
  assert.deepEqual(server.loader.list(), before)
})

test('unknown plugin or vhost: 404 and exit 1; bad usage: exit 2', async () => {
  const a = await xmppctl(['plugin', 'enable', 'mod_nope', '--host', 'a.test'])
  assert.equal(a.code, 1)
  assert.match(a.stderr, /no plugin named 'mod_nope'/)
  const b = await xmppctl(['plugin', 'enable', 'mod_event_pusher_http', '--host', 'nope.test'])
  assert.equal(b.code, 1)
  assert.match(b.stderr, /no virtual host 'nope\.test'/)
  for (const args of [['plugin', 'enable', 'mod_event_pusher_http'], ['frobnicate'], [], ['plugin', 'list', '--bogus']]) {
    const r = await xmppctl(args)
    assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`)
  }
  const help = await xmppctl(['plugin', 'status', '--help'])
  assert.equal(help.code, 0)
  assert.match(help.stdout, /usage: xmppctl plugin status/)
})

test('metrics prints the seed names', async () => {
  const r = await xmppctl(['metrics'])
  assert.equal(r.code, 0, r.stderr)
  assert.match(r.stdout, /\[a\.test, mod_http_notifications, sent\]\s+\d+/)
  assert.match(r.stdout, /\[b\.test, mod_http_notifications, failed\]\s+0/)
  assert.match(r.stdout, /\[a\.test, mod_http_notifications, response_time\]\s+\d+ \(mean/)
})

test('reload: a broken file changes nothing; a good one applies, keeping toggles of unchanged sections', async () => {
  const original = readFileSync(server.configFile, 'utf8')
  try {
    writeFileSync(server.configFile, original.replace('path = "/n"', 'path = "/n"\nmax_queue = -5'))
    const bad = await xmppctl(['reload'])
    assert.equal(bad.code, 1)
    assert.match(bad.stderr, /plugins\.mod_event_pusher_http\.max_queue: must be >= 1/)
    assert.equal(server.loader.list('a.test')[0].enabled, true)

    // b.test was enabled at runtime above; changing only a.test's section keeps that toggle.
    writeFileSync(
      server.configFile,
      original.replace(
        '[plugins.mod_event_pusher_http]\npool_name = "http_pool"\npath = "/n"',
        '[plugins.mod_event_pusher_http]\npool_name = "http_pool"\npath = "/n2"',
      ),
    )
    const good = await xmppctl(['reload'])
    assert.equal(good.code, 0, good.stderr)
    assert.match(good.stdout, /config reloaded/)
    const [alice, bob] = await Promise.all(['alice@a.test', 'bob@a.test'].map(client))
    assert.equal(await notified(alice, bob, 'after reload'), true)
    assert.equal(sink.requests.find((r) => r.form.message === 'after reload')!.url, '/n2')
    const states = Object.fromEntries(server.loader.list().map((s) => [s.host, s]))
    assert.equal(states['a.test'].source, 'config', 'a.test section changed: the file decides again')
    // b.test sets its own path, so its merged section did not change: its runtime toggle stays.
    assert.equal(states['b.test'].enabled, true)
    assert.equal(states['b.test'].source, 'runtime')
  } finally {
    writeFileSync(server.configFile, original)
  }
})

test('reload: a file with several problems reports every one and changes nothing', async () => {
  const original = readFileSync(server.configFile, 'utf8')
  const [alice, bob] = await Promise.all(['alice@a.test', 'bob@a.test'].map(client))
  assert.equal(await notified(alice, bob, 'before the bad reload'), true)
  const runningPath = sink.requests.find((r) => r.form.message === 'before the bad reload')!.url
  const states = server.loader.list()
  try {
    const bad = original
      .replace('loglevel = "debug"', 'loglevel = 3')
      .replace('pool_name = "http_pool"\npath = "/n"', 'pool_name = "nope"\npath = "/elsewhere"\ncallback_module = "./missing.mjs"\npool_nme = "x"')
    writeFileSync(server.configFile, bad)
    const r = await xmppctl(['reload'])
    assert.equal(r.code, 1, r.stderr)
    const problems = r.stderr
      .split('\n')
      .filter((l) => l.startsWith('  '))
      .map((l) => l.trim().replace(/(cannot load callback module "[^"]+"): .+/, '$1'))
    assert.deepEqual(problems.sort(), [
      'general.loglevel: must be one of "trace", "debug", "info", "warn", "error", "fatal", "silent"',
      'plugins.mod_event_pusher_http.callback_module: cannot load callback module "./missing.mjs"',
      'plugins.mod_event_pusher_http.pool_name: no http_connections pool named "nope"',
      'plugins.mod_event_pusher_http.pool_nme: unknown key; did you mean "pool_name"?',
    ])
    assert.deepEqual(server.loader.list(), states, 'no plugin started, stopped or toggled')
    assert.equal(await notified(alice, bob, 'after the bad reload'), true)
    assert.equal(sink.requests.find((r) => r.form.message === 'after the bad reload')!.url, runningPath)
  } finally {
    writeFileSync(server.configFile, original)
  }
})
