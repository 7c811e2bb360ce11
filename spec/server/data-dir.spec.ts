// general.data_dir: where it resolves, the plugin folder the host creates and hands over as
// PluginContext.dataDir, and an unusable one refused at start with its path, nothing started.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { chmodSync, existsSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs'
import net from 'node:net'
import path from 'node:path'
import { Registry } from 'prom-client'
import { parseConfig, readConfigFile } from '../../lib/server/config/load.js'
import { defaultConfigToml } from '../../lib/server/demo/embedded-default.js'
import { loadManifest } from '../../lib/server/plugins/catalog.js'
import { HookRegistry } from '../../lib/server/plugins/hooks.js'
import { PluginLoader } from '../../lib/server/plugins/loader.js'
import { preflight } from '../../lib/server/plugins/preflight.js'
import { recordingLogger, type LogLine } from '../helpers/fake-host.js'
import { closedPort } from '../helpers/sink.js'
import { tempDir } from '../helpers/temp-dir.js'
import { configToml, spawnBin, startTestServer, writeConfig } from '../helpers/xmppd.js'

const general = (toml: string, lines: string) => toml.replace('loglevel = "debug"', `loglevel = "debug"\n${lines}`)

test('data_dir: xmppd-data next to the config file by default; a relative one resolves against that folder', () => {
  const dir = tempDir('xmppd-data-dir-')
  const at = (toml: string) => parseConfig(toml, dir).config.general.data_dir
  assert.equal(at(configToml()), path.join(dir, 'xmppd-data'))
  assert.equal(at(general(configToml(), 'data_dir = "state/node1"')), path.join(dir, 'state', 'node1'))
  assert.equal(at(general(configToml(), 'data_dir = "../elsewhere"')), path.resolve(dir, '..', 'elsewhere'))
  assert.equal(at(general(configToml(), 'data_dir = "/var/lib/xmppd"')), '/var/lib/xmppd')
  // The embedded default's config folder is the working directory: ./xmppd-data.
  assert.equal(parseConfig(defaultConfigToml('http://127.0.0.1:8000'), dir).config.general.data_dir, path.join(dir, 'xmppd-data'))
  assert.deepEqual(
    parseConfig(general(configToml(), 'data_dir = ""'), dir).problems.map((p) => p.message),
    ['general.data_dir: must NOT have fewer than 1 characters'],
  )
})

// A plugin of a few lines, through the catalog as the host loads any plugin: it records what its
// check and start see, and whether the folder was there when start ran.
interface Seen {
  checks: string[]
  starts: Array<{ host: string; dataDir: string; isFolder: boolean }>
}
const seen: Seen = ((globalThis as { __dataDirSpec?: Seen }).__dataDirSpec = { checks: [], starts: [] })

function tinyCatalog() {
  const dir = tempDir('xmppd-tiny-plugin-')
  writeFileSync(
    path.join(dir, 'index.mjs'),
    `import { statSync } from 'node:fs'
const seen = globalThis.__dataDirSpec
export async function check(ctx) { seen.checks.push(ctx.dataDir); return [] }
export default function create() {
  return {
    start(ctx) { seen.starts.push({ host: ctx.host, dataDir: ctx.dataDir, isFolder: statSync(ctx.dataDir, { throwIfNoEntry: false })?.isDirectory() ?? false }) },
    async stop() {},
  }
}
`,
  )
  writeFileSync(path.join(dir, 'plugin.json'), JSON.stringify({ id: 'mod_tiny', version: '0.0.1', entry: 'index.mjs', hooks: [], options: { type: 'object' } }))
  const entry = loadManifest(path.join(dir, 'plugin.json'))
  return new Map([[entry.manifest.id, entry]])
}

const TINY = `[general]\nhosts = ["a.test", "b.test"]\n[plugins.mod_tiny]\nenabled = true\n`

async function tinyServer(toml: string) {
  const catalog = tinyCatalog()
  const loaded = readConfigFile(writeConfig(toml))
  const settings = await preflight(loaded, catalog)
  const logs: LogLine[] = []
  const log = recordingLogger(logs)
  const vhosts = new Map(loaded.config.general.hosts.map((h) => [h, new HookRegistry(log)]))
  const loader = new PluginLoader({
    catalog,
    hooksOf: (h) => vhosts.get(h),
    sessions: { isOnline: () => false },
    registry: new Registry(),
    log,
    dataDir: loaded.config.general.data_dir,
    role: 'full',
  })
  await loader.apply(loaded.config, loaded.configDir, settings)
  return { loader, configDir: loaded.configDir }
}

test('PluginContext.dataDir: <data_dir>/<plugin id>, the same on every vhost, created (0700) before start, again after it was removed', async () => {
  seen.checks.length = seen.starts.length = 0
  const { loader, configDir } = await tinyServer(TINY)
  const folder = path.join(configDir, 'xmppd-data', 'mod_tiny')
  assert.deepEqual(seen.starts.map((s) => [s.host, s.dataDir, s.isFolder]).sort(), [
    ['a.test', folder, true],
    ['b.test', folder, true],
  ])
  assert.deepEqual(seen.checks, [folder, folder], 'check sees the folder start will get')
  assert.equal(statSync(folder).mode & 0o777, 0o700)

  rmSync(path.join(configDir, 'xmppd-data'), { recursive: true })
  await loader.disable('mod_tiny', 'a.test')
  await loader.enable('mod_tiny', 'a.test')
  assert.deepEqual(seen.starts.at(-1), { host: 'a.test', dataDir: folder, isFolder: true })

  // A file where the plugin's folder goes: that instance does not start, the error names the path.
  rmSync(folder, { recursive: true })
  writeFileSync(folder, 'in the way')
  const starts = seen.starts.length
  await loader.disable('mod_tiny', 'b.test')
  await assert.rejects(loader.enable('mod_tiny', 'b.test'), (err: { errors: Error[] }) => {
    assert.deepEqual(
      err.errors.map((e) => e.message),
      [`general.data_dir: cannot create ${folder}: ${folder} is a file, not a folder`],
    )
    return true
  })
  assert.equal(seen.starts.length, starts, 'start was not called')
  assert.equal(readFileSync(folder, 'utf8'), 'in the way', 'the file is left alone')
  await loader.stopAll()
})

