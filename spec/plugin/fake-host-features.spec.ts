// The options of issue 6 on a fake host with a real HTTP endpoint: success_codes, static headers
// and signatures, presence events, the offline-only (push) handler, and the rate-limited failure log
// (retries: fake-host-retries.spec.ts). Each spec ends balanced.
import assert from 'node:assert/strict'
import { createHmac } from 'node:crypto'
import { after, afterEach, before, describe, it } from 'node:test'
import { jid } from '@xmpp/jid'
import type { Hook, PluginContext, PresenceHandler } from '../../lib/contract.js'
import createEventPusherHttp from '../../lib/plugin/index.js'
import { FakeHost, manifest, type PoolInput } from '../helpers/fake-host.js'
import { assertBalanced, eventually, hostCounts } from '../helpers/metrics.js'
import { startSink, type Sink } from '../helpers/sink.js'
import { chat, message } from '../helpers/stanza.js'
import { switchableEndpoint } from '../helpers/switchable.js'

/** A fake host that also runs the presence hooks and records which hooks the plugin asks for. */
class FullHost extends FakeHost {
  readonly asked: Hook[] = []
  private presence: Record<'user_available' | 'user_unavailable', PresenceHandler[]> = { user_available: [], user_unavailable: [] }

  override context(options: unknown): PluginContext {
    const ctx = super.context(options)
    const on = ctx.hooks.on
    return {
      ...ctx,
      hooks: {
        on: ((hook: Hook, handler: PresenceHandler) => {
          this.asked.push(hook)
          if (hook === 'user_send_packet' || hook === 'offline_message') return on(hook, handler as never)
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
  try {
    await host?.stop()
    await assertBalanced(host.registry, host.host)
  } finally {
    // After a failed assertion too: no request of this spec left for the next one to count.
    sink.requests.length = 0
    sink.behave({ status: 204 })
  }
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

  it('adds only webhook-id and webhook-timestamp to the seed request by default', async () => {
    await mount({})
    send()
    send()
    const [r, r2] = await sink.waitFor(2)
    assert.deepEqual(
      Object.keys(r.headers).filter((h) => h.startsWith('webhook-') || h === 'authorization'),
      ['webhook-id', 'webhook-timestamp'],
    )
    assert.match(String(r.headers['webhook-id']), /^msg_[A-Za-z0-9_-]+$/)
    assert.notEqual(r.headers['webhook-id'], r2.headers['webhook-id'], 'one id per notification')
    assert.match(String(r.headers['webhook-timestamp']), /^\d{10}$/, 'seconds since the epoch')
    await settled(2)
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
  it('subscribes to each hook only when a handler wants it; every one plugin.json declares', async () => {
    await mount({})
    assert.deepEqual(host.asked, ['user_send_packet'])
    await host.stop()
    await mount({ events: ['presence'] })
    assert.deepEqual(host.asked, ['user_available', 'user_unavailable'])
    await host.stop()
    await mount({ handlers: [{}, { events: ['message', 'presence'] }] })
    assert.deepEqual(host.asked, ['user_send_packet', 'user_available', 'user_unavailable'])
    await host.stop()
    await mount({ only_offline_recipient: true })
    assert.deepEqual(host.asked, ['offline_message'], 'a push handler alone: no user_send_packet')
    await host.stop()
    await mount({ handlers: [{}, { only_offline_recipient: true, events: ['message', 'presence'] }] })
    assert.deepEqual(host.asked, ['user_send_packet', 'offline_message', 'user_available', 'user_unavailable'])
    assert.deepEqual(host.asked, manifest.hooks)
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
    host.send(message('alice@a.test/r', 'room@muc.a.test', 'to the room', 'groupchat'))
    host.send(message('alice@a.test/r', 'bob@a.test', '', 'chat'))
    send('to carol', 'carol@a.test')
    send('to bob')
    // The host kept the one to carol (no available resource): offline_message, after user_send_packet.
    host.keepOffline(chat('alice@a.test/r', 'carol@a.test', 'to carol'))
    await settled(1 + 3 + 1 + 1)
    const by = (url: string) => sink.requests.filter((r) => r.url === url).map((r) => r.form.message)
    assert.deepEqual(by('/g'), ['to the room'])
    assert.deepEqual(by('/b').sort(), ['', 'to bob', 'to carol'])
    assert.deepEqual(by('/c'), ['to carol'])
    assert.deepEqual(by('/o'), ['to carol'], 'only what offline_message brought')
    assert.deepEqual(by('/s'), [])
    const group = sink.requests.find((r) => r.url === '/g')!
    assert.deepEqual([group.form.event, group.form.type], ['message', 'groupchat'], 'the extended form')
    assert.equal(sink.requests.find((r) => r.url === '/c')!.form.event, undefined, 'the seed form')
  })
})

describe('failure log', () => {
  it('1000 failures give a handful of warn lines', async () => {
    sink.behave({ status: 400 }) // final, and not the breaker's business: every one is tried and fails
    await mount({}, { pool_size: 50, request_timeout: 10_000 })
    for (let i = 0; i < 1000; i++) send(`m${i}`)
    await settled(1000, 10_000)
    await host.stop()
    // The first failure with its details, then one summary of the rest of the window.
    const warns = host.logs.filter((l) => l.level === 'warn')
    assert.ok(warns.length <= 3, `${warns.length} warn lines`)
    const failures = warns.filter((l) => l.obj.reason !== undefined)
    assert.equal(
      failures.reduce((n, l) => n + (typeof l.obj.suppressed === 'number' ? l.obj.suppressed : 1), 0),
      1000,
      'each failure shown or counted',
    )
    assert.equal((await counts()).failed.status, 1000)
  })

  it('1000 notifications behind a dead endpoint log no failure: they wait, and all go once it is back', async () => {
    const endpoint = await switchableEndpoint()
    await endpoint.down()
    try {
      await mount({ breaker: { reset_timeout: 100 } }, { server: endpoint.url, pool_size: 50, request_timeout: 10_000 })
      for (let i = 0; i < 1000; i++) send(`m${i}`)
      await new Promise((r) => setTimeout(r, 300))
      const c = await assertBalanced(host.registry, 'a.test', 2000, { pending: true })
      assert.deepEqual([c.pending, c.failedTotal], [1000, 0])
      await endpoint.up()
      await settled(1000, 10_000)
      assert.deepEqual([(await counts()).sent, endpoint.received], [1000, 1000])
      assert.deepEqual(
        host.logs.filter((l) => l.obj.reason !== undefined),
        [],
        'no failure line',
      )
    } finally {
      await endpoint.close()
    }
  })
})
