// The dashboard's "Server protection" block in a real browser (Debian's chromium through
// playwright-core) against a real server with small limits: a connection refused past
// max_connections_per_ip, a stream closed for forbidden input (NUL), one closed over
// max_stanza_size, and a throttled login show on the page, by reason, as /metrics counts them;
// /dashboard/data carries the same server-wide section; the block fits a phone's width.
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { mkdirSync } from 'node:fs'
import path from 'node:path'
import type { Browser } from 'playwright-core'
import { launchBrowser, waitForText } from '../helpers/browser.js'
import { RawXmpp } from '../helpers/raw-xmpp.js'
import { root, sample, startTestServer, type TestServer } from '../helpers/xmppd.js'
import type { DashboardData } from '../../lib/server/admin/dashboard.js'

const ARTIFACTS = path.join(root, 'spec/artifacts')
const PER_IP = 2
let server: TestServer
let browser: Browser
let base: string

before(async () => {
  server = await startTestServer({
    c2s: { max_connections_per_ip: PER_IP, max_stanza_size: 1024 },
    extra: '[auth]\nmin_failure_delay = 20\nmax_failure_delay = 1\n',
  })
  base = `http://127.0.0.1:${server.httpPort}`
  browser = await launchBrowser()
  mkdirSync(ARTIFACTS, { recursive: true })
})

after(async () => {
  await browser?.close()
  await server?.stop()
})

const data = async () => (await (await fetch(`${base}/dashboard/data`)).json()) as DashboardData

/** Opens a stream from `ip`, sends `text`, and waits for the server to close it; resolves with what it answered. */
async function closedFor(ip: string, text: string): Promise<string> {
  const raw = await RawXmpp.connect(server.c2sPort, 'localhost', ip)
  try {
    await raw.openStream()
    raw.send(text)
    await raw.waitClosed()
    return raw.received
  } finally {
    raw.close()
  }
}

/** One failed SASL PLAIN login from `ip` on a fresh TLS stream. */
async function failedLogin(ip: string): Promise<void> {
  const raw = await RawXmpp.connect(server.c2sPort, 'localhost', ip)
  try {
    await raw.openStream()
    await raw.starttls()
    assert.match(await raw.auth('alice', 'wrong'), /<not-authorized/)
  } finally {
    raw.close()
  }
}

test('/dashboard/data: a server-wide protection section, every reason at zero before any attack', async () => {
  const d = await data()
  assert.ok(d.protection, 'a full server has the section')
  assert.equal(d.protection.window_s, 300)
  assert.deepEqual(d.protection.refused, { total: 0, recent: 0, by: { max_connections: 0, max_connections_per_ip: 0 } })
  assert.deepEqual(d.protection.closed, { total: 0, recent: 0, by: { limit: 0, timeout: 0, slow_reader: 0, forbidden_input: 0 } })
  assert.deepEqual(d.protection.throttled, { total: 0, recent: 0, by: {} })
})

