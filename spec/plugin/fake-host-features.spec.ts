// The options of issue 6 on a fake host with a real HTTP endpoint: retries (and how they meet the
// breaker, the retry backlog and stop), success_codes, static headers and signatures, presence
// events, the offline-only filter, and the rate-limited failure log. Each spec ends balanced.
import assert from 'node:assert/strict'
import { createHmac } from 'node:crypto'
import { after, afterEach, before, describe, it } from 'node:test'
import { jid } from '@xmpp/jid'
import type { Hook, JID, PluginContext, PresenceHandler } from '../../lib/contract.js'
import createEventPusherHttp from '../../lib/plugin/index.js'
import { FakeHost, type PoolInput } from '../helpers/fake-host.js'
import { assertBalanced, eventually, hostCounts } from '../helpers/metrics.js'
import { closedPort, startSink, type Sink } from '../helpers/sink.js'
import { chat, message } from '../helpers/stanza.js'

/** A fake host that also runs the presence hooks and answers isOnline from a set. */
class FullHost extends FakeHost {
  readonly asked: Hook[] = []
  readonly online = new Set<string>()
  private presence: Record<'user_available' | 'user_unavailable', PresenceHandler[]> = { user_available: [], user_unavailable: [] }

  override context(options: unknown): PluginContext {
    const ctx = super.context(options)
    const on = ctx.hooks.on
    return {
      ...ctx,
      sessions: { isOnline: (j: JID) => this.online.has(`${j.local}@${j.domain}`) },
      hooks: {
        on: ((hook: Hook, handler: PresenceHandler) => {
          this.asked.push(hook)
          if (hook === 'user_send_packet') return on(hook, handler as never)
          this.presence[hook].push(handler)
          return () => {
            this.presence[hook] = this.presence[hook].filter((h) => h !== handler)
          }
        }) as PluginContext['hooks']['on'],
      },
    }
  }

  fire(hook: 'user_available' | 'user_unavailable', who: string): void {
    for (const h of this.presence[hook]) h(jid(who))
  }
}

let sink: Sink
let host: FullHost

before(async () => {
  sink = await startSink()
})
after(() => sink.close())
afterEach(async () => {
  await host?.stop()
  await assertBalanced(host.registry, host.host)
  sink.requests.length = 0
  sink.behave({ status: 204 })
})

async function mount(options: Record<string, unknown>, pool: Partial<PoolInput> = {}): Promise<FullHost> {
  host = new FullHost({ pools: { http_pool: { server: sink.url, request_timeout: 300, ...pool } as PoolInput } })
  await host.start(createEventPusherHttp, { path: '/n', drain_timeout: 500, ...options })
  return host
}

const send = (text = 'hi', to = 'bob@a.test') => host.send(chat('alice@a.test/r', to, text))
const counts = () => hostCounts(host.registry, 'a.test')
const retries = async () =>
  (await host.registry.getSingleMetric('mod_http_notifications_retries_total')!.get()).values.find((v) => v.labels.host === 'a.test')?.value
const settledCount = async () => {
  const c = await counts()
  return c.sent + c.failedTotal
}
/** Waits until `n` notifications have their final outcome. */
const settled = (n: number, timeoutMs = 3000) => eventually(settledCount, (v) => assert.equal(v, n), timeoutMs)

