// The dashboard in a real browser (Debian's chromium through playwright-core) against the real
// server, real clients and a real endpoint: live counters, the token flow of the toggle, a toggle
// that stops notifications, retries, what waits for an unreachable endpoint, a phone-sized
// viewport; and its routes over plain HTTP. Its views of the outbox across a reload and a
// restart: dashboard-outbox.spec.ts.
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import http from 'node:http'
import { mkdirSync, readdirSync } from 'node:fs'
import path from 'node:path'
import type { Browser, Page } from 'playwright-core'
import { count, launchBrowser, waitForText } from '../helpers/browser.js'
import { connectClient, type TestClient } from '../helpers/client.js'
import { eventually } from '../helpers/metrics.js'
import { closedPort, startSink, type Sink } from '../helpers/sink.js'
import { formatStatus } from '../../lib/server/admin/status-text.js'
import type { PluginStatus } from '../../lib/server/plugins/status.js'
import { ADMIN_TOKEN, root, startTestServer, type TestServer } from '../helpers/xmppd.js'

const ARTIFACTS = path.join(root, 'spec/artifacts')
const URL_SECRET = 'url-secret-in-pool-77'

let sink: Sink
let server: TestServer
let browser: Browser
let base: string
const clients: Record<string, TestClient> = {}

before(async () => {
  sink = await startSink()
  // y.test's endpoint answers each message's first attempt with 500, the next with 200; and a
  // "bad request" with 400, which is final.
  const attempts = new Map<string, number>()
  sink.behave((req) => {
    if (req.url !== '/webservice/retry') return { status: 204 }
    if (req.form.message === 'bad request') return { status: 400 }
    const n = (attempts.get(req.form.message) ?? 0) + 1
    attempts.set(req.form.message, n)
    return { status: n === 1 ? 500 : 200 }
  })
  const deadPort = await closedPort()
  server = await startTestServer({
    hosts: ['localhost', 'b.test', 'dead.test', 'y.test'],
    users: {
      'alice@localhost': 'pw',
      'bob@localhost': 'pw',
      'bea@b.test': 'pw',
      'bo@b.test': 'pw',
      'dan@dead.test': 'pw',
      'dee@dead.test': 'pw',
      'rex@y.test': 'pw',
      'rue@y.test': 'pw',
    },
    extra: `
[http_connections.http_pool]
server = "${sink.url.replace('http://', `http://push:${URL_SECRET}@`)}"
path_prefix = "/webservice"

[http_connections.dead_pool]
server = "http://127.0.0.1:${deadPort}"
request_timeout = 300

[plugins.mod_event_pusher_http]
pool_name = "http_pool"
path = "/notifications"

[host_config."b.test".plugins.mod_event_pusher_http]
path = "/b"

[host_config."dead.test".plugins.mod_event_pusher_http]
pool_name = "dead_pool"

# Waits of 200-400 ms (equal jitter), long enough to see a notification retrying.
[host_config."y.test".plugins.mod_event_pusher_http]
path = "/retry"
retries = 2
retry_base_delay = 400
retry_max_delay = 400
`,
  })
  base = `http://127.0.0.1:${server.httpPort}`
  for (const jid of ['alice@localhost', 'bob@localhost', 'bea@b.test', 'bo@b.test', 'dan@dead.test', 'dee@dead.test', 'rex@y.test', 'rue@y.test']) {
    clients[jid.split('@')[0]] = await connectClient(server.c2sPort, jid, 'pw')
  }
  browser = await launchBrowser()
  mkdirSync(ARTIFACTS, { recursive: true })
})

after(async () => {
  await browser?.close()
  await Promise.all(Object.values(clients).map((c) => c.stop()))
  await server?.stop()
  await sink?.close()
})

/** A GET with the path sent exactly as written (fetch would normalise `..`). */
function rawGet(pathname: string): Promise<{ status: number; type: string; body: string }> {
  return new Promise((resolve, reject) => {
    http
      .get({ host: '127.0.0.1', port: server.httpPort, path: pathname }, (res) => {
        let body = ''
        res.setEncoding('utf8')
        res.on('data', (c) => (body += c))
        res.on('end', () => resolve({ status: res.statusCode ?? 0, type: String(res.headers['content-type'] ?? ''), body }))
      })
      .on('error', reject)
  })
}

/** Sends a chat message and waits until the recipient has it (so the hook surely ran). */
async function chat(from: string, to: string, body: string): Promise<void> {
  await clients[from].chat(to, body)
  await clients[to.split('@')[0]].next((s) => s.is('message') && s.getChildText('body') === body)
}

test('routes: the page and a fixed set of assets with their types; data as JSON; nothing else', async () => {
  const page = await rawGet('/dashboard')
  assert.equal(page.status, 200)
  assert.match(page.type, /^text\/html/)
  assert.match(page.body, /dashboard\/assets\/app\.js/)
  // Every module in the folder is served (app.js imports the others), each type-checked.
  const modules = readdirSync(path.join(root, 'lib/server/admin/dashboard')).filter((f) => f.endsWith('.js'))
  assert.ok(modules.includes('app.js') && modules.length > 1, modules.join(', '))
  for (const file of modules) {
    const js = await fetch(`${base}/dashboard/assets/${file}`)
    assert.equal(js.status, 200, file)
    assert.match(js.headers.get('content-type')!, /^text\/javascript/, file)
    assert.match(await js.text(), /^\/\/ @ts-check\n/, file)
  }
  assert.match(page.body, /<script type="module" src="dashboard\/assets\/app\.js">/)
  const css = await fetch(`${base}/dashboard/assets/style.css`)
  assert.equal(css.status, 200)
  assert.match(css.headers.get('content-type')!, /^text\/css/)
  assert.match(String((await fetch(`${base}/dashboard`)).headers.get('content-security-policy')), /script-src 'self'/)

  for (const p of [
    '/dashboard/assets/index.html',
    '/dashboard/assets/page',
    '/dashboard/assets/',
    '/dashboard/assets/app.js/',
    '/dashboard/assets/../../package.json',
    '/dashboard/assets/..%2f..%2fpackage.json',
    '/dashboard/assets/%2e%2e/%2e%2e/%2e%2e/package.json',
    '/dashboard/assets/..%5c..%5cpackage.json',
    '/dashboard/assets/constructor',
    '/dashboard/assets/__proto__',
    '/dashboard/../plugin.json',
    '/dashboard/nothing',
  ]) {
    const r = await rawGet(p)
    assert.notEqual(r.status, 200, `${p} must not be served`)
    assert.ok(!r.body.includes('"dependencies"') && !r.body.includes('"hooks"'), `${p} leaked a file`)
  }
  assert.equal((await fetch(`${base}/dashboard`, { method: 'POST' })).status, 405)
  const slash = await fetch(`${base}/dashboard/`, { redirect: 'manual' })
  assert.equal(slash.status, 308)

  const res = await fetch(`${base}/dashboard/data`)
  assert.equal(res.status, 200)
  const text = await res.text()
  assert.ok(!text.includes(URL_SECRET), 'no endpoint credentials in the data')
  assert.ok(!text.includes(ADMIN_TOKEN))
  const data = JSON.parse(text)
  assert.equal(typeof data.time, 'number')
  assert.deepEqual(
    data.hosts.map((h: { host: string }) => h.host),
    ['localhost', 'b.test', 'dead.test', 'y.test'],
  )
  const local = data.hosts[0]
  assert.equal(local.sessions, 2)
  assert.equal(local.plugins[0].id, 'mod_event_pusher_http')
  assert.equal(local.plugins[0].enabled, true)
  assert.equal(local.plugins[0].seed[0].name, '[localhost, mod_http_notifications, sent]')
  assert.match(local.plugins[0].detail.handlers[0].url, /^http:\/\/127\.0\.0\.1:\d+\/webservice\/notifications$/)
})

test('the page follows the traffic; the toggle asks for the token once and stops notifications', async () => {
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 } })
  const page = await context.newPage()
  const problems: string[] = []
  page.on('pageerror', (e) => problems.push(String(e)))
  // The one 401 is the wrong token, entered on purpose below.
  page.on('console', (m) => m.type() === 'error' && !/status of 401/.test(m.text()) && problems.push(m.text()))
  try {
    await page.goto(`${base}/dashboard`)
    await page.getByTestId('vhost-localhost').waitFor()
    await waitForText(page, 'state-localhost', (t) => t === 'enabled')
    await waitForText(page, 'sessions-localhost', (t) => t === '2 sessions')
    const start = count(await waitForText(page, 'sent-localhost', (t) => /^\d/.test(t)))
    assert.match((await page.getByTestId('seed-localhost').textContent()) ?? '', /\[localhost, mod_http_notifications, sent\]/)
    assert.equal(await page.getByTestId('breaker-localhost-http_pool').textContent(), 'closed')
    assert.match((await page.getByTestId('handlers-localhost').textContent()) ?? '', /\/webservice\/notifications/)
    assert.ok(!(await page.content()).includes(URL_SECRET), 'no endpoint credentials in the page')

    // The outbox each instance writes to: the default, one SQLite file in the plugin's data folder.
    const outboxFile = path.join(path.dirname(server.configFile), 'xmppd-data', 'mod_event_pusher_http', 'outbox.sqlite')
    assert.equal(await page.getByTestId('outbox-localhost').textContent(), `sqlite · ${outboxFile}`)

    // Traffic: three on localhost, two on b.test, twelve into an endpoint that refuses connections.
    const before = sink.requests.length
    for (let i = 1; i <= 3; i++) await chat('alice', 'bob@localhost', `hello ${i}`)
    for (let i = 1; i <= 2; i++) await chat('bea', 'bo@b.test', `b ${i}`)
    for (let i = 1; i <= 12; i++) await chat('dan', 'dee@dead.test', `dead ${i}`)
    await sink.waitFor(before + 5)
    await waitForText(page, 'sent-localhost', (t) => count(t) === start + 3)
    await waitForText(page, 'sent-b.test', (t) => count(t) >= 2)
    await waitForText(page, 'pending-localhost', (t) => t === '0')
    // Unreachable is not a failure: the twelve wait in the outbox while the breaker is open.
    await waitForText(page, 'pending-dead.test', (t) => t === '12')
    await waitForText(page, 'pending-dead.test-dead_pool/notifications', (t) => t === '12 / 1,000,000 pending')
    await waitForText(page, 'breaker-dead.test-dead_pool', (t) => t === 'open')
    assert.match((await page.getByTestId('pending-dead.test-note').textContent()) ?? '', /^oldest \d+ s$/)
    assert.equal(await page.getByTestId('failed-dead.test').textContent(), '0')
    assert.equal(await page.getByTestId('reasons-dead.test').textContent(), 'no failures')
    await waitForText(page, 'latency-localhost', (t) => /ms/.test(t))
    // The chart: drawn from the 2 s history once there are two intervals; pending has its own line.
    await page.locator('[data-testid="chart-localhost"] polyline[data-series="sent"]').waitFor({ timeout: 8000 })
    // (A flat line has no height: attached, not "visible".)
    await page.locator('[data-testid="chart-dead.test"] polyline[data-series="pending"]').waitFor({ state: 'attached', timeout: 8000 })
    assert.equal(await page.locator('[data-testid="chart-y.test"] polyline[data-series="pending"]').count(), 0, 'no pending line where nothing waited')
    assert.match((await page.getByTestId('rates-dead.test').textContent()) ?? '', /pending 12/)

    // Toggle off: the token is asked for; a wrong one is refused and forgotten.
    await page.getByTestId('toggle-localhost').click()
    await page.getByTestId('token-panel').waitFor()
    assert.match((await page.getByTestId('token-message').textContent()) ?? '', /admin token/)
    await page.getByTestId('token-input').fill('not-the-token')
    await page.getByTestId('token-submit').click()
    await waitForText(page, 'token-message', (t) => /refused/.test(t))
    assert.ok(await page.getByTestId('token-panel').isVisible())
    assert.equal(await page.evaluate(() => sessionStorage.getItem('xmppd.adminToken')), null)
    assert.equal(server.loader.list('localhost')[0].enabled, true, 'a refused token changes nothing')
    await page.getByTestId('token-input').fill(ADMIN_TOKEN)
    await page.getByTestId('token-submit').click()
    await waitForText(page, 'state-localhost', (t) => t === 'disabled')
    assert.ok(await page.getByTestId('token-panel').isHidden())
    assert.equal(await page.getByTestId('toggle-localhost').textContent(), 'Enable')
    assert.equal(server.loader.list('localhost')[0].enabled, false)
    assert.equal(await page.evaluate(() => sessionStorage.getItem('xmppd.adminToken')), ADMIN_TOKEN)

    // Disabled: a chat message is delivered but not notified; the other vhosts go on.
    const sentBefore = sink.requests.length
    await chat('alice', 'bob@localhost', 'after the toggle')
    await chat('bea', 'bo@b.test', 'b after the toggle')
    await sink.waitFor(sentBefore + 1)
    await new Promise((r) => setTimeout(r, 300))
    assert.deepEqual(
      sink.requests.slice(sentBefore).map((r) => r.form.message),
      ['b after the toggle'],
    )
    await waitForText(page, 'sent-b.test', (t) => count(t) >= 3)
    assert.equal(count((await page.getByTestId('sent-localhost').textContent()) ?? ''), start + 3)
    // Stopped: the counters still say what is pending (nothing here), and nothing is sent.
    assert.equal(await page.getByTestId('pending-localhost').textContent(), '0')

    // The token is kept: toggling back on asks nothing.
    await page.getByTestId('toggle-b.test').click()
    await waitForText(page, 'state-b.test', (t) => t === 'disabled')
    assert.ok(await page.getByTestId('token-panel').isHidden())
    await page.getByTestId('toggle-b.test').click()
    await waitForText(page, 'state-b.test', (t) => t === 'enabled')

    await page.screenshot({ path: path.join(ARTIFACTS, 'dashboard.png'), fullPage: true })
    assert.deepEqual(problems, [])
  } finally {
    await context.close()
  }
})

