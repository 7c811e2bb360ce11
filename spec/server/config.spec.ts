// Config errors: each names its path, the process exits non-zero, nothing listens.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import net from 'node:net'
import { parseConfig } from '../../lib/server/config/load.js'
import { execFile } from 'node:child_process'
import path from 'node:path'
import { promisify } from 'node:util'
import { configToml, root, spawnBin, startTestServer, writeConfig } from '../helpers/xmppd.js'

/** A port nobody listens on right now. */
async function freePort(): Promise<number> {
  const s = net.createServer()
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r))
  const port = (s.address() as net.AddressInfo).port
  await new Promise((r) => s.close(r))
  return port
}

async function refused(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1')
    s.once('connect', () => (s.destroy(), resolve(false)))
    s.once('error', () => resolve(true))
  })
}

const POOL = `
[http_connections.http_pool]
server = "http://127.0.0.1:9"
`

/** Runs xmppd on the config; it must exit 1 with nothing listening. Returns the reported problems. */
async function expectRejected(toml: string, ...expected: RegExp[]): Promise<string[]> {
  const c2s = await freePort()
  const file = writeConfig(toml.replace('port = 0', `port = ${c2s}`))
  const run = spawnBin('xmppd', ['--config', file])
  const code = await run.exit
  assert.equal(code, 1, `exit code; stderr: ${run.stderr()}`)
  for (const re of expected) assert.match(run.stderr(), re)
  assert.ok(await refused(c2s), 'nothing listens on the c2s port')
  return run
    .stderr()
    .split('\n')
    .filter((l) => l.startsWith('  '))
    .map((l) => l.trim())
}

