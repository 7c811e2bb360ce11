// The plugin mounted on a fake host through the contract alone: what reaches the endpoint.
import assert from 'node:assert/strict'
import { after, afterEach, before, describe, it } from 'node:test'
import createEventPusherHttp from '../../lib/plugin/index.js'
import { FakeHost, type PoolInput } from '../helpers/fake-host.js'
import { assertBalanced, eventually, hostCounts } from '../helpers/metrics.js'
import { startSink, type Sink } from '../helpers/sink.js'
import { chat, chatState, element, iq, message, presence, sent } from '../helpers/stanza.js'

let sink: Sink
let other: Sink
let host: FakeHost
/** Set by a spec that leaves notifications pending on purpose (they are checked before the stop). */
let leftPending = false

before(async () => {
  sink = await startSink()
  other = await startSink()
})
after(async () => {
  await sink.close()
  await other.close()
})
afterEach(async () => {
  try {
    if (host?.plugin) await assertBalanced(host.registry, host.host, 3000, { pending: leftPending })
    await host?.stop()
    if (!leftPending) await assertBalanced(host.registry, host.host)
  } finally {
    // After a failed assertion too: nothing left running into the next spec.
    await host?.stop()
    leftPending = false
    sink.requests.length = 0
    other.requests.length = 0
    sink.behave({ status: 204 })
    other.behave({ status: 204 })
  }
})

async function mount(options: Record<string, unknown>, pools: Record<string, Partial<PoolInput>> = {}): Promise<FakeHost> {
  host = new FakeHost({
    pools: {
      http_pool: { server: sink.url, path_prefix: '/webservice', request_timeout: 500 },
      other_pool: { server: other.url, request_timeout: 500 },
      ...(pools as Record<string, PoolInput>),
    },
  })
  await host.start(createEventPusherHttp, { enabled: true, ...options })
  return host
}

const quiet = (ms = 50) => new Promise((r) => setTimeout(r, ms))

describe('default handler', () => {
  it('POSTs one chat message exactly once, as the seed form, to pool server + prefix + path', async () => {
    await mount({ pool_name: 'http_pool', path: '/notifications' })
    host.send(chat('alice@a.test/phone', 'bob@a.test/laptop', 'Hello & good=bye + 100% ✓\nbye'))
    const [req] = await sink.waitFor(1)
    await quiet()
    assert.equal(sink.requests.length, 1)
    assert.equal(req.method, 'POST')
    assert.equal(req.url, '/webservice/notifications')
    assert.equal(req.headers['content-type'], 'application/x-www-form-urlencoded')
    assert.deepEqual(req.fields, [
      ['author', 'alice'],
      ['server', 'a.test'],
      ['receiver', 'bob'],
      ['message', 'Hello & good=bye + 100% ✓\nbye'],
    ])
    assert.equal(req.body, 'author=alice&server=a.test&receiver=bob&message=Hello+%26+good%3Dbye+%2B+100%25+%E2%9C%93%0Abye')
    const c = await assertBalanced(host.registry, 'a.test')
    assert.deepEqual([c.accepted, c.sent, c.failedTotal], [1, 1, 0])
  })

  it('sends an empty receiver for a bare-domain recipient', async () => {
    await mount({ path: '/n' })
    host.send(chat('alice@a.test', 'a.test', 'to the server'))
    const [req] = await sink.waitFor(1)
    assert.equal(req.form.receiver, '')
    assert.equal(req.form.message, 'to the server')
  })

  it('sends nothing for ineligible packets', async () => {
    await mount({ path: '/n' })
    const untyped = element('message', { to: 'bob@a.test' })
    untyped.c('body').t('normal message')
    for (const s of [
      message('alice@a.test', 'bob@a.test', ''),
      message('alice@a.test', 'bob@a.test', undefined),
      chatState('alice@a.test', 'bob@a.test'),
      message('alice@a.test', 'room@muc.a.test', 'hi all', 'groupchat'),
      message('alice@a.test', 'bob@a.test', 'news', 'headline'),
      sent(untyped, 'alice@a.test'),
      presence('alice@a.test/phone'),
      iq('alice@a.test/phone', 'a.test'),
    ]) {
      host.send(s)
    }
    host.send(chat('alice@a.test', 'bob@a.test', 'sentinel'))
    await sink.waitFor(1)
    await quiet()
    assert.deepEqual(
      sink.requests.map((r) => r.form.message),
      ['sentinel'],
    )
    assert.equal((await hostCounts(host.registry, 'a.test')).accepted, 1)
  })
})