/** The primary plugin's status on a vhost, from /dashboard/data. */
async function statusOn(host: string): Promise<PluginStatus> {
  const data = (await (await fetch(`${base}/dashboard/data`)).json()) as { hosts: Array<{ host: string; plugins: PluginStatus[] }> }
  return data.hosts.find((h) => h.host === host)!.plugins[0]
}

test('retries: 500 then 200 shows one retry (card, data, status text); sent once; a 400 fails at once', async () => {
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 } })
  const page = await context.newPage()
  const problems: string[] = []
  page.on('pageerror', (e) => problems.push(String(e)))
  page.on('console', (m) => m.type() === 'error' && problems.push(m.text()))
  try {
    await page.goto(`${base}/dashboard`)
    await waitForText(page, 'retries-y.test', (t) => t === '0')
    await waitForText(page, 'pending-y.test-http_pool/retry', (t) => t === '0 / 1,000,000 pending')
    assert.equal(await page.getByTestId('retries-localhost').textContent(), '0', 'every vhost shows its retries, at 0 from start')

    await chat('rex', 'rue@y.test', 'retry me')
    // Between its two attempts the notification is pending, not in flight (its wait is 200-400 ms).
    const tried = () => sink.requests.filter((r) => r.url === '/webservice/retry').length
    const between = await eventually(
      () => statusOn('y.test'),
      (s) => {
        assert.equal(tried(), 1)
        assert.deepEqual(
          (s.detail as any).handlers.map((h: any) => [h.pending, h.queue_depth, h.in_flight]),
          [[1, 1, 0]],
        )
      },
    )
    assert.equal(between.pending, 1)
    const waiting = formatStatus([between])
    assert.match(waiting, /^ {2}handler http_pool\/retry -> \S+\/webservice\/retry {2}pending 1\/1000000 \(1 queued, 0 in flight\)$/m)
    assert.match(waiting, /^ {2}pending: 1, oldest \d+ s$/m)

    const done = await eventually(
      () => statusOn('y.test'),
      (s) => assert.equal(s.metrics.sent?.total, 1),
    )
    assert.equal(tried(), 2, 'two attempts')
    assert.equal(done.metrics.retries?.total, 1)
    assert.equal(done.metrics.accepted?.total, 1, 'accepted once, whatever the attempts')
    assert.equal((done.detail as any).retries, 1)
    assert.equal((done.detail as any).failed.total, 0)
    assert.equal(done.pending, 0)
    const text = formatStatus([done])
    assert.match(text, /^ {2}retries: 1$/m)
    assert.match(text, /^ {2}pending: 0$/m)
    assert.match(text, /pending 0\/1000000 \(0 queued, 0 in flight\)$/m)
    assert.match(text, /\[y\.test, mod_http_notifications, sent\]\s+1/)

    await waitForText(page, 'retries-y.test', (t) => count(t) === 1)
    await waitForText(page, 'sent-y.test', (t) => count(t) === 1)
    await waitForText(page, 'pending-y.test', (t) => t === '0')
    assert.equal(count((await page.getByTestId('failed-y.test').textContent()) ?? ''), 0)

    // 400 is final: failed at its first attempt, with retries to spare.
    await chat('rex', 'rue@y.test', 'bad request')
    await waitForText(page, 'failed-y.test', (t) => count(t) === 1)
    await waitForText(page, 'reasons-y.test', (t) => t === 'failed by reason: status 1')
    assert.equal(tried(), 3)
    assert.equal(await page.getByTestId('retries-y.test').textContent(), '1')
    assert.match(formatStatus([await statusOn('y.test')]), /^ {2}failed by reason: status 1$/m)
    assert.deepEqual(problems, [])
  } finally {
    await context.close()
  }
})