describe('retries', () => {
  it('succeeds on the third attempt: sent once, two retries counted, the same webhook-id three times', async () => {
    sink.behave((_req, i) => (i < 2 ? { status: 503 } : { status: 200 }))
    await mount({ retries: 3, retry_base_delay: 5, retry_max_delay: 20 })
    send('third time lucky')
    await settled(1)
    const c = await counts()
    assert.deepEqual([c.accepted, c.sent, c.failedTotal, await retries()], [1, 1, 0, 2])
    assert.equal(sink.requests.length, 3)
    const ids = sink.requests.map((r) => r.headers['webhook-id'])
    assert.match(String(ids[0]), /^msg_/)
    assert.deepEqual(new Set(ids).size, 1)
    for (const r of sink.requests) assert.match(String(r.headers['webhook-timestamp']), /^\d+$/)
    assert.deepEqual(new Set(sink.requests.map((r) => r.form.message)), new Set(['third time lucky']))
  })

  it('gives up after the last attempt: failed once, with the last reason', async () => {
    sink.behave({ status: 500 })
    await mount({ retries: 2, retry_base_delay: 1, retry_max_delay: 5 })
    send()
    await settled(1)
    const c = await counts()
    assert.deepEqual([c.sent, c.failed.status, c.failedTotal, await retries(), sink.requests.length], [0, 1, 1, 2, 3])
    assert.equal(host.logs.filter((l) => l.msg === 'notification failed').length, 1)
    assert.equal(host.logs.find((l) => l.msg === 'notification failed')!.obj.attempts, 3)
  })

  it('does not retry 400 or 410 (nor any answer but 408, 429 and 5xx)', async () => {
    const next = [400, 410, 404, 302]
    sink.behave(() => ({ status: next.shift() ?? 204 }))
    await mount({ retries: 3, retry_base_delay: 1 })
    for (let i = 0; i < 4; i++) send(`m${i}`)
    await settled(4)
    await new Promise((r) => setTimeout(r, 30))
    assert.equal(sink.requests.length, 4)
    const c = await counts()
    assert.deepEqual([c.failed.status, await retries()], [4, 0])
  })

  it('retries timeouts, refused connections and 408', async () => {
    let i = 0
    sink.behave(() => [{ delay: 200, status: 204 }, { status: 408 }, { status: 204 }][i++] ?? { status: 204 })
    await mount({ retries: 2, retry_base_delay: 1, retry_max_delay: 5 }, { request_timeout: 50 })
    send()
    await settled(1)
    assert.deepEqual([(await counts()).sent, await retries()], [1, 2])
    await host.stop()

    await mount({ retries: 2, retry_base_delay: 1, retry_max_delay: 5 }, { server: `http://127.0.0.1:${await closedPort()}` })
    send()
    await settled(1)
    assert.deepEqual([(await counts()).failed.connection, await retries()], [1, 2])
  })

  it('honours Retry-After on 429, capped at retry_max_delay, over its own backoff', async () => {
    // Without Retry-After, the backoff from a one-hour base would not retry within this spec.
    let i = 0
    sink.behave(
      () =>
        [
          { status: 429, headers: { 'retry-after': '0' } },
          { status: 429, headers: { 'retry-after': '86400' } },
        ][i++] ?? { status: 204 },
    )
    await mount({ retries: 2, retry_base_delay: 3_600_000, retry_max_delay: 3_600_000 })
    send()
    await eventually(
      () => sink.requests.length,
      (n) => assert.equal(n, 2),
    )
    await host.stop() // the third attempt waits for a day: stop attempts it now
    assert.equal(sink.requests.length, 3)
    assert.deepEqual([(await counts()).sent, await retries()], [1, 2])

    i = 0
    sink.requests.length = 0
    sink.behave(() => [{ status: 429, headers: { 'retry-after': '86400' } }][i++] ?? { status: 204 })
    await mount({ retries: 1, retry_base_delay: 10, retry_max_delay: 20 })
    send()
    await settled(1)
    assert.deepEqual([(await counts()).sent, sink.requests.length], [1, 2])
  })

  it('a retry that finds the breaker open waits for its next attempt, and fails breaker_open after its last', async () => {
    const breaker = { volume_threshold: 1, error_threshold_percentage: 1, reset_timeout: 60_000 }
    sink.behave({ status: 503 })
    await mount({ retries: 2, retry_base_delay: 1, retry_max_delay: 5, breaker })
    send()
    await settled(1)
    const c = await counts()
    assert.deepEqual([c.failed.breaker_open, c.failed.status, await retries(), sink.requests.length], [1, 0, 2, 1], 'one request, two retries failed fast')
    await host.stop()

    sink.behave((_req, i) => (i === 0 ? { status: 503 } : { status: 204 }))
    sink.requests.length = 0
    await mount({ retries: 8, retry_base_delay: 20, retry_max_delay: 100, breaker: { ...breaker, reset_timeout: 60 } })
    send()
    await settled(1, 5000)
    assert.equal((await counts()).sent, 1, 'the retry after reset_timeout is the half-open trial, and it passes')
    assert.equal(sink.requests.length, 2)
  })

  it('bounds the retry backlog by max_queue: beyond it, a notification fails with its last reason', async () => {
    sink.behave({ status: 503 })
    await mount({ retries: 5, retry_base_delay: 3_600_000, retry_max_delay: 3_600_000, max_queue: 2, drain_timeout: 1000 })
    send('a')
    send('b')
    await eventually(
      async () => (await host.command('status')).handlers[0].retrying,
      (n) => assert.equal(n, 2),
    )
    send('c')
    send('d')
    await settled(2)
    const c = await counts()
    assert.deepEqual([c.failed.status, (await host.command('status')).handlers[0].retrying], [2, 2])
    assert.ok(host.logs.some((l) => l.level === 'warn' && /retry backlog full/.test(l.msg ?? '')))
    assert.equal(host.logs.filter((l) => /retry backlog full/.test(l.msg ?? '')).length, 1, 'rate-limited')
    // Stop attempts the two waiting retries at once (and schedules no more).
    await host.stop()
    assert.deepEqual(
      sink.requests.map((r) => r.form.message),
      ['a', 'b', 'c', 'd', 'a', 'b'],
    )
    const end = await counts()
    assert.deepEqual([end.failed.status, await retries()], [4, 2])
  })

  it('a retry never holds up the fresh queue: fresh notifications and due retries take turns', async () => {
    sink.behave((req) =>
      req.form.message === 'flaky' && sink.requests.filter((r) => r.form.message === 'flaky').length < 3 ? { status: 500 } : { status: 204, delay: 5 },
    )
    await mount({ retries: 5, retry_base_delay: 1, retry_max_delay: 2 }, { pool_size: 1 })
    send('flaky')
    for (let i = 0; i < 20; i++) send(`m${i}`)
    await settled(21)
    const c = await counts()
    assert.deepEqual([c.sent, await retries()], [21, 2])
    const order = sink.requests.map((r) => r.form.message)
    assert.equal(order.filter((m) => m === 'flaky').length, 3)
    assert.ok(order.lastIndexOf('flaky') < order.length - 1, 'the retries did not wait for the whole queue')
  })

  it('at stop, waiting retries that cannot finish within drain_timeout fail as shutdown', async () => {
    let i = 0
    sink.behave(() => (i++ === 0 ? { status: 500 } : { hang: true }))
    await mount({ retries: 3, retry_base_delay: 3_600_000, retry_max_delay: 3_600_000, drain_timeout: 100 }, { request_timeout: 10_000 })
    send()
    await eventually(
      async () => (await host.command('status')).handlers[0].retrying,
      (n) => assert.equal(n, 1),
    )
    await host.stop()
    const c = await counts()
    assert.deepEqual([c.failed.shutdown, c.failedTotal, await retries(), sink.requests.length], [1, 1, 1, 2])
  })
})

