// Start and reload through the contract: config errors, metrics that survive, the status command
// (stop and recovery: fake-host-stop.spec.ts).
import assert from 'node:assert/strict'
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { after, afterEach, before, describe, it } from 'node:test'
import { register as globalRegistry, Registry } from 'prom-client'
import { ConfigError } from '../../lib/errors.js'
import createEventPusherHttp, { check } from '../../lib/plugin/index.js'
import { REASONS } from '../../lib/plugin/metrics.js'
import { FakeHost, type FakeHostOptions } from '../helpers/fake-host.js'
import { assertBalanced, eventually, hostCounts } from '../helpers/metrics.js'
import { startSink, type Sink } from '../helpers/sink.js'
import { chat } from '../helpers/stanza.js'

let sink: Sink
const hosts: FakeHost[] = []

before(async () => {
  sink = await startSink()
})
after(() => sink.close())
afterEach(async () => {
  for (const h of hosts.splice(0)) {
    await h.stop()
    await assertBalanced(h.registry, h.host)
  }
  sink.requests.length = 0
  sink.behave({ status: 204 })
})

function fakeHost(opts: FakeHostOptions = {}): FakeHost {
  const h = new FakeHost({ pools: { http_pool: { server: sink.url, request_timeout: 2000 } }, ...opts })
  hosts.push(h)
  return h
}

const send = (h: FakeHost, text = 'hi') => h.send(chat(`alice@${h.host}/r`, `bob@${h.host}`, text))

async function series(registry: Registry, name: string, host: string) {
  return (await registry.getSingleMetric(name)!.get()).values.filter((v) => v.labels.host === host)
}

