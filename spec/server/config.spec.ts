// Config errors: each names its path, the process exits non-zero, nothing listens.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import net from 'node:net'
import { parseConfig } from '../../lib/server/config/load.js'
import { execFile } from 'node:child_process'
import path from 'node:path'
import { promisify } from 'node:util'
import { configToml, root, spawnBin, writeConfig } from '../helpers/xmppd.js'

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

async function expectRejected(toml: string, ...expected: RegExp[]): Promise<void> {
  const c2s = await freePort()
  const file = writeConfig(toml.replace('port = 0', `port = ${c2s}`))
  const run = spawnBin('xmppd', ['--config', file])
  const code = await run.exit
  assert.equal(code, 1, `exit code; stderr: ${run.stderr()}`)
  for (const re of expected) assert.match(run.stderr(), re)
  assert.ok(await refused(c2s), 'nothing listens on the c2s port')
}

test('bad TOML names the line', async () => {
  await expectRejected(configToml() + '\n[general\nhosts = 1\n', /invalid TOML \(line \d+/)
})

test('host_config for a host that is not in general.hosts', async () => {
  await expectRejected(configToml({ extra: `[host_config."nowhere.test".plugins.mod_event_pusher_http]\nenabled = false` }), /host_config\."nowhere\.test": "nowhere\.test" is not in general\.hosts/)
})

test('a bad port, an unknown key and a wrong type are all reported at once', async () => {
  const toml = configToml().replace('[listen.http]\nip = "127.0.0.1"\nport = 0', '[listen.http]\nip = "127.0.0.1"\nport = 70000\ncolour = "blue"')
  await expectRejected(toml.replace('loglevel = "debug"', 'loglevel = 3'), /listen\.http\.port: must be <= 65535/, /listen\.http\.colour: unknown key/, /general\.loglevel: must be one of/)
})

test('bad plugin options name their path, in the default section or the vhost override', async () => {
  await expectRejected(configToml({ extra: `${POOL}\n[plugins.mod_event_pusher_http]\nmax_queue = 0\npath = "/n"` }), /plugins\.mod_event_pusher_http\.max_queue: must be >= 1/)
  await expectRejected(
    configToml({ extra: `${POOL}\n[plugins.mod_event_pusher_http]\npath = "/n"\n[host_config.localhost.plugins.mod_event_pusher_http]\nbogus = 1` }),
    /host_config\.localhost\.plugins\.mod_event_pusher_http\.bogus: unknown key/,
  )
})

test('a missing pool fails at start naming pool_name', async () => {
  await expectRejected(configToml({ extra: `${POOL}\n[plugins.mod_event_pusher_http]\npool_name = "nope"\npath = "/n"` }), /plugins\.mod_event_pusher_http\.pool_name: no http_connections pool named "nope"/)
})

test('an unknown plugin and a user on an unknown host', async () => {
  await expectRejected(configToml({ extra: `[plugins.mod_nothing]\nenabled = true` }), /plugins\.mod_nothing: no plugin named "mod_nothing"/)
  await expectRejected(configToml({ users: { 'eve@elsewhere.test': 'pw' } }), /auth\.users\."eve@elsewhere\.test": must be a bare JID/)
})

test('the server config types are generated from its schema and up to date (scripts/gen-config-types.mjs)', async () => {
  await promisify(execFile)(process.execPath, ['--import', 'tsx', path.join(root, 'scripts/gen-config-types.mjs'), '--check'], { cwd: root })
})

test('parseConfig applies defaults and freezes the result', () => {
  const { config } = parseConfig('[general]\nhosts = ["h.test"]\n', '/tmp')
  assert.equal(config.listen.c2s.port, 5222)
  assert.equal(config.listen.c2s.ip, '127.0.0.1')
  assert.equal(config.listen.http.port, 5280)
  assert.equal(config.listen.c2s.max_stanza_size, 65536)
  assert.ok(Object.isFrozen(config.listen.c2s))
})

test('bad usage exits 2', async () => {
  const run = spawnBin('xmppd', ['--c2s-port', 'lots'])
  assert.equal(await run.exit, 2)
  assert.match(run.stderr(), /--c2s-port: "lots" is not a port/)
})
