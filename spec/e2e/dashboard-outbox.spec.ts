// The operator's views of the outbox (dashboard in Debian's chromium, /dashboard/data, the status
// text of xmppctl) against the real server, real clients and an endpoint that refuses
// connections, so that what is sent stays pending: a handler a reload removes, whose
// notifications stay pending under its name until it returns; and a new process on the same data
// folder, which finds them and counts them recovered. The restart runs the built xmppd (dist/:
// `npm test` builds first).
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { readFileSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import type { Browser } from 'playwright-core'
import { launchBrowser, waitForText } from '../helpers/browser.js'
import { connectClient, type TestClient } from '../helpers/client.js'
import { eventually } from '../helpers/metrics.js'
import { closedPort } from '../helpers/sink.js'
import { formatStatus } from '../../lib/server/admin/status-text.js'
import type { PluginStatus } from '../../lib/server/plugins/status.js'
import { spawnBin, startTestServer, type TestServer } from '../helpers/xmppd.js'

const ID = 'mod_event_pusher_http'
const HOST = 'x.test'
let server: TestServer
let browser: Browser
let outboxFile: string
const clients: TestClient[] = []

before(async () => {
  server = await startTestServer({
    hosts: [HOST],
    users: { [`xia@${HOST}`]: 'pw', [`xu@${HOST}`]: 'pw' },
    extra: `
[http_connections.dead_pool]
server = "http://127.0.0.1:${await closedPort()}"

[plugins.mod_event_pusher_http]
pool_name = "dead_pool"
path = "/n"
`,
  })
  outboxFile = path.join(path.dirname(server.configFile), 'xmppd-data', ID, 'outbox.sqlite')
  const [xia, xu] = [await connectClient(server.c2sPort, `xia@${HOST}`, 'pw'), await connectClient(server.c2sPort, `xu@${HOST}`, 'pw')]
  clients.push(xia, xu)
  // Four notifications for an endpoint that refuses connections: pending, not failed.
  for (let i = 1; i <= 4; i++) {
    await xia.chat(`xu@${HOST}`, `kept ${i}`)
    await xu.next((s) => s.is('message') && s.getChildText('body') === `kept ${i}`)
  }
  browser = await launchBrowser()
})

after(async () => {
  await browser?.close()
  await Promise.all(clients.map((c) => c.stop()))
  await server?.stop() // harmless when the restart test stopped it already
})

/** The plugin's status on the vhost, as the dashboard reads it. */
async function statusAt(base: string): Promise<PluginStatus> {
  const data = (await (await fetch(`${base}/dashboard/data`)).json()) as { hosts: Array<{ host: string; plugins: PluginStatus[] }> }
  return data.hosts.find((h) => h.host === HOST)!.plugins[0]
}

test('a reload that removes a handler: its notifications stay pending, shown as removed; they are its again when it returns', async () => {
  const base = `http://127.0.0.1:${server.httpPort}`
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 } })
  const original = readFileSync(server.configFile, 'utf8')
  try {
    const page = await context.newPage()
    await page.goto(`${base}/dashboard`)
    await waitForText(page, `pending-${HOST}`, (t) => t === '4')
    await waitForText(page, `pending-${HOST}-dead_pool/n`, (t) => t === '4 / 1,000,000 pending')
    // Per handler, the age of its oldest pending notification (its oldest_pending series).
    assert.ok(((await statusAt(base)).metrics.oldest_pending?.by ?? {})['dead_pool/n'] > 0)
    await waitForText(page, `oldest-${HOST}-dead_pool/n`, (t) => /^oldest \d+ (s|min)$/.test(t))
    assert.equal(await page.getByTestId(`failed-${HOST}`).textContent(), '0', 'unreachable is not a failure')
    assert.equal(await page.getByTestId(`outbox-${HOST}`).textContent(), `sqlite · ${outboxFile}`)
    assert.ok(await page.getByTestId(`orphans-${HOST}`).isHidden(), 'no removed handlers to show')

    // The handler gets another path, so another name: the four have no handler now.
    writeFileSync(server.configFile, original.replace('path = "/n"', 'path = "/v2"'))
    await server.reload()
    const renamed = await eventually(
      () => statusAt(base),
      (s) => assert.deepEqual((s.detail as any).orphans, [{ name: 'dead_pool/n', pending: 4, dead_letters: 0 }]),
    )
    assert.deepEqual(
      (renamed.detail as any).handlers.map((h: any) => [h.name, h.pending]),
      [['dead_pool/v2', 0]],
    )
    assert.equal(renamed.pending, 4, 'still pending on the vhost')
    assert.deepEqual(renamed.metrics.pending?.by, { 'dead_pool/v2': 0, 'dead_pool/n': 4 }, 'the metric keeps the old name')
    assert.match(formatStatus([renamed]), /^ {2}removed handler dead_pool\/n: 4 pending \(delivered if a handler of that name returns, else they expire\)$/m)
    await waitForText(page, `orphan-${HOST}-dead_pool/n`, (t) => t === '4 pending')
    assert.equal(await page.getByTestId(`oldest-${HOST}-dead_pool/v2`).textContent(), '', 'nothing pending: no age')
    assert.ok(await page.getByTestId(`orphans-${HOST}`).isVisible())
    assert.equal(await page.getByTestId(`pending-${HOST}`).textContent(), '4')

    // The handler of that name returns: they are its own again.
    writeFileSync(server.configFile, original)
    await server.reload()
    const back = await eventually(
      () => statusAt(base),
      (s) => assert.deepEqual((s.detail as any).orphans, []),
    )
    assert.deepEqual(
      (back.detail as any).handlers.map((h: any) => [h.name, h.pending]),
      [['dead_pool/n', 4]],
    )
    await waitForText(page, `pending-${HOST}-dead_pool/n`, (t) => t === '4 / 1,000,000 pending')
    assert.ok(await page.getByTestId(`orphans-${HOST}`).isHidden())
  } finally {
    writeFileSync(server.configFile, original)
    await context.close()
  }
})