describe('config errors at start', () => {
  async function startError(options: Record<string, unknown>, opts: FakeHostOptions = {}): Promise<ConfigError> {
    const h = fakeHost(opts)
    const err = await h.start(createEventPusherHttp, options).then(
      () => assert.fail('start should have thrown'),
      (e: unknown) => e,
    )
    assert.ok(err instanceof ConfigError, `a ConfigError, got ${String(err)}`)
    assert.equal(h.subscribers, 0, 'no hook left subscribed')
    assert.equal(h.commands.size, 0, 'no admin command registered')
    assert.deepEqual(await series(h.registry, 'mod_http_notifications_queue_depth', h.host).catch(() => []), [])
    return err
  }

  it('names a missing pool at the option that chose it', async () => {
    let e = await startError({ pool_name: 'nope' })
    assert.deepEqual([e.path, e.reason], ['pool_name', 'no http_connections pool named "nope"'])
    e = await startError({ handlers: [{ path: '/a' }, { pool_name: 'nope' }] })
    assert.equal(e.path, 'handlers.1.pool_name')
    e = await startError({ pool_name: 'nope', handlers: [{ path: '/a' }] })
    assert.equal(e.path, 'pool_name', 'inherited: the top-level key is where it is written')
    assert.equal(e.under('plugins.mod_event_pusher_http').message, 'plugins.mod_event_pusher_http.pool_name: no http_connections pool named "nope"')
  })

  it('rejects a callback module that is missing, broken, lacks shouldMakeReq or exports a non-function', async () => {
    let e = await startError({ callback_module: './callbacks/missing.mjs' })
    assert.equal(e.path, 'callback_module')
    assert.match(e.reason, /cannot load callback module "\.\/callbacks\/missing\.mjs"/)
    e = await startError({ handlers: [{}, { callback_module: './callbacks/broken.mjs' }] })
    assert.equal(e.path, 'handlers.1.callback_module')
    assert.match(e.reason, /broken on purpose/)
    e = await startError({ callback_module: './callbacks/no-should.mjs' })
    assert.match(e.reason, /does not export a shouldMakeReq function/)
    e = await startError({ callback_module: './callbacks/bad-prepare.mjs' })
    assert.match(e.reason, /prepareHeaders is exported but is not a function/)
    e = await startError({ callback_module: 'no-such-package-for-push-specs' })
    assert.match(e.reason, /cannot load/)
  })

  it('rejects an unreadable tls.cacertfile at the pool_name that uses the pool', async () => {
    const e = await startError({}, { pools: { http_pool: { server: 'https://127.0.0.1:1', tls: { cacertfile: '/nonexistent/ca.pem' } } } })
    assert.equal(e.path, 'pool_name')
    assert.match(e.reason, /cannot read tls.cacertfile/)
  })

  it('check() reports every issue at once, at its option, and leaves nothing behind', async () => {
    const h = fakeHost({ pools: { http_pool: { server: sink.url }, tls_pool: { server: 'https://127.0.0.1:1', tls: { cacertfile: '/nonexistent/ca.pem' } } } })
    const issues = await h.check(check, {
      retry_base_delay: 5000,
      retry_max_delay: 1000,
      handlers: [
        { pool_name: 'nope' },
        { callback_module: './callbacks/missing.mjs', headers: { 'Content-Length': '1' } },
        { name: 'x', pool_name: 'tls_pool', signing_secrets: ['whsec_A'] },
        { name: 'x', callback_module: './callbacks/no-should.mjs', retry_max_delay: 9000 },
      ],
    })
    assert.ok(issues.every((i) => i instanceof ConfigError))
    assert.deepEqual(issues.map((i) => `${i.path}: ${i.reason.replace(/(cannot load callback module "[^"]+"): .+/, '$1')}`).sort(), [
      'handlers.0.pool_name: no http_connections pool named "nope"',
      'handlers.1.callback_module: cannot load callback module "./callbacks/missing.mjs"',
      'handlers.1.headers.Content-Length: is set by the HTTP client and cannot be configured',
      'handlers.2.pool_name: pool "tls_pool": cannot read tls.cacertfile /nonexistent/ca.pem: ENOENT: no such file or directory, open \'/nonexistent/ca.pem\'',
      'handlers.2.signing_secrets.0: must be "whsec_" followed by a base64 key',
      'handlers.3.callback_module: callback module "./callbacks/no-should.mjs" does not export a shouldMakeReq function',
      'handlers.3.name: duplicate handler name "x"',
      // handlers 0 to 2 inherit the top-level delays: one issue, where they are written.
      'retry_max_delay: must be >= retry_base_delay (5000)',
    ])
    assert.equal(h.subscribers, 0)
    assert.equal(h.commands.size, 0)
    assert.deepEqual(await h.registry.getMetricsAsJSON(), [], 'no metric registered')
    assert.deepEqual(await h.check(check, {}), [], 'a good section has no issue')
  })

  it('resolves bare package names from the config folder, and paths against it', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'push-config-'))
    const pkg = path.join(dir, 'node_modules', 'push-filter')
    mkdirSync(pkg, { recursive: true })
    writeFileSync(path.join(pkg, 'package.json'), JSON.stringify({ name: 'push-filter', type: 'module', exports: './index.js' }))
    writeFileSync(path.join(pkg, 'index.js'), 'export const shouldMakeReq = () => true\n')
    writeFileSync(path.join(dir, 'local.mjs'), 'export const shouldMakeReq = () => true\n')
    const h = fakeHost({ configDir: dir })
    await h.start(createEventPusherHttp, { handlers: [{ callback_module: 'push-filter' }, { callback_module: 'local.mjs'.replace(/^/, './') }] })
    send(h)
    await sink.waitFor(2)
  })
})

