// The host's one reader of plugin metrics: values by the role plugin.json gives each series, read
// from the registry, so they are there on a vhost where the plugin stopped (or never ran); and
// the manifest check that keeps roles meaningful. The plugin runs for real (fake host, real sink).
import assert from 'node:assert/strict'
import { mkdtempSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { after, before, describe, it } from 'node:test'
import { Counter, Histogram, Registry } from 'prom-client'
import createEventPusherHttp from '../../lib/plugin/index.js'
import { builtinCatalog, loadManifest } from '../../lib/server/plugins/catalog.js'
import { MetricReader } from '../../lib/server/plugins/metric-reader.js'
import { METRIC_ROLES } from '../../lib/server/plugins/metric-roles.js'
import { pendingOf } from '../../lib/server/plugins/status.js'
import { FakeHost } from '../helpers/fake-host.js'
import { assertBalanced, eventually } from '../helpers/metrics.js'
import { closedPort, startSink, type Sink } from '../helpers/sink.js'
import { chat } from '../helpers/stanza.js'

const ID = 'mod_event_pusher_http'
let sink: Sink

before(async () => {
  sink = await startSink()
})
after(() => sink.close())

describe('MetricReader', () => {
  it('reads every series by its role, on a vhost where the plugin runs, has stopped, or never ran', async () => {
    const registry = new Registry()
    const a = new FakeHost({ host: 'a.test', registry, pools: { http_pool: { server: sink.url } } })
    const b = new FakeHost({ host: 'b.test', registry, pools: { http_pool: { server: `http://127.0.0.1:${await closedPort()}` } } })
    await a.start(createEventPusherHttp, { path: '/n' })
    await b.start(createEventPusherHttp, { path: '/n' })
    a.send(chat('alice@a.test/r', 'bob@a.test', 'one'))
    a.send(chat('alice@a.test/r', 'bob@a.test', 'two'))
    b.send(chat('bea@b.test/r', 'bo@b.test', 'nowhere'))
    await assertBalanced(registry, 'a.test')
    // b.test's endpoint refuses connections: not an attempt, so its notification waits, pending.
    await assertBalanced(registry, 'b.test', 2000, { pending: true })
    const reader = new MetricReader(registry, builtinCatalog())

    const running = await eventually(
      () => reader.read({ id: ID, host: 'a.test' }),
      (r) => assert.equal(r.sent?.total, 2),
    )
    // The plugin's own count (its typed handles) agrees with the host's reading.
    const own = await a.command('status')
    assert.equal(running.accepted?.total, own.accepted)
    assert.equal(running.response_time?.total, own.response_time.count)
    assert.equal(running.response_time?.sum, own.response_time.sum)
    assert.ok(running.response_time!.sum! > 0)
    assert.deepEqual(running.sent, { name: 'mod_http_notifications_sent_total', type: 'counter', total: 2 })
    assert.equal(running.failed?.total, 0)
    assert.deepEqual(Object.keys(running.failed?.by ?? {}).sort(), [
      'callback',
      'connection',
      'expired',
      'outbox_unavailable',
      'queue_full',
      'shutdown',
      'status',
      'timeout',
    ])
    assert.deepEqual(running.retries, { name: 'mod_http_notifications_retries_total', type: 'counter', total: 0 })
    assert.deepEqual(running.queue_depth?.by, { 'http_pool/n': 0 })
    assert.deepEqual(running.breaker_state?.by, { http_pool: 0 })
    assert.deepEqual(running.pending, { name: 'mod_http_notifications_pending', type: 'gauge', total: 0, by: { 'http_pool/n': 0 } })
    assert.deepEqual(running.oldest_pending?.by, { 'http_pool/n': 0 })
    assert.deepEqual(running.recovered, { name: 'mod_http_notifications_recovered_total', type: 'counter', total: 0 })

    const waiting = await reader.read({ id: ID, host: 'b.test' })
    assert.deepEqual(waiting.pending?.by, { 'http_pool/n': 1 })
    assert.equal(waiting.pending?.total, (await b.command('status')).pending, "the host's reading agrees with the plugin's own")
    assert.ok(waiting.oldest_pending!.by!['http_pool/n'] > 0, 'the oldest pending one has an age')
    assert.equal(waiting.failed?.total, 0, 'unreachable is not a failure')

    await b.stop()
    const stopped = await reader.read({ id: ID, host: 'b.test' })
    assert.equal(stopped.accepted?.total, 1, 'counters keep their totals')
    assert.equal(stopped.sent?.total, 0)
    assert.equal(stopped.failed?.total, 0, 'stopping fails nothing with the sqlite outbox')
    for (const role of ['queue_depth', 'pending', 'oldest_pending'] as const) {
      assert.deepEqual(stopped[role]?.by, {}, `a stopped instance has no ${role} gauge`)
      assert.equal(stopped[role]?.total, 0)
    }
    assert.deepEqual(stopped.breaker_state?.by, {})
    // What the status shows as pending: the gauge while it runs; once stopped, what the counters leave.
    assert.equal(pendingOf(waiting, true), 1)
    assert.equal(pendingOf(stopped, false), 1, 'accepted + recovered - sent - failed: kept in the outbox')
    assert.equal(pendingOf({}, false), null, 'a plugin that counts nothing')

    const never = await reader.read({ id: ID, host: 'c.test' })
    assert.deepEqual([never.accepted?.total, never.sent?.total, never.failed?.total, never.response_time?.total], [0, 0, 0, 0])
    await a.stop()
  })

  it('has nothing to read before the plugin registers its series, nor for a plugin it does not know', async () => {
    const reader = new MetricReader(new Registry(), builtinCatalog())
    assert.deepEqual(await reader.read({ id: ID, host: 'a.test' }), {})
    assert.deepEqual(await reader.read({ id: 'mod_other', host: 'a.test' }), {})
  })

  it('goes by the role plugin.json gives, whatever the series are called', async () => {
    const file = manifestFile([
      { name: 'zz_delivered', type: 'counter', role: 'sent', labels: ['host'] },
      { name: 'zz_outcomes', type: 'counter', role: 'failed', labels: ['host', 'why'] },
      { name: 'zz_took', type: 'histogram', role: 'response_time', labels: ['host'] },
      { name: 'zz_unsent_total', type: 'counter', labels: ['host'] },
    ])
    const entry = loadManifest(file)
    const registry = new Registry()
    new Counter({ name: 'zz_delivered', help: 'h', labelNames: ['host'], registers: [registry] }).inc({ host: 'a.test' }, 3)
    const outcomes = new Counter({ name: 'zz_outcomes', help: 'h', labelNames: ['host', 'why'], registers: [registry] })
    outcomes.inc({ host: 'a.test', why: 'late' }, 2)
    outcomes.inc({ host: 'a.test', why: 'lost' })
    outcomes.inc({ host: 'b.test', why: 'lost' }, 7)
    const took = new Histogram({ name: 'zz_took', help: 'h', labelNames: ['host'], buckets: [1], registers: [registry] })
    took.observe({ host: 'a.test' }, 0.5)
    took.observe({ host: 'a.test' }, 2)
    new Counter({ name: 'zz_unsent_total', help: 'h', labelNames: ['host'], registers: [registry] }).inc({ host: 'a.test' }, 99)

    const r = await new MetricReader(registry, new Map([[entry.manifest.id, entry]])).read({ id: entry.manifest.id, host: 'a.test' })
    assert.deepEqual(r, {
      sent: { name: 'zz_delivered', type: 'counter', total: 3 },
      failed: { name: 'zz_outcomes', type: 'counter', total: 3, by: { late: 2, lost: 1 } },
      response_time: { name: 'zz_took', type: 'histogram', total: 2, sum: 2.5 },
    })
  })
})

describe('plugin.json metrics', () => {
  it('gives every series of the built-in plugin a role from the vocabulary, each role once', () => {
    const metrics = builtinCatalog().get(ID)!.manifest.metrics!
    const roles = metrics.map((m) => m.role)
    assert.deepEqual(roles, [
      'accepted',
      'sent',
      'failed',
      'response_time',
      'retries',
      'queue_depth',
      'breaker_state',
      'pending',
      'oldest_pending',
      'recovered',
      'dead_letters',
      'replayed',
      'dead_letters_purged',
    ])
    for (const role of roles) assert.ok(METRIC_ROLES.includes(role!), role)
  })

  it('refuses a role outside the vocabulary, a role given twice, and a series without the host label, naming file and entry', () => {
    const refused = (metrics: unknown[], message: RegExp) => {
      const file = manifestFile(metrics)
      assert.throws(
        () => loadManifest(file),
        (err: Error) => err.message.startsWith(`${file}: metrics[`) && message.test(err.message),
      )
    }
    refused(
      [{ name: 'x_total', type: 'counter', role: 'delivered', labels: ['host'] }],
      /^\S+: metrics\[0\]\.role must be equal to one of the allowed values \(accepted, sent, failed, .*, dead_letters_purged\)$/,
    )
    refused(
      [
        { name: 'x_total', type: 'counter', role: 'sent', labels: ['host'] },
        { name: 'y_total', type: 'counter', role: 'sent', labels: ['host'] },
      ],
      /metrics\[1\]\.role: "sent" is already the role of another series$/,
    )
    refused([{ name: 'x_total', type: 'counter', role: 'sent', labels: ['vhost'] }], /metrics\[0\]\.labels: must include "host"$/)
  })
})

function manifestFile(metrics: unknown[]): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'xmppd-manifest-'))
  const file = path.join(dir, 'plugin.json')
  writeFileSync(file, JSON.stringify({ id: 'mod_test', version: '0.0.1', entry: 'index.js', hooks: [], metrics, options: { type: 'object' } }))
  return file
}
