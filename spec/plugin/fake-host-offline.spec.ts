// only_offline_recipient (the push-gateway set-up) on a fake host with a real HTTP endpoint: such
// a handler is fed by the host's offline_message hook (a message kept for an account with no
// available resource) and never by user_send_packet; every payload carries the recipient's
// XEP-0359 stanza id (JSON `stanza_id`; not in the form body), through the outbox and a restart.
import assert from 'node:assert/strict'
import { after, afterEach, before, describe, it } from 'node:test'
import { readFileSync } from 'node:fs'
import { Ajv } from 'ajv'
import createEventPusherHttp from '../../lib/plugin/index.js'
import { FakeHost, tempDataDir, type PoolInput } from '../helpers/fake-host.js'
import { assertBalanced, eventually, hostCounts } from '../helpers/metrics.js'
import { closedPort, startSink, type Sink } from '../helpers/sink.js'
import { chat, element, message, presence, sent, type Sent } from '../helpers/stanza.js'

const schema = JSON.parse(readFileSync(new URL('../../docs/webhook-payload.schema.json', import.meta.url), 'utf8'))
const ajv = new Ajv({ allErrors: true, strict: true })
ajv.addFormat('date-time', (s: string) => !Number.isNaN(Date.parse(s)))
const validPayload = ajv.compile(schema)

let sink: Sink
let host: FakeHost | undefined

before(async () => {
  sink = await startSink()
})
after(() => sink.close())
afterEach(async () => {
  try {
    if (host) {
      await host.stop()
      await assertBalanced(host.registry, host.host)
    }
  } finally {
    await host?.stop()
    host = undefined
    sink.requests.length = 0
    sink.behave({ status: 204 })
  }
})

async function mount(options: Record<string, unknown>, pool: Partial<PoolInput> = {}, dataDir?: string): Promise<FakeHost> {
  host = new FakeHost({ dataDir, pools: { http_pool: { server: sink.url, request_timeout: 2000, ...pool } as PoolInput } })
  await host.start(createEventPusherHttp, { path: '/n', drain_timeout: 500, ...options })
  return host
}

const quiet = (ms = 100) => new Promise((r) => setTimeout(r, ms))
const counts = () => hostCounts(host!.registry, host!.host)

/** A chat message as the host hands it over: stamped with the recipient's stanza id (and, optionally, another entity's). */
function stamped(from: string, to: string, body: string, id: string, others: Array<{ by: string; id: string }> = []): Sent {
  const m = element('message', { to, type: 'chat', id: 'client-id' })
  m.c('body').t(body)
  for (const o of others) m.c('stanza-id', { xmlns: 'urn:xmpp:sid:0', by: o.by, id: o.id })
  const bare = to.split('/')[0]
  m.c('stanza-id', { xmlns: 'urn:xmpp:sid:0', by: bare, id })
  return sent(m, from)
}

describe('only_offline_recipient: fed by offline_message', () => {
  it('notifies exactly what the host keeps, never what users send; subscribes to offline_message alone', async () => {
    await mount({ only_offline_recipient: true })
    assert.deepEqual([host!.subscribers, host!.offlineSubscribers], [0, 1])
    // Live traffic (delivered or bounced): the host fires user_send_packet only. Nothing.
    host!.send(chat('alice@a.test/phone', 'bob@a.test', 'sent while bob is online'))
    host!.send(chat('alice@a.test/phone', 'nobody@a.test', 'bounced'))
    await quiet()
    assert.equal(sink.requests.length, 0)
    assert.equal((await counts()).accepted, 0)
    // Kept for bob (no available resource): one notification, the seed's form.
    host!.keepOffline(chat('alice@a.test/phone', 'bob@a.test', 'kept for bob'))
    const [req] = await sink.waitFor(1)
    assert.deepEqual(req.fields, [
      ['author', 'alice'],
      ['server', 'a.test'],
      ['receiver', 'bob'],
      ['message', 'kept for bob'],
    ])
    await eventually(counts, (c) => assert.deepEqual([c.accepted, c.sent], [1, 1]))
  })

  it('beside a default handler: each notified once, by its own hook', async () => {
    await mount({
      handlers: [
        { name: 'everything', path: '/all' },
        { name: 'push', path: '/push', only_offline_recipient: true },
      ],
    })
    assert.deepEqual([host!.subscribers, host!.offlineSubscribers], [1, 1])
    // What a host does for a message to an account with no available resource: user_send_packet, then offline_message.
    const m = chat('alice@a.test/phone', 'bob@a.test', 'to offline bob')
    host!.send(m)
    host!.keepOffline(m)
    host!.send(chat('alice@a.test/phone', 'carol@a.test', 'to online carol'))
    await eventually(counts, (c) => assert.deepEqual([c.accepted, c.sent], [3, 3]))
    await quiet()
    const by = (url: string) => sink.requests.filter((r) => r.url === url).map((r) => r.form.message)
    assert.deepEqual(by('/all').sort(), ['to offline bob', 'to online carol'])
    assert.deepEqual(by('/push'), ['to offline bob'])
  })

  it('the built-in filter still decides on what offline_message brings', async () => {
    await mount({ only_offline_recipient: true, types: ['chat', 'normal'], recipients: ['bob@a.test'] })
    host!.keepOffline(message('alice@a.test/r', 'bob@a.test', undefined, 'chat')) // no body
    host!.keepOffline(chat('alice@a.test/r', 'carol@a.test', 'not a listed recipient'))
    host!.keepOffline(message('alice@a.test/r', 'bob@a.test', 'a normal one', 'normal'))
    host!.keepOffline(chat('alice@a.test/r', 'bob@a.test/gone', 'to a resource that left'))
    await eventually(counts, (c) => assert.deepEqual([c.accepted, c.sent], [2, 2]))
    await quiet()
    assert.deepEqual(sink.requests.map((r) => [r.form.receiver, r.form.message, r.form.type]).sort(), [
      ['bob', 'a normal one', 'normal'],
      ['bob', 'to a resource that left', 'chat'],
    ])
  })

  it("with callback_module: shouldMakeReq decides on offline_message's packets, and user_send_packet never reaches it", async () => {
    await mount({ only_offline_recipient: true, callback_module: './callbacks/accept-all.mjs' })
    host!.send(presence('alice@a.test/r'))
    host!.send(chat('alice@a.test/r', 'bob@a.test', 'live'))
    await quiet()
    assert.equal(sink.requests.length, 0)
    host!.keepOffline(message('alice@a.test/r', 'bob@a.test', 'a headline kept', 'headline')) // types are the callback's business
    const [req] = await sink.waitFor(1)
    assert.equal(req.form.message, 'a headline kept')
  })

  it('unsubscribes at stop: a message kept afterwards makes nothing', async () => {
    await mount({ only_offline_recipient: true })
    await host!.stop()
    assert.equal(host!.offlineSubscribers, 0)
    host!.keepOffline(chat('alice@a.test/r', 'bob@a.test', 'after stop'))
    await quiet()
    assert.equal(sink.requests.length, 0)
  })
})