test('a refusal, two protective closes and a throttled login show on the page by reason, as /metrics counts them', async () => {
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 } })
  const page = await context.newPage()
  const problems: string[] = []
  page.on('pageerror', (e) => problems.push(String(e)))
  page.on('console', (m) => m.type() === 'error' && problems.push(m.text()))
  try {
    await page.goto(`${base}/dashboard`)
    await page.getByTestId('protection').waitFor()
    await waitForText(page, 'protection-refused', (t) => t === '0')
    assert.equal(await page.getByTestId('protection-closed-forbidden_input').textContent(), '0')
    assert.equal(await page.getByTestId('protection-throttled').textContent(), '0')
    assert.doesNotMatch((await page.getByTestId('protection-refused').locator('..').getAttribute('class')) ?? '', /\bbad\b/)

    // max_connections_per_ip: two streams from 127.0.0.2 are served, the third is closed unanswered.
    const held: RawXmpp[] = []
    try {
      for (let i = 0; i < PER_IP; i++) {
        const raw = await RawXmpp.connect(server.c2sPort, 'localhost', '127.0.0.2')
        await raw.openStream()
        held.push(raw)
      }
      const refused = await RawXmpp.connect(server.c2sPort, 'localhost', '127.0.0.2')
      await refused.waitClosed()
      assert.equal(refused.received, '')
    } finally {
      for (const raw of held) raw.close()
    }
    // A character XML 1.0 forbids, and a start tag past max_stanza_size (before TLS and auth).
    assert.match(await closedFor('127.0.0.3', '<message><body>\u0000</body></message>'), /<not-well-formed/)
    assert.match(await closedFor('127.0.0.4', `<message a='${'x'.repeat(4096)}`), /<policy-violation/)
    // A second failure for the same account from the same IP is answered after a grown delay.
    await failedLogin('127.0.0.5')
    await failedLogin('127.0.0.5')

    const metrics = await server.metricsText()
    assert.equal(sample(metrics, 'xmppd_connections_refused_total', { reason: 'max_connections_per_ip' }), 1)
    assert.equal(sample(metrics, 'xmppd_sessions_closed_total', { reason: 'forbidden_input' }), 1)
    assert.equal(sample(metrics, 'xmppd_sessions_closed_total', { reason: 'limit' }), 1)
    assert.equal(sample(metrics, 'xmppd_auth_throttled_total'), 1)

    await waitForText(page, 'protection-throttled', (t) => t === '1')
    const text = async (id: string) => (await page.getByTestId(id).textContent()) ?? ''
    assert.equal(await text('protection-refused'), '1')
    assert.equal(await text('protection-refused-max_connections_per_ip'), '1')
    assert.equal(await text('protection-refused-max_connections'), '0')
    assert.equal(await text('protection-closed'), '2')
    assert.equal(await text('protection-closed-forbidden_input'), '1')
    assert.equal(await text('protection-closed-limit'), '1')
    assert.equal(await text('protection-closed-timeout'), '0')
    assert.equal(await text('protection-closed-slow_reader'), '0')
    // All of it within the window: "in the last 5 min", and the tiles are marked.
    assert.equal(await text('protection-refused-recent'), '1 in the last 5 min')
    assert.equal(await text('protection-closed-recent'), '2 in the last 5 min')
    assert.equal(await text('protection-throttled-recent'), '1 in the last 5 min')
    for (const id of ['protection-refused', 'protection-closed', 'protection-throttled']) {
      assert.match((await page.getByTestId(id).locator('..').getAttribute('class')) ?? '', /\bbad\b/, id)
    }
    assert.match(await text('protection-closed-reasons'), /forbidden input1/)
    assert.deepEqual(problems, [])
    await page.screenshot({ path: path.join(ARTIFACTS, 'dashboard-protection.png') })
  } finally {
    await context.close()
  }
})

test('phone-sized viewport (375 px): the protection block fits', async () => {
  const context = await browser.newContext({ viewport: { width: 375, height: 812 }, deviceScaleFactor: 2, isMobile: true, hasTouch: true })
  const page = await context.newPage()
  try {
    await page.goto(`${base}/dashboard`)
    await page.getByTestId('protection').waitFor()
    await waitForText(page, 'protection-closed-limit', (t) => /^\d/.test(t))
    const wider = await page.evaluate(() =>
      [...document.querySelectorAll('[data-testid="protection"], [data-testid="protection"] *')]
        .filter((e) => e.getBoundingClientRect().right > window.innerWidth + 0.5)
        .map((e) => e.outerHTML.slice(0, 80)),
    )
    assert.deepEqual(wider, [])
    // One tile a row: the three are stacked, not side by side.
    const lefts = await page.evaluate(() =>
      ['protection-refused', 'protection-closed', 'protection-throttled'].map(
        (id) => document.querySelector(`[data-testid="${id}"]`)!.parentElement!.getBoundingClientRect().left,
      ),
    )
    assert.equal(new Set(lefts).size, 1, `tiles at ${lefts.join(', ')}`)
    await page.screenshot({ path: path.join(ARTIFACTS, 'dashboard-protection-phone.png') })
  } finally {
    await context.close()
  }
})