test('a disabled plugin: what is pending stays in the outbox, and the status says so', async () => {
  await server.loader.disable(ID, HOST)
  try {
    const [s] = await server.status.status(ID, HOST)
    assert.equal(s.detail, null)
    assert.equal(s.metrics.pending?.total, 0, 'a stopped instance has no pending gauge')
    assert.equal(s.pending, 4, 'accepted + recovered - sent - failed: what the outbox keeps')
    assert.match(formatStatus([s]), /^ {2}pending: 4 \(waiting in the outbox until the plugin runs again\)$/m)
  } finally {
    await server.loader.enable(ID, HOST)
  }
})

test('after a restart: what the outbox kept is pending and counted recovered', async () => {
  await Promise.all(clients.splice(0).map((c) => c.stop()))
  await server.stop()

  // A new process on the same config, so the same data folder; the endpoint still refuses.
  const second = spawnBin('xmppd', ['--config', server.configFile])
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 } })
  try {
    const [, port] = await second.waitFor(/"port":(\d+),[^\n]*"msg":"http listening"/)
    const base = `http://127.0.0.1:${port}`
    const s = await statusAt(base)
    assert.equal(s.metrics.recovered?.total, 4)
    assert.equal(s.metrics.accepted?.total, 0)
    assert.equal(s.pending, 4)
    assert.deepEqual((s.detail as any).outbox, { backend: 'sqlite', location: outboxFile })
    const text = formatStatus([s])
    assert.match(text, /^ {2}recovered: 4 \(pending in the outbox when this process opened it\)$/m)
    assert.ok(text.split('\n').includes(`  outbox: sqlite, ${outboxFile}`), text)

    const page = await context.newPage()
    await page.goto(`${base}/dashboard`)
    await waitForText(page, `pending-${HOST}`, (t) => t === '4')
    await waitForText(page, `pending-${HOST}-note`, (t) => /4 recovered at start/.test(t))
    assert.match((await page.getByTestId(`sent-${HOST}-note`).textContent()) ?? '', /^of 0 accepted \+ 4 recovered$/)
    assert.equal(await page.getByTestId(`outbox-${HOST}`).textContent(), `sqlite · ${outboxFile}`)
  } finally {
    await context.close()
    second.child.kill('SIGTERM')
    await second.exit
  }
})
