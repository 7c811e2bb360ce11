// The npm tarball (`npm run pack`) installs into an empty folder from the registry alone (the node-xmpp-server
// chain is bundled, so its GitHub-only dependency is never fetched) and its xmppd starts.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import { cpSync, mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { root } from './helpers/xmppd.js'

test('npm run pack → npm install in an empty folder → xmppd --version and --help', { timeout: 180_000 }, () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'xmppd-pack-'))
  const npm = (args: string[], cwd: string) => execFileSync('npm', args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] })
  const tarball = execFileSync(process.execPath, ['scripts/pack.mjs', '--pack-destination', dir, '--silent'], { cwd: root, encoding: 'utf8' })
    .trim()
    .split('\n')
    .pop()!
  const app = path.join(dir, 'app')
  execFileSync('mkdir', [app])
  writeFileSync(path.join(app, 'package.json'), '{"name":"app","version":"1.0.0","private":true}')
  // better-sqlite3 has no prebuilt binary to download here and builds from source in about two
  // minutes: install without scripts and give it the binary this checkout already built (the same
  // version on the same machine), as a prebuilt download would.
  npm(['install', '--no-audit', '--no-fund', '--prefer-offline', '--ignore-scripts', path.join(dir, tarball)], app)
  cpSync(path.join(root, 'node_modules/better-sqlite3/build'), path.join(app, 'node_modules/better-sqlite3/build'), { recursive: true })
  const sqlite = execFileSync(
    process.execPath,
    ['-e', "const D = require('better-sqlite3'); console.log(new D(':memory:').prepare('select 1 as one').get().one)"],
    {
      cwd: path.join(app, 'node_modules/mod_event_pusher_http'),
      encoding: 'utf8',
    },
  )
  assert.equal(sqlite.trim(), '1')
  const bin = path.join(app, 'node_modules/.bin/xmppd')
  const version = execFileSync(bin, ['--version'], { encoding: 'utf8' }).trim()
  assert.equal(version, JSON.parse(npm(['pkg', 'get', 'version'], root)))
  assert.match(execFileSync(bin, ['--help'], { encoding: 'utf8' }), /usage: xmppd/)
  // The bundled chain resolves node-xmpp-server with our reconnect-core stand-in.
  const resolved = execFileSync(
    process.execPath,
    ['-e', "console.log(require.resolve('reconnect-core', { paths: [require.resolve('node-xmpp-core', { paths: [require.resolve('node-xmpp-server')] })] }))"],
    {
      cwd: path.join(app, 'node_modules/mod_event_pusher_http'),
      encoding: 'utf8',
    },
  )
  assert.match(resolved, /mod_event_pusher_http\/node_modules\/reconnect-core\/index\.js/)
})
