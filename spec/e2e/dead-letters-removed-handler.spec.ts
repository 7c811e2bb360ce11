// Dead letters of a handler a reload removed, on the real server: the status text and the
// dashboard (Debian's chromium) show the removed handler with its dead letters only (not as
// "0 pending"); a replay leaves them where they are and says so (dashboard, xmppctl, API), since
// no handler could deliver them; once a handler of that name runs again they replay with their
// webhook-ids, and the accounting holds.
import { test, afterEach } from 'node:test'
import assert from 'node:assert/strict'
import { readFileSync, writeFileSync } from 'node:fs'
import { launchBrowser, waitForText } from '../helpers/browser.js'
import { bodies, chatSender } from '../helpers/chat-load.js'
import { assertBalanced, eventually, hostCounts } from '../helpers/metrics.js'
import { webhookRecorder } from '../helpers/webhook-recorder.js'
import { ADMIN_TOKEN, configToml, startTestServer, xmppctlOn } from '../helpers/xmppd.js'

const HOST = 'localhost'
const cleanups: Array<() => Promise<unknown>> = []
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c().catch(() => undefined)
})

const xmppctl = xmppctlOn

test('a removed handler with dead letters only: shown as such; a replay leaves them and says why; replayed once the handler is back', async () => {
  const rec = await webhookRecorder()
  rec.answer(410) // a final answer: a dead letter at the first try
  const server = await startTestServer(
    configToml({
      users: { 'alice@localhost': 'alice-pw', 'bob@localhost': 'bob-pw' },
      extra: `
[http_connections.http_pool]
server = "${rec.url}"

[plugins.mod_event_pusher_http]
pool_name = "http_pool"
path = "/n"
`,
    }),
  )
  cleanups.push(
    () => rec.close(),
    () => server.stop(),
  )
  const alice = await chatSender(server.c2sPort, 'alice', 'alice-pw')
  cleanups.push(async () => alice.close())
  const messages = bodies('orphaned', 2)
  for (const m of messages) await alice.send('bob@localhost', [m])
  await eventually(
    () => hostCounts(server.registry, HOST),
    (c) => assert.equal(c.failed.status, 2),
    10_000,
  )
  const firstIds = new Map(rec.deliveries.map((d) => [d.message, d.id]))

  // Another path is another handler name: http_pool/n is gone, its two dead letters stay.
  const original = readFileSync(server.configFile, 'utf8')
  writeFileSync(server.configFile, original.replace('path = "/n"', 'path = "/v2"'))
  await server.reload()
  const status = await xmppctl(server, 'plugin', 'status', '--host', HOST)
  assert.equal(status.code, 0, status.stderr)
  assert.match(status.stdout, /^ {2}removed handler http_pool\/n: 2 dead letters \(replayable once a handler of that name runs again\)$/m)
  assert.doesNotMatch(status.stdout, /0 pending/)

  const browser = await launchBrowser()
  cleanups.push(() => browser.close())
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 } })
  await context.addInitScript((t) => sessionStorage.setItem('xmppd.adminToken', t), ADMIN_TOKEN)
  const page = await context.newPage()
  await page.goto(`http://127.0.0.1:${server.httpPort}/dashboard`)
  await waitForText(page, `orphan-${HOST}-http_pool/n`, (t) => t === '2 dead letters')
  assert.ok(await page.getByTestId(`orphans-${HOST}`).isVisible())

  rec.answer(204)
  await page.getByTestId(`replay-${HOST}`).click()
  await waitForText(page, `replay-result-${HOST}`, (t) => t === 'replayed 0; left, no handler of that name runs: http_pool/n 2')
  const left = await xmppctl(server, 'deliveries', 'replay', '--host', HOST, '--failed')
  assert.equal(left.code, 0, left.stderr)
  assert.equal(left.stdout, 'replayed 0\n  no handler http_pool/n runs (a reload removed it): 2 left as dead letters, replayable once it runs again\n')
  const api = await fetch(`http://127.0.0.1:${server.httpPort}/api/hosts/${HOST}/plugins/mod_event_pusher_http/deliveries/replay`, {
    method: 'POST',
    headers: { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json' },
    body: JSON.stringify({ ids: [...firstIds.values()] }),
  })
  assert.deepEqual(await api.json(), { replayed: 0, notFound: [], noHandler: [{ handler: 'http_pool/n', count: 2 }] })
  assert.equal((await hostCounts(server.registry, HOST)).replayed, 0, 'nothing counted replayed')

  // The handler of that name is back: they replay with their webhook-ids.
  writeFileSync(server.configFile, original)
  await server.reload()
  const back = await xmppctl(server, 'deliveries', 'replay', '--host', HOST, '--failed')
  assert.equal(back.stdout, 'replayed 2\n')
  await rec.waitForAll(messages, 10_000)
  for (const d of rec.deliveries.filter((x) => x.status === 204)) assert.equal(d.id, firstIds.get(d.message), `${d.message}: its original webhook-id`)
  const c = await assertBalanced(server.registry, HOST, 5000)
  assert.deepEqual([c.accepted, c.replayed, c.sent, c.failedTotal], [2, 2, 2, 2])
})
