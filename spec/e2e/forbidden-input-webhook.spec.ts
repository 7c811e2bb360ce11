// Issue 14, item 5 at the webhook end: a message carrying a character XML 1.0 forbids (raw or as
// a character reference) closes its sender's stream and never becomes a notification; the chat
// of other users, and its notification, go on.
import { test, after, before } from 'node:test'
import assert from 'node:assert/strict'
import { connectClient, xml, type TestClient } from '../helpers/client.js'
import { RawXmpp } from '../helpers/raw-xmpp.js'
import { webhookRecorder, type Recorder } from '../helpers/webhook-recorder.js'
import { configToml, startTestServer, type TestServer } from '../helpers/xmppd.js'

let server: TestServer
let rec: Recorder
let alice: TestClient
let bob: TestClient
before(async () => {
  rec = await webhookRecorder()
  server = await startTestServer(
    configToml({
      extra: `
[http_connections.http_pool]
server = "${rec.url}"

[plugins.mod_event_pusher_http]
pool_name = "http_pool"
path = "/n"
`,
    }),
  )
  alice = await connectClient(server.c2sPort, 'alice@localhost', 'alice-pw', { resource: 'chat' })
  bob = await connectClient(server.c2sPort, 'bob@localhost', 'bob-pw', { resource: 'chat' })
})
after(async () => {
  await alice?.stop()
  await bob?.stop()
  await server?.stop()
  await rec?.close()
})

for (const bad of ['\u0000', '\u0001', '&#0;', '&#x1;', '&#xFFFE;']) {
  test(`a body with ${JSON.stringify(bad)}: the sender's stream closes with not-well-formed, no notification carries it, others' chat is notified`, async () => {
    const raw = await RawXmpp.connect(server.c2sPort)
    await raw.login('carol', 'carol-pw', 'bad')
    raw.send(`<message to='bob@localhost' type='chat'><body>before${bad}after</body></message>`)
    await raw.waitFor(/<not-well-formed/)
    await raw.waitClosed()

    const body = `still fine ${Math.random()}`
    await alice.send(xml('message', { to: 'bob@localhost', type: 'chat' }, xml('body', {}, body)))
    await rec.waitForAll([body], 10_000)
    for (const d of rec.deliveries) {
      assert.doesNotMatch(d.message ?? '', /before.*after/, 'the refused message never became a notification')
      assert.doesNotMatch(JSON.stringify(d), /\\u0000|\\u0001|\\ufffe/i)
    }
  })
}
