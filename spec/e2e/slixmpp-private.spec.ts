// slixmpp (Debian's python3-slixmpp) against the real server: XEP-0048 bookmarks through XEP-0049
// private storage, stored by one resource and read by another; XEP-0092 version and XEP-0012 last
// activity of the server; the last activity of an account that left with a status.
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import path from 'node:path'
import { root, startTestServer, type TestServer } from '../helpers/xmppd.js'
import { slixmpp } from '../helpers/slixmpp.js'

let server: TestServer
let started: number

before(async () => {
  started = Date.now()
  // The shared roster: the script reads another account's last logout without subscribing first.
  server = await startTestServer({ general: { roster: 'shared' } })
})
after(() => server.stop())

test('slixmpp: bookmarks stored and read back, server version and uptime, an account’s last logout with its status', async () => {
  const out = (await slixmpp('private_version_last.py', server.c2sPort)) as {
    bookmarks: Array<Record<string, string>>
    version: { name: string; version: string }
    uptime: number
    self: number
    bob: { seconds: number; status: string }
  }
  assert.deepEqual(out.bookmarks, [{ jid: 'council@conference.localhost', name: 'The Council', autojoin: 'true', nick: 'alice' }])
  assert.deepEqual(out.version, { name: 'xmppd', version: JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8')).version })
  const bound = Math.ceil((Date.now() - started) / 1000)
  assert.ok(out.uptime >= 0 && out.uptime <= bound, `uptime ${out.uptime}`)
  assert.equal(out.self, 0, 'another resource of alice is online')
  assert.equal(out.bob.status, 'Gone fishing')
  assert.ok(out.bob.seconds >= 0 && out.bob.seconds <= bound, `bob left ${out.bob.seconds}s ago`)
})