describe('stanza_id', () => {
  it("JSON: the recipient's stanza id, not another entity's; null without one; valid against the schema", async () => {
    await mount({
      format: 'json',
      handlers: [
        { name: 'live', path: '/live' },
        { name: 'push', path: '/push', only_offline_recipient: true },
      ],
    })
    host!.send(stamped('alice@a.test/r', 'bob@a.test/laptop', 'live one', 'live-sid', [{ by: 'alice@a.test', id: 'sender-archive' }]))
    host!.keepOffline(stamped('alice@a.test/r', 'carol@a.test', 'kept one', 'kept-sid', [{ by: 'room@muc.a.test', id: 'muc' }]))
    host!.send(chat('alice@a.test/r', 'dave@a.test', 'unstamped'))
    // A forged one (by another JID than the recipient's) is not the recipient's id either.
    const forged = element('message', { to: 'erin@a.test', type: 'chat' })
    forged.c('body').t('forged')
    forged.c('stanza-id', { xmlns: 'urn:xmpp:sid:0', by: 'mallory@a.test', id: 'forged' })
    host!.send(sent(forged, 'alice@a.test/r'))
    const reqs = await sink.waitFor(4)
    const docs = reqs.map((r) => JSON.parse(r.body))
    for (const d of docs) assert.ok(validPayload(d), JSON.stringify(validPayload.errors))
    const byBody = Object.fromEntries(docs.map((d) => [d.body, d.stanza_id]))
    assert.deepEqual(byBody, { 'live one': 'live-sid', 'kept one': 'kept-sid', unstamped: null, forged: null })
    assert.equal(docs.find((d) => d.body === 'kept one').id, 'client-id', 'id stays the stanza id attribute')
  })

  it('matches the bare JID case-insensitively (JIDs compare so)', async () => {
    await mount({ format: 'json' })
    const m = element('message', { to: 'Bob@A.test/Phone', type: 'chat' })
    m.c('body').t('hi')
    m.c('stanza-id', { xmlns: 'urn:xmpp:sid:0', by: 'bob@a.test', id: 'sid-1' })
    host!.send(sent(m, 'alice@a.test/r'))
    const [req] = await sink.waitFor(1)
    assert.equal(JSON.parse(req.body).stanza_id, 'sid-1')
  })

  it('the form body stays the seed form (no stanza_id field), the extended one too', async () => {
    await mount({
      handlers: [
        { name: 'seed', path: '/s' },
        { name: 'ext', path: '/e', types: ['chat', 'normal'] },
      ],
    })
    host!.send(stamped('alice@a.test/r', 'bob@a.test', 'x', 'sid'))
    const reqs = await sink.waitFor(2)
    for (const r of reqs) assert.ok(!r.fields.some(([k]) => k === 'stanza_id'), r.body)
  })

  it('survives the outbox and a restart: an endpoint back after the restart gets the same stanza_id', async () => {
    const dataDir = tempDataDir()
    const down = `http://127.0.0.1:${await closedPort()}`
    await mount({ format: 'json', only_offline_recipient: true, drain_timeout: 50 }, { server: down }, dataDir)
    host!.keepOffline(stamped('alice@a.test/r', 'bob@a.test', 'while down', 'sid-kept'))
    await eventually(counts, (c) => assert.equal(c.pending, 1))
    await host!.stop()
    host = undefined
    await mount({ format: 'json', only_offline_recipient: true }, {}, dataDir)
    const [req] = await sink.waitFor(1, 5000)
    assert.deepEqual([JSON.parse(req.body).body, JSON.parse(req.body).stanza_id], ['while down', 'sid-kept'])
    await eventually(counts, (c) => assert.deepEqual([c.recovered, c.sent], [1, 1]))
  })

  it('a callback module building the body reads it on the packet, as the host stamped it', async () => {
    await mount({ only_offline_recipient: true, callback_module: './callbacks/packet-echo.mjs' })
    host!.keepOffline(stamped('alice@a.test/r', 'bob@a.test', 'echo', 'sid-echo'))
    const [req] = await sink.waitFor(1)
    const echoed = JSON.parse(req.body) as { children: Array<{ name: string; attrs: Record<string, string> }> }
    assert.deepEqual(
      echoed.children.filter((c) => c.name === 'stanza-id').map((c) => c.attrs),
      [{ xmlns: 'urn:xmpp:sid:0', by: 'bob@a.test', id: 'sid-echo' }],
    )
  })
})