/** Each chart's box and the width its drawing has, right now. */
function chartWidths(page: Page): Promise<Array<{ chart: string; box: number; drawn: number }>> {
  return page.evaluate(() =>
    [...document.querySelectorAll<HTMLElement>('[data-testid^="chart-"]')].map((box) => ({
      chart: box.dataset.testid!,
      box: box.clientWidth,
      drawn: box.querySelector('svg')?.getBoundingClientRect().width ?? 0,
    })),
  )
}

test('the chart fills its box from the first draw, and follows the window, without waiting', async () => {
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 } })
  const page = await context.newPage()
  try {
    await page.goto(`${base}/dashboard`)
    // Measured as soon as the first data drew the charts: no resize, no time for one.
    await page.locator('[data-testid="chart-localhost"] svg').waitFor()
    const first = await chartWidths(page)
    assert.equal(first.length, 4, 'one chart per vhost')
    for (const c of first) {
      assert.ok(c.box > 400, `${c.chart}: its box is ${c.box}px wide at 1280px (two cards a row)`)
      assert.ok(Math.abs(c.drawn - c.box) <= 1, `${c.chart}: drawn ${c.drawn}px wide in a box of ${c.box}px`)
    }
    await page.screenshot({ path: path.join(ARTIFACTS, 'dashboard-first-draw.png') })

    // One card a row: every box widens, and the drawing follows.
    await page.setViewportSize({ width: 800, height: 900 })
    await page.waitForFunction(
      () => {
        const boxes = [...document.querySelectorAll<HTMLElement>('[data-testid^="chart-"]')]
        return boxes.every((box) => Math.abs((box.querySelector('svg')?.getBoundingClientRect().width ?? 0) - box.clientWidth) <= 1)
      },
      undefined,
      { timeout: 2000 },
    )
    const after = await chartWidths(page)
    assert.ok(after[0].box > first[0].box, `the box widened: ${first[0].box}px, then ${after[0].box}px`)
  } finally {
    await context.close()
  }
})