test('a relative data_dir holds the plugin folders and the generated admin token, nothing is written next to the config', async () => {
  const plugin = `[http_connections.http_pool]\nserver = "http://127.0.0.1:9"\n[plugins.mod_event_pusher_http]\npool_name = "http_pool"\npath = "/n"`
  const toml = general(configToml({ extra: plugin }).replace(/^admin_token = .*$/m, ''), 'data_dir = "state"')
  const server = await startTestServer(toml)
  try {
    const dir = path.dirname(server.configFile)
    assert.equal(server.loader.list('localhost')[0].enabled, true)
    assert.ok(statSync(path.join(dir, 'state', 'mod_event_pusher_http')).isDirectory())
    const token = path.join(dir, 'state', '.xmppd-admin-token')
    assert.equal(server.adminToken.file, token)
    assert.equal(statSync(token).mode & 0o777, 0o600)
    assert.equal(existsSync(path.join(dir, '.xmppd-admin-token')), false)
    assert.equal(existsSync(path.join(dir, 'xmppd-data')), false, 'the default folder is not made')
    assert.ok(server.logs.some((l) => l.msg === 'data folder' && l.data_dir === path.join(dir, 'state')))
  } finally {
    await server.stop()
  }
})

test('a file in the way of data_dir: a config error naming the absolute path; no plugin starts', async () => {
  for (const written of ['blocker', 'blocker/deeper']) {
    seen.checks.length = seen.starts.length = 0
    const file = writeConfig(TINY.replace('[general]\n', `[general]\ndata_dir = "${written}"\n`))
    const blocker = path.join(path.dirname(file), 'blocker')
    writeFileSync(blocker, '')
    await assert.rejects(preflight(readConfigFile(file), tinyCatalog()), (err: { code: string; errors: Error[] }) => {
      assert.equal(err.code, 'XMPPD_ERR_CONFIG')
      assert.deepEqual(
        err.errors.map((e) => e.message),
        [`general.data_dir: cannot create ${path.resolve(path.dirname(file), written)}: ${blocker} is a file, not a folder`],
      )
      return true
    })
    assert.equal(seen.starts.length, 0)
  }
})

// root writes in a read-only folder all the same, so this case can only fail for another user.
const root = process.getuid?.() === 0
test('a folder that cannot be written: a config error naming it', { skip: root && 'running as root, which can write in a read-only folder' }, async () => {
  const file = writeConfig(configToml().replace('loglevel = "debug"', 'loglevel = "debug"\ndata_dir = "locked"'))
  const locked = path.join(path.dirname(file), 'locked')
  mkdirSync(locked)
  chmodSync(locked, 0o500)
  try {
    await assert.rejects(preflight(readConfigFile(file), tinyCatalog()), (err: { errors: Error[] }) => {
      assert.deepEqual(
        err.errors.map((e) => e.message),
        [`general.data_dir: cannot write in ${locked}: permission denied`],
      )
      return true
    })
  } finally {
    chmodSync(locked, 0o700)
  }
})

test('xmppd --config with an unusable data_dir: exit 1, the path in the message, nothing listens', async () => {
  const c2s = await closedPort()
  const file = writeConfig(general(configToml(), 'data_dir = "blocker/state"').replace('port = 0', `port = ${c2s}`))
  const blocker = path.join(path.dirname(file), 'blocker')
  writeFileSync(blocker, '')
  const run = spawnBin('xmppd', ['--config', file])
  assert.equal(await run.exit, 1, run.stderr())
  assert.equal(
    run.stderr(),
    `xmppd: invalid configuration:\n  general.data_dir: cannot create ${path.join(blocker, 'state')}: ${blocker} is a file, not a folder\n`,
  )
  assert.doesNotMatch(run.stdout(), /listening|plugin started/)
  const connected = await new Promise<boolean>((resolve) => {
    const s = net.connect(c2s, '127.0.0.1')
    s.once('connect', () => (s.destroy(), resolve(true)))
    s.once('error', () => resolve(false))
  })
  assert.equal(connected, false, 'nothing listens on the c2s port')
})

test('reload: a changed data_dir is reported as needing a restart; the running folder is kept, the new one not made', async () => {
  const server = await startTestServer()
  try {
    const dir = path.dirname(server.configFile)
    const before = readFileSync(server.configFile, 'utf8')
    writeFileSync(server.configFile, general(before, 'data_dir = "moved"'))
    const result = await server.reload()
    assert.deepEqual(result.restart_required, ['general.data_dir'])
    assert.equal(existsSync(path.join(dir, 'moved')), false)
    assert.ok(statSync(path.join(dir, 'xmppd-data')).isDirectory())
    writeFileSync(server.configFile, before)
    assert.deepEqual((await server.reload()).restart_required, [])
  } finally {
    await server.stop()
  }
})