describe('success_codes', () => {
  it('counts only the listed statuses as sent; another 2xx fails (status), is not retried, and spares the breaker', async () => {
    const next = [200, 201, 200, 200, 200, 200]
    sink.behave(() => ({ status: next.shift() ?? 201 }))
    await mount({ success_codes: [201, 204], retries: 2, breaker: { volume_threshold: 2, error_threshold_percentage: 1, reset_timeout: 60_000 } })
    for (let i = 0; i < 6; i++) send(`m${i}`)
    await settled(6)
    const c = await counts()
    assert.deepEqual([c.sent, c.failed.status, await retries(), sink.requests.length], [1, 5, 0, 6])
    assert.equal((await host.command('status')).pools[0].breaker, 'closed')
  })
})

describe('headers and signatures', () => {
  const secret = 'whsec_' + Buffer.from('0123456789abcdef0123456789abcdef').toString('base64')
  const expected = (id: string, ts: string, body: string) =>
    'v1,' +
    createHmac('sha256', Buffer.from(secret.slice(6), 'base64'))
      .update(`${id}.${ts}.${body}`)
      .digest('base64')

  it('sends the static headers and a verifiable signature with form and JSON bodies; logs neither', async () => {
    await mount({
      headers: { Authorization: 'Bearer very-secret-token', 'X-Tenant': 'acme' },
      signing_secrets: [secret],
      handlers: [{ name: 'form' }, { name: 'json', format: 'json', path: '/j' }],
    })
    send('signed')
    const reqs = await sink.waitFor(2)
    for (const r of reqs) {
      assert.equal(r.headers.authorization, 'Bearer very-secret-token')
      assert.equal(r.headers['x-tenant'], 'acme')
      assert.equal(r.headers['webhook-signature'], expected(String(r.headers['webhook-id']), String(r.headers['webhook-timestamp']), r.body))
    }
    const json = reqs.find((r) => r.url === '/j')!
    assert.equal(json.headers['content-type'], 'application/json')
    assert.equal(JSON.parse(json.body).body, 'signed')
    const form = reqs.find((r) => r.url === '/n')!
    assert.equal(form.headers['content-type'], 'application/x-www-form-urlencoded')
    assert.notEqual(form.headers['webhook-id'], json.headers['webhook-id'], 'one id per notification (per handler)')
    await settled(2)
    const logged = JSON.stringify(host.logs)
    assert.ok(!logged.includes('very-secret-token') && !logged.includes(secret.slice(6)), 'no secret in the log')
  })

  it('adds nothing to the seed request by default', async () => {
    await mount({})
    send()
    const [r] = await sink.waitFor(1)
    assert.deepEqual(
      Object.keys(r.headers).filter((h) => h.startsWith('webhook-') || h === 'authorization'),
      [],
    )
  })

  it('refuses a reserved header or an empty key at start, at the option that holds it', async () => {
    host = new FullHost({ pools: { http_pool: { server: sink.url } } })
    await assert.rejects(host.start(createEventPusherHttp, { handlers: [{}, { headers: { Host: 'x' } }] }), { path: 'handlers.1.headers.Host' })
    await assert.rejects(host.start(createEventPusherHttp, { signing_secrets: ['whsec_QQ==', 'whsec_A'] }), { path: 'signing_secrets.1' })
    await assert.rejects(host.start(createEventPusherHttp, { retry_base_delay: 100, handlers: [{ retry_max_delay: 50 }] }), {
      path: 'handlers.0.retry_max_delay',
    })
  })
})