test('phone-sized viewport (375 px): no horizontal scroll', async () => {
  const context = await browser.newContext({ viewport: { width: 375, height: 812 }, deviceScaleFactor: 2, isMobile: true, hasTouch: true })
  const page = await context.newPage()
  try {
    await page.goto(`${base}/dashboard`)
    await page.getByTestId('vhost-dead.test').waitFor()
    await waitForText(page, 'sent-localhost', (t) => /^\d/.test(t))
    await page.getByTestId('toggle-localhost').click()
    await page.getByTestId('token-panel').waitFor() // a fresh tab: the token is asked for again
    const { scrollWidth, innerWidth } = await page.evaluate(() => ({ scrollWidth: document.documentElement.scrollWidth, innerWidth: window.innerWidth }))
    assert.equal(innerWidth, 375)
    assert.ok(scrollWidth <= innerWidth, `page is ${scrollWidth}px wide at ${innerWidth}px`)
    const wider = await page.evaluate(() =>
      [...document.querySelectorAll('[data-testid^="vhost-"] *')]
        .filter((e) => e.getBoundingClientRect().right > window.innerWidth + 0.5)
        .map((e) => e.outerHTML.slice(0, 80)),
    )
    assert.deepEqual(wider, [])
    await page.screenshot({ path: path.join(ARTIFACTS, 'dashboard-phone.png'), fullPage: true })
  } finally {
    await context.close()
  }
})