test('bad TOML names the line', async () => {
  await expectRejected(configToml() + '\n[general\nhosts = 1\n', /invalid TOML \(line \d+/)
})

test('host_config for a host that is not in general.hosts', async () => {
  await expectRejected(
    configToml({ extra: `[host_config."nowhere.test".plugins.mod_event_pusher_http]\nenabled = false` }),
    /host_config\."nowhere\.test": "nowhere\.test" is not in general\.hosts/,
  )
})

test('a bad port, an unknown key and a wrong type are all reported at once', async () => {
  const toml = configToml().replace('[listen.http]\nip = "127.0.0.1"\nport = 0', '[listen.http]\nip = "127.0.0.1"\nport = 70000\ncolour = "blue"')
  await expectRejected(
    toml.replace('loglevel = "debug"', 'loglevel = 3'),
    /listen\.http\.port: must be <= 65535/,
    /listen\.http\.colour: unknown key/,
    /general\.loglevel: must be one of/,
  )
})

test('bad plugin options name their path, in the default section or the vhost override', async () => {
  await expectRejected(
    configToml({ extra: `${POOL}\n[plugins.mod_event_pusher_http]\nmax_queue = 0\npath = "/n"` }),
    /plugins\.mod_event_pusher_http\.max_queue: must be >= 1/,
  )
  await expectRejected(
    configToml({ extra: `${POOL}\n[plugins.mod_event_pusher_http]\npath = "/n"\n[host_config.localhost.plugins.mod_event_pusher_http]\nbogus = 1` }),
    /host_config\.localhost\.plugins\.mod_event_pusher_http\.bogus: unknown key/,
  )
})

test('a missing pool fails at start naming pool_name', async () => {
  await expectRejected(
    configToml({ extra: `${POOL}\n[plugins.mod_event_pusher_http]\npool_name = "nope"\npath = "/n"` }),
    /plugins\.mod_event_pusher_http\.pool_name: no http_connections pool named "nope"/,
  )
})

test('an unknown plugin and a user on an unknown host', async () => {
  await expectRejected(configToml({ extra: `[plugins.mod_nothing]\nenabled = true` }), /plugins\.mod_nothing: no plugin named "mod_nothing"/)
  await expectRejected(configToml({ users: { 'eve@elsewhere.test': 'pw' } }), /auth\.users\."eve@elsewhere\.test": must be a bare JID/)
})

test('every problem in one run: schema errors, unknown keys, missing pools and callback modules, per vhost', async () => {
  const toml = configToml({
    hosts: ['localhost', 'b.test'],
    extra: `${POOL}
[plugins.mod_event_pusher_http]
pool_name = "nope"
callback_module = "./missing.mjs"
pool_nme = "http_pool"

[host_config."b.test".plugins.mod_event_pusher_http]
handlers = [{ pool_name = "also_nope" }]`,
  }).replace('[listen.http]\nip = "127.0.0.1"', '[listen.http]\nip = "127.0.0.1"\ncolour = "blue"')
  const problems = await expectRejected(toml.replace('loglevel = "debug"', 'loglevel = 3'))
  // Node's own words for the failed import follow the colon.
  assert.deepEqual(problems.map((p) => p.replace(/(cannot load callback module "[^"]+"): .+/, '$1: …')).sort(), [
    'general.loglevel: must be one of "trace", "debug", "info", "warn", "error", "fatal", "silent"',
    'host_config."b.test".plugins.mod_event_pusher_http.handlers.0.pool_name: no http_connections pool named "also_nope"',
    'listen.http.colour: unknown key',
    'plugins.mod_event_pusher_http.callback_module: cannot load callback module "./missing.mjs": …',
    'plugins.mod_event_pusher_http.pool_name: no http_connections pool named "nope"',
    'plugins.mod_event_pusher_http.pool_nme: unknown key; did you mean "pool_name"?',
  ])
})

test('did you mean: offered for near misses of keys and plugin names, not for far ones', async () => {
  const toml = configToml({
    extra: `${POOL}
[plugins.mod_event_pusher_htp]
path = "/n"
[plugins.mod_nothing]
[host_config.localhost.plugins.mod_event_pusher_http]
paht = "/n"
drain_timout = 10
bogus = 1
enabeld = true`,
  }).replace('port = 0', 'port = 0\nprot = 5')
  const problems = await expectRejected(toml)
  assert.deepEqual(problems.sort(), [
    'host_config.localhost.plugins.mod_event_pusher_http.bogus: unknown key',
    'host_config.localhost.plugins.mod_event_pusher_http.drain_timout: unknown key; did you mean "drain_timeout"?',
    'host_config.localhost.plugins.mod_event_pusher_http.enabeld: unknown key; did you mean "enabled"?',
    'host_config.localhost.plugins.mod_event_pusher_http.paht: unknown key; did you mean "path"?',
    'listen.c2s.prot: unknown key; did you mean "port"?',
    'plugins.mod_event_pusher_htp: no plugin named "mod_event_pusher_htp"; did you mean "mod_event_pusher_http"?',
    'plugins.mod_nothing: no plugin named "mod_nothing" (known: mod_event_pusher_http)',
  ])
})

test('enabling on a vhost without a section checks the defaults first and reports every issue', async () => {
  const server = await startTestServer({
    hosts: ['localhost', 'c.test'],
    extra: `[http_connections.other]\nserver = "http://127.0.0.1:9"\n[host_config.localhost.plugins.mod_event_pusher_http]\npool_name = "other"`,
  })
  try {
    await assert.rejects(server.loader.enable('mod_event_pusher_http', 'c.test'), (err: { code: string; errors: Error[] }) => {
      assert.equal(err.code, 'XMPPD_ERR_CONFIG')
      assert.deepEqual(
        err.errors.map((e) => e.message),
        ['plugins.mod_event_pusher_http.pool_name: no http_connections pool named "http_pool"'],
      )
      return true
    })
    assert.deepEqual(
      server.loader.list().map((s) => [s.host, s.enabled]),
      [
        ['localhost', true],
        ['c.test', false],
      ],
    )
  } finally {
    await server.stop()
  }
})

test('the server config types are generated from its schema and up to date (scripts/gen-config-types.mjs)', async () => {
  await promisify(execFile)(process.execPath, ['--import', 'tsx', path.join(root, 'scripts/gen-config-types.mjs'), '--check'], { cwd: root })
})

test('parseConfig applies defaults and freezes the result', () => {
  const { config, problems } = parseConfig('[general]\nhosts = ["h.test"]\n', '/tmp')
  assert.deepEqual(problems, [])
  assert.equal(config.listen.c2s.port, 5222)
  assert.equal(config.listen.c2s.ip, '127.0.0.1')
  assert.equal(config.listen.http.port, 5280)
  assert.equal(config.listen.c2s.max_stanza_size, 65536)
  assert.equal(config.listen.c2s.max_depth, 32)
  assert.ok(Object.isFrozen(config.listen.c2s))
})

test('bad usage exits 2', async () => {
  const run = spawnBin('xmppd', ['--c2s-port', 'lots'])
  assert.equal(await run.exit, 2)
  assert.match(run.stderr(), /--c2s-port: "lots" is not a port/)
})
