// xmppctl --config FILE finds the token xmppd generated: in FILE's general.data_dir (resolved as
// xmppd resolves it), then next to FILE, where servers started before data_dir existed wrote it;
// and its messages name both places.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdirSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { missingTokenText, refusedTokenText, resolveTarget } from '../../lib/cli/xmppctl-target.js'
import { configToml, spawnBin, startTestServer, writeConfig } from '../helpers/xmppd.js'

const TOKEN = '.xmppd-admin-token'
const withDataDir = (toml: string, dir: string) => toml.replace('loglevel = "debug"', `loglevel = "debug"\ndata_dir = "${dir}"`)
const noToken = (toml: string) => toml.replace(/^admin_token = .*$/m, '')

test('with --config: the data_dir of the file first (default xmppd-data next to it), then next to the file', () => {
  const file = writeConfig(noToken(withDataDir(configToml(), 'var/state')))
  const dir = path.dirname(file)
  const [inDataDir, nextToConfig] = [path.join(dir, 'var', 'state', TOKEN), path.join(dir, TOKEN)]
  const target = () => resolveTarget({ config: file, url: 'http://127.0.0.1:1' }, {})
  assert.deepEqual(target().tokenFiles, [inDataDir, nextToConfig])

  const none = target()
  assert.equal(none.token, undefined)
  const missing = missingTokenText(none)
  assert.ok(missing.startsWith(`no admin token found (looked at: --token, XMPPD_ADMIN_TOKEN, admin_token in ${file}, ${inDataDir}, ${nextToConfig})`), missing)

  writeFileSync(nextToConfig, 'old-place-token\n')
  assert.deepEqual([target().token, target().tokenSource], ['old-place-token', nextToConfig], 'a server of an older version wrote it next to the config')
  mkdirSync(path.dirname(inDataDir), { recursive: true })
  writeFileSync(inDataDir, 'data-dir-token\n')
  const found = target()
  assert.deepEqual([found.token, found.tokenSource], ['data-dir-token', inDataDir], 'the data folder comes first')
  const refused = refusedTokenText(found)
  assert.ok(refused.includes(`refused the admin token from ${inDataDir}`), refused)
  assert.ok(refused.includes(`${inDataDir}, then ${nextToConfig}`), refused)

  const plain = writeConfig(configToml())
  assert.deepEqual(resolveTarget({ config: plain, url: 'http://127.0.0.1:1' }, {}).tokenFiles, [
    path.join(path.dirname(plain), 'xmppd-data', TOKEN),
    path.join(path.dirname(plain), TOKEN),
  ])
})

test('xmppctl --config finds the token a real server generated in its data_dir', async () => {
  const server = await startTestServer(noToken(withDataDir(configToml(), 'state')))
  try {
    const dir = path.dirname(server.configFile)
    assert.equal(server.adminToken.file, path.join(dir, 'state', TOKEN))
    // A token left next to the config by an older server is not the one in use: the data folder wins.
    writeFileSync(path.join(dir, TOKEN), 'left-by-an-older-version\n')
    const ctl = spawnBin('xmppctl', ['--config', server.configFile, '--url', `http://127.0.0.1:${server.httpPort}`, 'plugin', 'list'], {
      XMPPD_ADMIN_TOKEN: '',
    })
    assert.equal(await ctl.exit, 0, ctl.stderr())
    assert.match(ctl.stdout(), /mod_event_pusher_http\s+\S+\s+localhost\s+disabled/)
  } finally {
    await server.stop()
  }
})