describe('callback modules', () => {
  it('accept-all: sends presence and iq too, with the seed form', async () => {
    await mount({ path: '/n', callback_module: './callbacks/accept-all.mjs' })
    host.send(presence('alice@a.test/phone'))
    host.send(iq('alice@a.test/phone', 'bob@a.test'))
    const reqs = await sink.waitFor(2)
    assert.deepEqual(
      reqs.map((r) => r.form),
      [
        { author: 'alice', server: 'a.test', receiver: '', message: '' },
        { author: 'alice', server: 'a.test', receiver: 'bob', message: '' },
      ],
    )
  })

  it('prepareBody and prepareHeaders shape the request; got keeps the framing right', async () => {
    await mount({ path: '/json', callback_module: './callbacks/prepare.mjs' })
    host.send(presence('alice@a.test/phone'))
    host.send(message('alice@a.test/phone', 'bob@a.test/x', 'hi', 'groupchat'))
    const [req] = await sink.waitFor(1)
    await quiet()
    assert.equal(sink.requests.length, 1)
    assert.equal(req.headers['content-type'], 'application/json')
    assert.equal(req.headers['x-notification-sender'], 'alice')
    assert.equal(req.headers['content-length'], String(Buffer.byteLength(req.body)))
    assert.deepEqual(JSON.parse(req.body), {
      host: 'a.test',
      sender: 'alice',
      receiver: 'bob',
      message: 'hi',
      from: 'alice@a.test/phone',
      to: 'bob@a.test/x',
      stanza: 'message',
    })
  })

  it('loads a CommonJS module, keeping `this`', async () => {
    await mount({ path: '/n', callback_module: './callbacks/commonjs.cjs' })
    host.send(message('alice@a.test', 'bob@a.test', 'hi', 'normal'))
    host.send(presence('alice@a.test'))
    await sink.waitFor(1)
    await quiet()
    assert.equal(sink.requests.length, 1)
  })

  it('counts a throwing shouldMakeReq or prepareBody as a callback failure for that packet only', async () => {
    await mount({ path: '/n', callback_module: './callbacks/throws.mjs' })
    host.send(chat('alice@a.test', 'bob@a.test', 'boom'))
    host.send(chat('alice@a.test', 'bob@a.test', 'bad body'))
    host.send(chat('alice@a.test', 'bob@a.test', 'fine'))
    const [req] = await sink.waitFor(1)
    assert.equal(req.body, 'text=fine')
    const c = await assertBalanced(host.registry, 'a.test')
    assert.deepEqual([c.accepted, c.sent, c.failed.callback], [3, 1, 2])
    assert.ok(host.logs.some((l) => l.level === 'warn' && l.obj.reason === 'callback'))
  })

  it('fails every packet of an async shouldMakeReq instead of sending everything', async () => {
    await mount({ path: '/n', callback_module: './callbacks/async-filter.mjs' })
    host.send(chat('alice@a.test', 'bob@a.test', 'x'))
    await quiet()
    assert.equal(sink.requests.length, 0)
    assert.equal((await hostCounts(host.registry, 'a.test')).failed.callback, 1)
  })
})

describe('several handlers', () => {
  it('runs every handler for every packet, each to its own path and pool', async () => {
    await mount({ handlers: [{ path: '/a' }, { path: '/b', callback_module: './callbacks/accept-all.mjs' }, { pool_name: 'other_pool', path: '/c' }] })
    host.send(chat('alice@a.test', 'bob@a.test', 'hi'))
    host.send(presence('alice@a.test'))
    await sink.waitFor(3)
    await other.waitFor(1)
    await quiet()
    assert.deepEqual(sink.requests.map((r) => r.url).sort(), ['/webservice/a', '/webservice/b', '/webservice/b'])
    assert.deepEqual(
      other.requests.map((r) => r.url),
      ['/c'],
    )
    assert.equal((await hostCounts(host.registry, 'a.test')).accepted, 4)
  })

  it('a dead endpoint never starves another handler', async () => {
    sink.behave({ hang: true })
    await mount(
      { drain_timeout: 50, handlers: [{ path: '/dead' }, { pool_name: 'other_pool', path: '/alive' }] },
      { http_pool: { server: sink.url, pool_size: 1, request_timeout: 5000 } },
    )
    for (let i = 0; i < 20; i++) host.send(chat('alice@a.test', 'bob@a.test', `m${i}`))
    const alive = await other.waitFor(20)
    assert.deepEqual(
      alive.map((r) => r.form.message),
      Array.from({ length: 20 }, (_, i) => `m${i}`),
    )
    await eventually(
      () => host.command('status'),
      (s) =>
        assert.deepEqual(
          [s.handlers[0].pending, s.handlers[0].queue_depth, s.handlers[0].in_flight, s.handlers[1].pending, s.sent, s.failed.total],
          [20, 19, 1, 0, 20, 0],
        ),
    )
    leftPending = true // the dead one's stay in the outbox
  })

  it('shares a pool between handlers round-robin, within pool_size', async () => {
    sink.behave({ delay: 30, status: 204 })
    await mount({ handlers: [{ path: '/one' }, { path: '/two' }] }, { http_pool: { server: sink.url, pool_size: 1 } })
    for (let i = 0; i < 3; i++) host.send(chat('alice@a.test', 'bob@a.test', `m${i}`))
    const reqs = await sink.waitFor(6)
    assert.deepEqual(
      reqs.map((r) => r.url.slice(-3)),
      ['one', 'two', 'one', 'two', 'one', 'two'],
    )
  })
})
