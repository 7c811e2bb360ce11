// The dashboard's dead letters in Debian's chromium, against the real server, a real client and a
// real endpoint: three notifications fail against a 500 with retries = 0; the page counts them
// (per vhost and per handler), lists them once the admin token is entered, and, the endpoint
// fixed, "Replay failed" delivers all three (the recorder sees them) and the count drops to 0.
import { test, afterEach } from 'node:test'
import assert from 'node:assert/strict'
import { launchBrowser, waitForText } from '../helpers/browser.js'
import { bodies, chatSender } from '../helpers/chat-load.js'
import { eventually, hostCounts } from '../helpers/metrics.js'
import { webhookRecorder } from '../helpers/webhook-recorder.js'
import { ADMIN_TOKEN, configToml, startTestServer } from '../helpers/xmppd.js'

const HOST = 'localhost'
const SECRET = 'Bearer dashboard-dead-secret-71a2'
const cleanups: Array<() => Promise<unknown>> = []
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c().catch(() => undefined)
})

test('three dead letters: counted on the page (per vhost and handler); "Replay failed" with the token delivers them and the count drops to 0', async () => {
  const rec = await webhookRecorder()
  rec.answer(500)
  const plugin = `
[http_connections.http_pool]
server = "${rec.url}"

[plugins.mod_event_pusher_http]
pool_name = "http_pool"
path = "/n"
retries = 0
headers = { Authorization = "${SECRET}" }
breaker = { volume_threshold = 1000 }
`
  const server = await startTestServer(configToml({ users: { 'alice@localhost': 'alice-pw', 'bob@localhost': 'bob-pw' }, extra: plugin }))
  cleanups.push(
    () => rec.close(),
    () => server.stop(),
  )
  const alice = await chatSender(server.c2sPort, 'alice', 'alice-pw')
  cleanups.push(async () => alice.close())
  const messages = bodies('dash-dead', 3)
  for (const m of messages) await alice.send('bob@localhost', [m])
  await eventually(
    () => hostCounts(server.registry, HOST),
    (c) => assert.equal(c.failedTotal, 3),
    10_000,
  )

  const browser = await launchBrowser()
  cleanups.push(() => browser.close())
  const page = await (await browser.newContext({ viewport: { width: 1280, height: 900 } })).newPage()
  await page.goto(`http://127.0.0.1:${server.httpPort}/dashboard`)
  await waitForText(page, `dead-${HOST}`, (t) => t === '3')
  await waitForText(page, `dead-${HOST}-http_pool/n`, (t) => t === '3 dead')
  // Without a token the list says it needs one; the button asks for it, as a toggle does.
  await waitForText(page, `dead-letters-note-${HOST}`, (t) => /needs the admin token/.test(t))
  assert.equal(await page.getByTestId(`dead-letters-${HOST}`).getByTestId('dead-letter').count(), 0)

  rec.answer(204)
  await page.getByTestId(`replay-${HOST}`).click()
  assert.ok(await page.getByTestId('token-panel').isVisible(), 'the replay asks for the token')
  // Entered in the form, the token resumes the replay that asked for it.
  await page.getByTestId('token-input').fill(ADMIN_TOKEN)
  await page.getByTestId('token-submit').click()
  await waitForText(page, `replay-result-${HOST}`, (t) => t === 'replayed 3', 10_000)
  await rec.waitForAll(messages, 10_000)
  assert.deepEqual(
    rec.deliveries
      .filter((d) => d.status === 204)
      .map((d) => d.message)
      .sort(),
    [...messages].sort(),
  )
  await waitForText(page, `dead-${HOST}`, (t) => t === '0')
  await waitForText(page, `dead-letters-note-${HOST}`, (t) => t === 'none')
  const text = (await page.textContent('body')) ?? ''
  assert.ok(!text.includes(SECRET) && !text.includes(ADMIN_TOKEN), 'no secret on the page')
})

test('the latest dead letters are listed with the token: when each failed, handler, sender → recipient, reason and status', async () => {
  const rec = await webhookRecorder()
  rec.answer(500)
  const server = await startTestServer(
    configToml({
      users: { 'alice@localhost': 'alice-pw', 'bob@localhost': 'bob-pw' },
      extra: `
[http_connections.http_pool]
server = "${rec.url}"

[plugins.mod_event_pusher_http]
pool_name = "http_pool"
path = "/n"
retries = 0
breaker = { volume_threshold = 1000 }
`,
    }),
  )
  cleanups.push(
    () => rec.close(),
    () => server.stop(),
  )
  const alice = await chatSender(server.c2sPort, 'alice', 'alice-pw')
  cleanups.push(async () => alice.close())
  const messages = bodies('listed', 3)
  const before = Date.now()
  for (const m of messages) await alice.send('bob@localhost', [m])
  await eventually(
    () => hostCounts(server.registry, HOST),
    (c) => assert.equal(c.failedTotal, 3),
    10_000,
  )
  const browser = await launchBrowser()
  cleanups.push(() => browser.close())
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 } })
  // The token as the toggle keeps it: in this tab's session storage.
  await context.addInitScript((t) => sessionStorage.setItem('xmppd.adminToken', t), ADMIN_TOKEN)
  const page = await context.newPage()
  await page.goto(`http://127.0.0.1:${server.httpPort}/dashboard`)
  await waitForText(page, `dead-letters-note-${HOST}`, (t) => t === 'the newest 3')
  const rows = await page.getByTestId(`dead-letters-${HOST}`).getByTestId('dead-letter').allTextContents()
  assert.equal(rows.length, 3)
  for (const r of rows) {
    assert.match(r, /http_pool\/n/)
    assert.match(r, /alice@localhost\S* → bob@localhost/)
    assert.match(r, /HTTP 500/)
  }
  assert.equal(messages.filter((m) => rows.some((r) => r.includes(m))).length, 3, 'each body shown')
  // When each failed: the API's failedAt (ISO 8601), in the page as the browser's local time.
  const res = await fetch(`http://127.0.0.1:${server.httpPort}/api/hosts/${HOST}/plugins/mod_event_pusher_http/deliveries?state=failed`, {
    headers: { authorization: `Bearer ${ADMIN_TOKEN}` },
  })
  const { items } = (await res.json()) as { items: Array<{ failedAt: string }> }
  const failedAt = items.map((i) => i.failedAt).sort()
  assert.equal(failedAt.length, 3)
  for (const t of failedAt) assert.ok(Date.parse(t) >= before && Date.parse(t) <= Date.now(), `${t} is when this spec ran`)
  const times = page.getByTestId(`dead-letters-${HOST}`).getByTestId('dead-letter-time')
  assert.deepEqual((await times.evaluateAll((ts) => ts.map((t) => t.getAttribute('datetime')))).sort(), failedAt)
  const shown = await times.evaluateAll((ts) => ts.map((t) => [t.textContent, new Date(t.getAttribute('datetime') ?? '').toLocaleString()]))
  for (const [text, local] of shown) assert.equal(text, local, 'the local time of failedAt')
})
