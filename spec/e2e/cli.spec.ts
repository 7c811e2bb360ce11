// The built CLIs as a user meets them: --version, help for every command, our own one-line message
// for an unknown option, and xmppctl's token messages (missing and refused differ, and both say
// where it looked and how to pass the token).
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { configToml, root, spawnBin, startTestServer, type TestServer } from '../helpers/xmppd.js'

const version = (JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8')) as { version: string }).version

async function run(bin: 'xmppd' | 'xmppctl', args: string[], env: NodeJS.ProcessEnv = {}, cwd = root) {
  const p = spawnBin(bin, args, env, cwd)
  const code = await p.exit
  return { code, stdout: p.stdout(), stderr: p.stderr() }
}

// A server without admin_token in its config: it writes its token file into its data folder.
let server: TestServer
let url: string
before(async () => {
  server = await startTestServer(configToml().replace(/^admin_token = .*$/m, ''))
  url = `http://127.0.0.1:${server.httpPort}`
})
after(() => server.stop())

test('--version prints the package version, for both CLIs', async () => {
  for (const bin of ['xmppd', 'xmppctl'] as const) {
    const r = await run(bin, ['--version'])
    assert.equal(r.code, 0, r.stderr)
    assert.equal(r.stdout, `${version}\n`)
  }
})

test('an unknown option: one line of our own, exit 2, for both CLIs', async () => {
  for (const bin of ['xmppd', 'xmppctl'] as const) {
    for (const [args, option] of [
      [['--foo'], '--foo'],
      [['-x'], '-x'],
      [['plugin', 'list', '--bogus=1'], '--bogus'],
    ] as const) {
      const r = await run(bin, [...args])
      assert.equal(r.code, 2, `${bin} ${args.join(' ')}: ${r.stderr}`)
      assert.equal(r.stderr, `${bin}: unknown option ${option} (see ${bin} --help)\n`)
      assert.equal(r.stdout, '')
    }
    const missing = await run(bin, bin === 'xmppd' ? ['--config'] : ['--token'])
    assert.equal(missing.code, 2)
    assert.match(missing.stderr, new RegExp(`^${bin}: option --\\w+ needs a value \\(see ${bin} --help\\)\\n$`))
  }
})

test("help: xmppctl plugin --help and every command's --help exit 0 with its usage", async () => {
  const plugin = await run('xmppctl', ['plugin', '--help'])
  assert.equal(plugin.code, 0, plugin.stderr)
  assert.match(plugin.stdout, /^usage: xmppctl plugin /)
  for (const sub of ['list', 'enable', 'disable', 'status']) assert.match(plugin.stdout, new RegExp(`^  plugin ${sub}\\b`, 'm'))
  for (const command of ['plugin list', 'plugin enable', 'plugin disable', 'plugin status', 'metrics', 'reload']) {
    const r = await run('xmppctl', [...command.split(' '), '--help'])
    assert.equal(r.code, 0, `${command}: ${r.stderr}`)
    assert.match(r.stdout, new RegExp(`^usage: xmppctl ${command}\\b`))
  }
  const main = await run('xmppctl', ['--help'])
  assert.equal(main.code, 0)
  assert.match(main.stdout, /xmppd-data\/\.xmppd-admin-token/, 'the help says where the token is looked for')
  const bare = await run('xmppctl', ['plugin'])
  assert.equal(bare.code, 2)
  assert.equal(bare.stderr, 'xmppctl: plugin needs a command: list, enable, disable or status (see xmppctl plugin --help)\n')
  assert.equal((await run('xmppd', ['--help'])).code, 0)
})

test('xmppctl without a token: exit 1, says where it looked and how to pass one', async () => {
  const cwd = mkdtempSync(path.join(tmpdir(), 'xmppctl-none-'))
  const r = await run('xmppctl', ['--url', url, 'plugin', 'list'], {}, cwd)
  assert.equal(r.code, 1)
  const [first, ...rest] = r.stderr.trimEnd().split('\n')
  assert.match(first, /^xmppctl: no admin token found \(looked at: --token, XMPPD_ADMIN_TOKEN, /)
  assert.ok(first.includes(path.join(cwd, 'xmppd-data', '.xmppd-admin-token')), first)
  assert.ok(first.includes(path.join(cwd, '.xmppd-admin-token')), first)
  assert.match(rest.join('\n'), /--token TOKEN.*XMPPD_ADMIN_TOKEN.*--config FILE/s)
})

test('xmppctl with a wrong token: exit 1, another text naming where the token came from', async () => {
  const cwd = mkdtempSync(path.join(tmpdir(), 'xmppctl-wrong-'))
  const given = await run('xmppctl', ['--url', url, '--token', 'not-the-token', 'plugin', 'list'], {}, cwd)
  assert.equal(given.code, 1)
  assert.match(given.stderr, new RegExp(`^xmppctl: the server at ${url} refused the admin token from --token \\(HTTP 401\\)`))
  assert.ok(given.stderr.includes(path.join(cwd, 'xmppd-data', '.xmppd-admin-token')), 'names the token files it would read')
  assert.match(given.stderr, /XMPPD_ADMIN_TOKEN.*--config FILE/s)

  const env = await run('xmppctl', ['--url', url, 'plugin', 'list'], { XMPPD_ADMIN_TOKEN: 'not-the-token' }, cwd)
  assert.equal(env.code, 1)
  assert.match(env.stderr, /refused the admin token from XMPPD_ADMIN_TOKEN/)

  const file = path.join(cwd, 'xmppd-data', '.xmppd-admin-token')
  mkdirSync(path.dirname(file))
  writeFileSync(file, 'stale-token\n')
  const stale = await run('xmppctl', ['--url', url, 'plugin', 'list'], {}, cwd)
  assert.equal(stale.code, 1)
  assert.ok(stale.stderr.startsWith(`xmppctl: the server at ${url} refused the admin token from ${file} (HTTP 401)`), stale.stderr)
})

test('xmppctl --config FILE reads the token file the server wrote in its data folder', async () => {
  const r = await run('xmppctl', ['--config', server.configFile, '--url', url, 'plugin', 'list'])
  assert.equal(r.code, 0, r.stderr)
  assert.match(r.stdout, /mod_event_pusher_http\s+\S+\s+localhost\s+disabled/)
})