describe('metrics', () => {
  it('registers once per registry: two vhosts, stop/start and a reloaded instance share the series', async () => {
    const registry = new Registry()
    const a = fakeHost({ host: 'a.test', registry })
    const b = fakeHost({ host: 'b.test', registry })
    await a.start(createEventPusherHttp, {})
    await b.start(createEventPusherHttp, { handlers: [{ path: '/x' }, { path: '/y' }] })
    send(a)
    await sink.waitFor(1)
    await eventually(
      () => hostCounts(registry, 'a.test'),
      (c) => assert.equal(c.sent, 1),
    )
    await a.stop()
    await a.start(createEventPusherHttp, {})
    await a.stop()
    await a.start(createEventPusherHttp, { path: '/reloaded' })
    assert.equal((await hostCounts(registry, 'a.test')).sent, 1, 'counters survive stop/start')
    assert.equal(globalRegistry.getSingleMetric('mod_http_notifications_sent_total'), undefined, 'never the global registry')
  })

  it("has every vhost's series from start, at 0", async () => {
    const registry = new Registry()
    const a = fakeHost({ host: 'a.test', registry })
    const b = fakeHost({ host: 'b.test', registry })
    await a.start(createEventPusherHttp, {})
    await b.start(createEventPusherHttp, { handlers: [{ path: '/x' }, { path: '/y', name: 'audit' }] })
    const text = await registry.metrics()
    for (const host of ['a.test', 'b.test']) {
      for (const name of ['accepted_total', 'recovered_total', 'sent_total', 'retries_total', 'response_time_seconds_count', 'response_time_seconds_sum']) {
        assert.match(text, new RegExp(`^mod_http_notifications_${name}\\{host="${host}"\\} 0$`, 'm'), `${name} ${host}`)
      }
      for (const reason of REASONS) {
        assert.match(text, new RegExp(`^mod_http_notifications_failed_total\\{host="${host}",reason="${reason}"\\} 0$`, 'm'), `${reason} ${host}`)
      }
      assert.match(text, new RegExp(`^mod_http_notifications_breaker_state\\{host="${host}",pool="http_pool"\\} 0$`, 'm'))
    }
    assert.match(text, /^mod_http_notifications_queue_depth\{host="a.test",handler="http_pool"\} 0$/m)
    assert.match(text, /^mod_http_notifications_queue_depth\{host="b.test",handler="http_pool\/x"\} 0$/m)
    assert.match(text, /^mod_http_notifications_queue_depth\{host="b.test",handler="audit"\} 0$/m)
    for (const name of ['pending', 'oldest_pending_seconds']) {
      assert.match(text, new RegExp(`^mod_http_notifications_${name}\\{host="a.test",handler="http_pool"\\} 0$`, 'm'), name)
      assert.match(text, new RegExp(`^mod_http_notifications_${name}\\{host="b.test",handler="audit"\\} 0$`, 'm'), name)
    }
  })
})

describe('status command', () => {
  it('reports handlers, pools, counts and response time percentiles', async () => {
    const h = fakeHost({ pools: { http_pool: { server: sink.url.replace('http://', 'http://user:secret@'), pool_size: 7 } } })
    await h.start(createEventPusherHttp, { path: '/n', max_queue: 9 })
    for (let i = 0; i < 3; i++) send(h)
    await eventually(
      () => hostCounts(h.registry, h.host),
      (c) => assert.equal(c.sent, 3),
    )
    const status = await h.command('status')
    assert.deepEqual(JSON.parse(JSON.stringify(status)), status, 'JSON-able')
    assert.equal(status.host, 'a.test')
    assert.equal(status.accepting, true)
    assert.deepEqual(status.outbox, { backend: 'sqlite', location: path.join(h.dataDir, 'outbox.sqlite') })
    assert.deepEqual(status.handlers, [
      { name: 'http_pool/n', pool: 'http_pool', url: `${sink.url}/n`, pending: 0, queue_depth: 0, max_queue: 9, dead_letters: 0, in_flight: 0 },
    ])
    assert.deepEqual(status.orphans, [])
    assert.deepEqual(status.pools, [{ name: 'http_pool', breaker: 'closed', in_flight: 0, pool_size: 7 }])
    assert.deepEqual(
      [status.accepted, status.recovered, status.sent, status.failed.total, status.failed.by_reason.status, status.pending, status.retries],
      [3, 0, 3, 0, 0, 0, 0],
    )
    assert.equal(status.response_time.count, 3)
    assert.ok(status.response_time.sum > 0)
    assert.ok(status.response_time.p50 > 0 && status.response_time.p50 <= status.response_time.p99)
    assert.ok(!JSON.stringify(h.logs.map((l) => l.obj)).includes('secret'), 'credentials never logged')
  })

  it('reports max_queue as each outbox defaults it, and the memory outbox as such', async () => {
    const h = fakeHost()
    await h.start(createEventPusherHttp, { handlers: [{ name: 'default' }, { name: 'set', max_queue: 5 }] })
    assert.deepEqual(
      (await h.command('status')).handlers.map((x: { max_queue: number }) => x.max_queue),
      [1_000_000, 5],
    )
    await h.stop()
    await h.start(createEventPusherHttp, { outbox: 'memory' })
    const status = await h.command('status')
    assert.deepEqual([status.outbox.backend, status.handlers[0].max_queue], ['memory', 10_000])
  })
})
