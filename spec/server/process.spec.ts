// The xmppd process: the embedded default (what `npm start` runs) end to end, its state folder,
// and a graceful shutdown on SIGTERM that closes streams with </stream:stream> and exits 0.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { existsSync, mkdtempSync, readFileSync, statSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { spawn } from 'node:child_process'
import Database from 'better-sqlite3'
import { connectClient } from '../helpers/client.js'
import { RawXmpp } from '../helpers/raw-xmpp.js'
import { sendxmpp } from '../helpers/sendxmpp.js'
import { configToml, spawnBin, writeConfig } from '../helpers/xmppd.js'

test('the embedded default: two demo users chat, the built-in receiver prints the notification', async () => {
  const cwd = mkdtempSync(path.join(tmpdir(), 'xmppd-default-'))
  const run = spawnBin('xmppd', ['--c2s-port', '0', '--http-port', '0', '--receiver-port', '0'], {}, cwd)
  try {
    const [, c2s] = await run.waitFor(/XMPP \(STARTTLS, self-signed certificate\): 127\.0\.0\.1:(\d+)/)
    const [, http] = await run.waitFor(/dashboard: http:\/\/127\.0\.0\.1:(\d+)\/dashboard/)
    assert.match(run.stdout(), /alice@localhost {2}password: alice/)
    // The embedded default's certificate is generated: tell @xmpp/client nothing, use go-sendxmpp -n to send.
    const received: string[] = []
    const bobWatch = spawn('go-sendxmpp', ['-n', '-l', '-j', `127.0.0.1:${c2s}`, '-u', 'bob@localhost', '-p', 'bob'], { stdio: ['ignore', 'pipe', 'pipe'] })
    bobWatch.stdout.on('data', (d) => received.push(String(d)))
    await new Promise((r) => setTimeout(r, 1500)) // bob's listener logs in
    await sendxmpp(Number(c2s), 'alice@localhost', 'alice', 'bob@localhost', 'hello from the default')
    const [line] = await run.waitFor(/\[receiver\] POST \/webservice\/notifications .*/)
    assert.equal(line, '[receiver] POST /webservice/notifications author="alice" server="localhost" receiver="bob" message="hello from the default"')
    const deadline = Date.now() + 5000
    while (!received.join('').includes('hello from the default') && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50))
    bobWatch.kill()
    assert.match(received.join(''), /hello from the default/)
    const metrics = await (await fetch(`http://127.0.0.1:${http}/metrics`)).text()
    assert.match(metrics, /mod_http_notifications_sent_total\{host="localhost"\} 1/)
  } finally {
    run.child.kill('SIGTERM')
    await run.exit
  }
  // The demo accounts are contacts of each other in their stored rosters (written at the first start).
  const db = new Database(path.join(cwd, 'xmppd-data', 'roster.sqlite'), { readonly: true })
  const rows = db.prepare('SELECT account, jid, subscription FROM roster ORDER BY account, jid').all() as Array<Record<string, string>>
  db.close()
  assert.deepEqual(
    rows.map((r) => `${r.account} → ${r.jid} ${r.subscription}`),
    [
      'admin@localhost → alice@localhost both',
      'admin@localhost → bob@localhost both',
      'alice@localhost → admin@localhost both',
      'alice@localhost → bob@localhost both',
      'bob@localhost → admin@localhost both',
      'bob@localhost → alice@localhost both',
    ],
  )
})

test('the embedded default keeps its admin token in ./xmppd-data, says so, and xmppctl run there finds it', async () => {
  const cwd = mkdtempSync(path.join(tmpdir(), 'xmppd-data-'))
  const run = spawnBin('xmppd', ['--c2s-port', '0', '--http-port', '0', '--receiver-port', '0'], { XMPPD_ADMIN_TOKEN: '' }, cwd)
  try {
    const [, http] = await run.waitFor(/dashboard: http:\/\/127\.0\.0\.1:(\d+)\/dashboard/)
    const file = path.join(cwd, 'xmppd-data', '.xmppd-admin-token')
    await run.waitFor(/admin: npx xmppctl/)
    assert.ok(run.stdout().includes(`state: ./xmppd-data/ (the admin token: ${file})`), run.stdout())
    assert.equal(statSync(file).mode & 0o777, 0o600)
    assert.ok(readFileSync(file, 'utf8').trim().length >= 16)
    assert.equal(existsSync(path.join(cwd, '.xmppd-admin-token')), false, 'nothing is written loose in the working directory')
    const ctl = spawnBin('xmppctl', ['--url', `http://127.0.0.1:${http}`, 'plugin', 'list'], { XMPPD_ADMIN_TOKEN: '' }, cwd)
    assert.equal(await ctl.exit, 0, ctl.stderr())
    assert.match(ctl.stdout(), /mod_event_pusher_http\s+\S+\s+localhost\s+enabled/)
  } finally {
    run.child.kill('SIGTERM')
    await run.exit
  }
})

test('SIGTERM: streams end with <system-shutdown/> and </stream:stream>, the process exits 0', async () => {
  const file = writeConfig(configToml())
  const run = spawnBin('xmppd', ['--config', file])
  const [, port] = await run.waitFor(/"port":(\d+),"hosts"/)
  const alice = await connectClient(Number(port), 'alice@localhost', 'alice-pw')
  const raw = await RawXmpp.connect(Number(port))
  await raw.login('bob', 'bob-pw', 'r')
  run.child.kill('SIGTERM')
  await raw.waitFor(/<stream:error><system-shutdown [^>]*\/>[\s\S]*<\/stream:stream>/)
  assert.equal(await run.exit, 0)
  assert.match(run.stdout(), /"msg":"stopped"/)
  await alice.stop()
})
