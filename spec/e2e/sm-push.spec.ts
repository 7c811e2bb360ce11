// Issue 15's push set-up with XEP-0198, end to end: the real server, the real plugin with an
// only_offline_recipient JSON handler posting to a real HTTP sink, @xmpp/client for the phone.
// A phone whose connection drops and is not resumed within resume_timeout: the messages it never
// acknowledged are kept offline and each is pushed exactly once, then delivered at its next login.
// Resumed in time: what was queued for it is delivered, nothing of that is pushed.
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { connectClient, type TestClient } from '../helpers/client.js'
import { assertBalanced, eventually } from '../helpers/metrics.js'
import { startSink, type Sink } from '../helpers/sink.js'
import { startTestServer, type TestServer } from '../helpers/xmppd.js'

const USERS = { 'alice@localhost': 'pw', 'bob@localhost': 'pw' }
let sink: Sink
/** resume_timeout = 1 s: the phone never makes it back in time. */
let late: TestServer
/** resume_timeout = 60 s: the phone resumes. */
let back: TestServer

const pushToml = (path: string) => `
[http_connections.http_pool]
server = "${sink.url}"

[plugins.mod_event_pusher_http]
pool_name = "http_pool"
path = "${path}"
format = "json"
only_offline_recipient = true
`

before(async () => {
  sink = await startSink()
  late = await startTestServer({ users: USERS, c2s: { resume_timeout: 1 }, extra: pushToml('/late') })
  back = await startTestServer({ users: USERS, c2s: { resume_timeout: 60 }, extra: pushToml('/back') })
})
after(async () => {
  await late?.stop()
  await back?.stop()
  await sink?.close()
})

async function until(cond: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 20))
  }
}

const pushes = (path: string) => sink.requests.filter((r) => r.url === path).map((r) => JSON.parse(r.body) as Record<string, unknown>)
const bodies = (c: TestClient) => c.received.filter((s) => s.is('message') && s.getChildText('body')).map((s) => s.getChildText('body'))
const sidOf = (s: any) => s.getChildren('stanza-id', 'urn:xmpp:sid:0').find((c: any) => c.attrs.by === 'alice@localhost')?.attrs.id

/** alice's phone with stream management enabled, then its connection cut (no </stream:stream>). */
async function droppedPhone(s: TestServer): Promise<TestClient> {
  const phone = await connectClient(s.c2sPort, 'alice@localhost', 'pw', { resource: 'phone' })
  await until(() => phone.xmpp.streamManagement.enabled === true, '<enabled/>')
  phone.xmpp.socket.socket.destroy()
  await until(() => s.sessions.full('alice@localhost', 'phone')?.detached === true, 'the phone to detach')
  return phone
}

test('not resumed in time: each unacknowledged message is kept and pushed exactly once, then delivered at the next login', async () => {
  const phone = await droppedPhone(late)
  const bob = await connectClient(late.c2sPort, 'bob@localhost', 'pw')
  for (const body of ['queued 1', 'queued 2', 'queued 3']) await bob.chat('alice@localhost/phone', body)
  await bob.chat('alice@localhost', 'to the bare JID') // skips the detached session: kept at once
  await until(() => !late.sessions.full('alice@localhost', 'phone'), 'resume_timeout to end the session')
  await eventually(
    () => pushes('/late').length,
    (n) => assert.equal(n, 4),
    5000,
  )
  await new Promise((r) => setTimeout(r, 200)) // nothing more comes
  const pushed = pushes('/late')
  assert.deepEqual(pushed.map((p) => p.body).sort(), ['queued 1', 'queued 2', 'queued 3', 'to the bare JID'])
  assert.ok(
    pushed.every((p) => p.to_bare === 'alice@localhost' && p.from === bob.jid),
    JSON.stringify(pushed),
  )

  const again = await connectClient(late.c2sPort, 'alice@localhost', 'pw', { resource: 'phone' })
  await until(() => bodies(again).length >= 4, 'the kept messages')
  assert.deepEqual(bodies(again).sort(), ['queued 1', 'queued 2', 'queued 3', 'to the bare JID'])
  const delivered = again.received.filter((s) => s.is('message'))
  assert.ok(
    delivered.every((m) => m.getChild('delay', 'urn:xmpp:delay')),
    delivered.join('\n'),
  )
  // Each push names the stanza-id of the message it announced.
  assert.deepEqual(delivered.map(sidOf).sort(), pushed.map((p) => p.stanza_id).sort())
  await assertBalanced(late.registry, 'localhost')
  await Promise.all([again.stop(), bob.stop(), phone.stop()])
})

test('resumed in time: what was queued for the phone is delivered, and none of it is pushed', async () => {
  const phone = await droppedPhone(back)
  const bob = await connectClient(back.c2sPort, 'bob@localhost', 'pw')
  for (const body of ['queued 1', 'queued 2']) await bob.chat('alice@localhost/phone', body)
  const resumed = new Promise((resolve) => phone.xmpp.streamManagement.once('resumed', resolve))
  await phone.xmpp.reconnect.reconnect()
  await resumed
  await until(() => bodies(phone).length >= 2, 'the queued messages')
  assert.deepEqual(bodies(phone), ['queued 1', 'queued 2'])
  await bob.chat('alice@localhost', 'live again')
  await phone.next((s) => s.getChildText('body') === 'live again')
  await new Promise((r) => setTimeout(r, 200))
  assert.equal(pushes('/back').length, 0)
  await Promise.all([phone.stop(), bob.stop()])
})
