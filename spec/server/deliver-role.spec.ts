// PluginContext.role threaded through the host, in process: xmppd gives "full" and lets the
// hooks fire; the loader of a delivery worker ("deliver") keeps every hook an instance registers
// away from the vhost, through enable, disable and reload, so none can fire whatever runs the
// vhost's registry. The worker as a process: deliver.spec.ts.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import path from 'node:path'
import { jid } from '@xmpp/jid'
import { Registry } from 'prom-client'
import { HOOKS, type PluginRole } from '../../lib/contract.js'
import { readConfigFile } from '../../lib/server/config/load.js'
import { loadManifest } from '../../lib/server/plugins/catalog.js'
import { HookRegistry } from '../../lib/server/plugins/hooks.js'
import { PluginLoader } from '../../lib/server/plugins/loader.js'
import { preflight } from '../../lib/server/plugins/preflight.js'
import { readRecord } from '../fixtures/role-recorder/index.js'
import { connectClient } from '../helpers/client.js'
import { recordingLogger } from '../helpers/fake-host.js'
import { chat } from '../helpers/stanza.js'
import { configToml, root, startTestServer, writeConfig } from '../helpers/xmppd.js'

const recorder = () => loadManifest(path.join(root, 'spec/fixtures/role-recorder/plugin.json'))

function recorderConfig(hosts = ['localhost'], users?: Record<string, string>) {
  const file = writeConfig('')
  const record = path.join(path.dirname(file), 'record.jsonl')
  return { record, toml: configToml({ hosts, users: users ?? {}, extra: `[plugins.mod_role_recorder]\nrecord = ${JSON.stringify(record)}\n` }) }
}

async function until(what: string, ok: () => boolean, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!ok()) {
    if (Date.now() > deadline) throw new Error(`${what}: never came`)
    await new Promise((r) => setTimeout(r, 20))
  }
}

test('xmppd: role "full" in check and start; the hooks fire and sessions see the sender online', async () => {
  const { record, toml } = recorderConfig(['localhost'], { 'alice@localhost': 'alice-pw' })
  const server = await startTestServer(toml, {}, { extraPlugins: [recorder()] })
  try {
    const firstLines = readRecord(record)
    assert.deepEqual(
      firstLines.map((l) => [l.event, 'role' in l ? l.role : undefined]),
      [
        ['check', 'full'],
        ['start', 'full'],
      ],
    )
    const alice = await connectClient(server.c2sPort, 'alice@localhost', 'alice-pw')
    await alice.chat('bob@localhost', 'hi')
    // The initial presence's own user_send_packet runs before it makes alice available (online
    // is false there); the message's runs after.
    await until('user_send_packet', () => readRecord(record).some((l) => l.event === 'hook' && l.hook === 'user_send_packet' && l.online))
    const hooks = readRecord(record).filter((l) => l.event === 'hook')
    assert.ok(hooks.some((l) => l.event === 'hook' && l.hook === 'user_available' && l.online))
    assert.ok(hooks.some((l) => l.event === 'hook' && l.hook === 'user_send_packet' && l.online))
    await alice.stop()
  } finally {
    await server.stop()
  }
})

/** The loader as either root wires it, on the recorder; the vhosts' registries are the spec's. */
async function loaderIn(role: PluginRole) {
  const { record, toml } = recorderConfig(['a.test', 'b.test'])
  const catalog = new Map([['mod_role_recorder', recorder()]])
  const loaded = readConfigFile(writeConfig(toml))
  const log = recordingLogger([])
  const vhosts = new Map(loaded.config.general.hosts.map((h) => [h, new HookRegistry(log)]))
  const loader = new PluginLoader({
    catalog,
    hooksOf: (h) => vhosts.get(h),
    sessions: { isOnline: () => false },
    registry: new Registry(),
    log,
    dataDir: loaded.config.general.data_dir,
    role,
  })
  await loader.apply(loaded.config, loaded.configDir, await preflight(loaded, catalog, undefined, role))
  /** Runs every hook on every vhost, as the c2s layer would. */
  const fireAll = () => {
    for (const [host, hooks] of vhosts) {
      const user = jid(`alice@${host}/r`)
      const { packet, from, to } = chat(`alice@${host}/r`, `bob@${host}`, 'hi')
      hooks.run('user_send_packet', packet, from, to)
      hooks.run('user_available', user)
      hooks.run('user_unavailable', user)
    }
  }
  const attached = () => [...vhosts.values()].flatMap((hooks) => HOOKS.filter((h) => hooks.has(h)))
  return { loader, record, fireAll, attached }
}

test('the loader in role "deliver": the instances start with that role and no hook ever reaches a vhost, also after disable and enable', async () => {
  const { loader, record, fireAll, attached } = await loaderIn('deliver')
  const started = readRecord(record).filter((l) => l.event === 'start' || l.event === 'check')
  assert.equal(started.length, 4)
  assert.ok(started.every((l) => 'role' in l && l.role === 'deliver'))
  assert.deepEqual(attached(), [])
  await loader.disable('mod_role_recorder', 'a.test')
  await loader.enable('mod_role_recorder', 'a.test')
  assert.deepEqual(attached(), [])
  fireAll()
  assert.deepEqual(
    readRecord(record).filter((l) => l.event === 'hook'),
    [],
  )
  await loader.stopAll()
})

test('the same loader in role "full" attaches them: firing reaches every instance (so the test above can fail)', async () => {
  const { loader, record, fireAll, attached } = await loaderIn('full')
  assert.equal(attached().length, 6)
  fireAll()
  assert.equal(readRecord(record).filter((l) => l.event === 'hook').length, 6)
  await loader.stopAll()
})