describe('events and filters', () => {
  it('subscribes to presence hooks only when a handler wants presence', async () => {
    await mount({})
    assert.deepEqual(host.asked, ['user_send_packet'])
    await host.stop()
    await mount({ events: ['presence'] })
    assert.deepEqual(host.asked, ['user_available', 'user_unavailable'])
    await host.stop()
    await mount({ handlers: [{}, { events: ['message', 'presence'] }] })
    assert.deepEqual(host.asked, ['user_send_packet', 'user_available', 'user_unavailable'])
  })

  it('notifies presence changes, as JSON and as the extended form', async () => {
    await mount({ events: ['presence'], handlers: [{ format: 'json', path: '/j' }, { path: '/f' }] })
    host.fire('user_available', 'alice@a.test/phone')
    host.fire('user_unavailable', 'alice@a.test/phone')
    send('not a presence')
    await settled(4)
    const json = sink.requests.filter((r) => r.url === '/j').map((r) => JSON.parse(r.body))
    assert.deepEqual(
      json.map((d) => [d.event, d.type, d.from, d.to, d.from_bare, d.body]),
      [
        ['presence', 'available', 'alice@a.test/phone', 'a.test', 'alice@a.test', null],
        ['presence', 'unavailable', 'alice@a.test/phone', 'a.test', 'alice@a.test', null],
      ],
    )
    const form = sink.requests.filter((r) => r.url === '/f').map((r) => r.fields)
    assert.deepEqual(form[0], [
      ['author', 'alice'],
      ['server', 'a.test'],
      ['receiver', ''],
      ['message', ''],
      ['event', 'presence'],
      ['type', 'available'],
    ])
    assert.equal((await counts()).accepted, 4)
  })

  it('widens and narrows messages: types, body_required, sender_hosts, recipients, only_offline_recipient', async () => {
    await mount({
      handlers: [
        { name: 'group', path: '/g', types: ['groupchat'] },
        { name: 'any-body', path: '/b', body_required: false },
        { name: 'to-carol', path: '/c', recipients: ['carol@a.test'] },
        { name: 'offline', path: '/o', only_offline_recipient: true },
        { name: 'from-b', path: '/s', sender_hosts: ['b.test'] },
      ],
    })
    host.online.add('bob@a.test')
    host.send(message('alice@a.test/r', 'room@muc.a.test', 'to the room', 'groupchat'))
    host.send(message('alice@a.test/r', 'bob@a.test', '', 'chat'))
    send('to carol', 'carol@a.test')
    send('to bob')
    await settled(1 + 3 + 1 + 1)
    const by = (url: string) => sink.requests.filter((r) => r.url === url).map((r) => r.form.message)
    assert.deepEqual(by('/g'), ['to the room'])
    assert.deepEqual(by('/b').sort(), ['', 'to bob', 'to carol'])
    assert.deepEqual(by('/c'), ['to carol'])
    assert.deepEqual(by('/o'), ['to carol'], 'bob is online')
    assert.deepEqual(by('/s'), [])
    const group = sink.requests.find((r) => r.url === '/g')!
    assert.deepEqual([group.form.event, group.form.type], ['message', 'groupchat'], 'the extended form')
    assert.equal(sink.requests.find((r) => r.url === '/c')!.form.event, undefined, 'the seed form')
  })
})

describe('failure log', () => {
  it('1000 failures against a dead endpoint give a handful of warn lines', async () => {
    await mount({ max_queue: 1000 }, { server: `http://127.0.0.1:${await closedPort()}`, pool_size: 50 })
    for (let i = 0; i < 1000; i++) send(`m${i}`)
    await settled(1000, 10_000)
    await host.stop()
    // One line per cause (connection, then breaker_open once the breaker opened), one summary
    // per cause, and the breaker's own line.
    const warns = host.logs.filter((l) => l.level === 'warn')
    assert.ok(warns.length <= 6, `${warns.length} warn lines`)
    const failures = warns.filter((l) => l.obj.reason !== undefined)
    assert.equal(
      failures.reduce((n, l) => n + (typeof l.obj.suppressed === 'number' ? l.obj.suppressed : 1), 0),
      1000,
      'each failure shown or counted',
    )
    const c = await counts()
    assert.equal(c.failed.connection + c.failed.breaker_open, 1000)
  })
})
