// A config the server can run but that cannot work as meant is warned about in the log, with its
// path: an admin JID with no account in [auth.users] cannot log in to use the admin commands.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { readFileSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { parseConfig } from '../../lib/server/config/load.js'
import { configWarnings } from '../../lib/server/config/warnings.js'
import { configToml, DEFAULT_USERS, root, startTestServer } from '../helpers/xmppd.js'

const adminWarnings = (logs: Array<Record<string, unknown>>) =>
  logs.filter((l) => l.level === 'warn' && String(l.msg).includes('has no account in [auth.users]'))

test('an admin without an account is warned about at start and on reload, until the account exists', async () => {
  const server = await startTestServer({ admins: ['alice@localhost', 'Admin@localhost'] })
  try {
    const [w, ...more] = adminWarnings(server.logs)
    assert.deepEqual(more, [], 'alice has an account: one warning only')
    assert.equal(w.path, 'general.admins.1')
    assert.equal(w.msg, 'general.admins.1: admin "Admin@localhost" has no account in [auth.users]: it cannot log in to use the admin commands')

    const text = readFileSync(server.configFile, 'utf8')
    writeFileSync(server.configFile, configToml({ admins: ['alice@localhost', 'Admin@localhost'], users: { ...DEFAULT_USERS, 'admin@localhost': 'pw' } }))
    const before = server.logs.length
    await server.reload()
    assert.deepEqual(adminWarnings(server.logs.slice(before)), [], 'accounts match case-insensitively, as at login')
    writeFileSync(server.configFile, text)
    await server.reload()
    assert.equal(adminWarnings(server.logs.slice(before)).length, 1, 'a reload that drops the account warns again')
  } finally {
    await server.stop()
  }
})

test("the README's server config is valid and gives no warning: its admin has an account", () => {
  const readme = readFileSync(path.join(root, 'README.md'), 'utf8')
  const section = readme.slice(readme.indexOf('## Running your own server'))
  const toml = /```toml\n([\s\S]*?)```/.exec(section)![1]
  const { config } = parseConfig(toml, root)
  assert.deepEqual(config.general.admins, ['admin@localhost'])
  assert.deepEqual(configWarnings(config), [])
  const without = toml.replace(/^"admin@localhost" = .*$/m, '')
  assert.deepEqual(
    configWarnings(parseConfig(without, root).config).map((w) => w.path),
    ['general.admins.0'],
  )
})
