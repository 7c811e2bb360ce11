import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { describe, it } from 'node:test'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { ConfigError } from '../../lib/errors.js'
import { DEFAULT_MAX_QUEUE } from '../../lib/plugin/instance.js'
import { METRIC_HELP } from '../../lib/plugin/metrics.js'
import { handlerSpecs, type EventPusherHttpOptions } from '../../lib/plugin/options.js'
import { manifest, validateOptions } from '../helpers/fake-host.js'

const root = fileURLToPath(new URL('../../', import.meta.url))
const normalise = (raw: Record<string, unknown>) => handlerSpecs(validateOptions(raw) as EventPusherHttpOptions)
const specs = (raw: Record<string, unknown>) => normalise(raw).specs
const strip = (list: ReturnType<typeof specs>) =>
  list.map(({ name, pool_name, path, callback_module, max_queue }) => ({ name, pool_name, path, callback_module, max_queue }))
const where = (spec: ReturnType<typeof specs>[number]) => {
  const { pool_name, callback_module, path } = spec.origins
  return { pool_name, callback_module, path }
}

describe('options schema (plugin.json)', () => {
  it('applies every default to an empty section (max_queue follows the outbox: instance.ts)', () => {
    assert.deepEqual(validateOptions({ enabled: true }), {
      pool_name: 'http_pool',
      path: '',
      drain_timeout: 5000,
      outbox: 'sqlite',
      deliver: true,
      jetstream: { stream: 'XMPPD_NOTIFICATIONS', replicas: 1, ack_wait: 60, max_age: 604800, publish_buffer: 10000, tls: { verify: true } },
      max_pending_age: 86400,
      dead_letter_retention: 604800,
      breaker: { error_threshold_percentage: 50, volume_threshold: 10, rolling_window: 2000, reset_timeout: 1000 },
      format: 'form',
      retries: 0,
      retry_base_delay: 1000,
      retry_max_delay: 60000,
      types: ['chat'],
      events: ['message'],
      only_offline_recipient: false,
      body_required: true,
    })
    assert.deepEqual(DEFAULT_MAX_QUEUE, { sqlite: 1_000_000, memory: 10_000, jetstream: 1_000_000 })
  })

  it('rejects unknown keys and out-of-bounds values, with the key', () => {
    assert.throws(
      () => validateOptions({ pool: 'x' }),
      (e: ConfigError) => e.reason.includes('additional properties'),
    )
    assert.throws(
      () => validateOptions({ max_queue: 0 }),
      (e: ConfigError) => e.path === 'max_queue',
    )
    assert.throws(
      () => validateOptions({ breaker: { reset_timeout: 0 } }),
      (e: ConfigError) => e.path === 'breaker.reset_timeout',
    )
    assert.throws(
      () => validateOptions({ breaker: { error_threshold_percentage: 101 } }),
      (e: ConfigError) => e.path === 'breaker.error_threshold_percentage',
    )
    assert.throws(
      () => validateOptions({ handlers: [] }),
      (e: ConfigError) => e.path === 'handlers',
    )
    assert.throws(
      () => validateOptions({ handlers: [{ drain_timeout: 1 }] }),
      (e: ConfigError) => e.path === 'handlers.0',
    )
  })

  it('checks the options of issue 6 at the top level and per handler', () => {
    const rejects = (raw: Record<string, unknown>, path: string) =>
      assert.throws(
        () => validateOptions(raw),
        (e: ConfigError) => e.path === path,
        `${JSON.stringify(raw)} at ${path}`,
      )
    rejects({ format: 'xml' }, 'format')
    rejects({ types: ['error'] }, 'types.0')
    rejects({ types: [] }, 'types')
    rejects({ types: ['chat', 'chat'] }, 'types')
    rejects({ events: ['iq'] }, 'events.0')
    rejects({ success_codes: [302] }, 'success_codes.0')
    rejects({ success_codes: [] }, 'success_codes')
    rejects({ signing_secrets: ['abc'] }, 'signing_secrets.0')
    rejects({ signing_secrets: ['whsec_not base64!'] }, 'signing_secrets.0')
    rejects({ headers: { 'bad name': 'x' } }, 'headers')
    rejects({ headers: { 'x-a': 'two\r\nlines' } }, 'headers.x-a')
    rejects({ headers: { 'x-a': 1 } }, 'headers.x-a')
    rejects({ recipients: ['bob'] }, 'recipients.0')
    rejects({ recipients: ['bob@a.test/phone'] }, 'recipients.0')
    rejects({ sender_hosts: ['alice@a.test'] }, 'sender_hosts.0')
    rejects({ retries: 1001 }, 'retries')
    rejects({ retries: -1 }, 'retries')
    rejects({ retry_base_delay: 0 }, 'retry_base_delay')
    rejects({ retry_schedule: [] }, 'retry_schedule')
    rejects({ retry_schedule: [5, -1] }, 'retry_schedule.1')
    rejects({ retry_schedule: [604801] }, 'retry_schedule.0')
    rejects({ outbox: 'disk' }, 'outbox')
    rejects({ max_pending_age: 0 }, 'max_pending_age')
    rejects({ handlers: [{ max_queue: 0 }] }, 'handlers.0.max_queue')
    rejects({ only_offline_recipient: 'yes' }, 'only_offline_recipient')
    rejects({ handlers: [{ types: ['chat', 'x'] }] }, 'handlers.0.types.1')
    rejects({ handlers: [{}, { format: 'xml' }] }, 'handlers.1.format')
    assert.doesNotThrow(() =>
      validateOptions({
        format: 'json',
        headers: { Authorization: 'Bearer t0k3n', 'X-Api-Key': 'k' },
        signing_secrets: ['whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw', 'whsec_c2Vjb25k'],
        retries: 3,
        retry_base_delay: 10,
        retry_max_delay: 100,
        types: ['chat', 'groupchat', 'normal', 'headline'],
        events: ['message', 'presence'],
        only_offline_recipient: true,
        body_required: false,
        sender_hosts: ['a.test'],
        recipients: ['bob@a.test'],
        success_codes: [200, 204],
        handlers: [{ format: 'form', signing_secrets: [], types: ['groupchat'] }],
      }),
    )
    // The README's production advice fits: Svix's schedule, and a day between retries at most.
    assert.doesNotThrow(() =>
      validateOptions({
        outbox: 'memory',
        max_pending_age: 7 * 86400,
        retries: 1000,
        retry_max_delay: 86_400_000,
        retry_schedule: [5, 300, 1800, 7200, 18000, 36000, 36000],
        handlers: [{ max_queue: 1_000_000, retry_schedule: [0.5] }],
      }),
    )
  })

  it('lists the metrics the code registers, with the same help', () => {
    const byName = Object.fromEntries(manifest.metrics.map((m: { name: string }) => [m.name, m]))
    const expected = {
      mod_http_notifications_accepted_total: ['counter', ['host'], METRIC_HELP.accepted],
      mod_http_notifications_sent_total: ['counter', ['host'], METRIC_HELP.sent],
      mod_http_notifications_failed_total: ['counter', ['host', 'reason'], METRIC_HELP.failed],
      mod_http_notifications_response_time_seconds: ['histogram', ['host'], METRIC_HELP.responseTime],
      mod_http_notifications_retries_total: ['counter', ['host'], METRIC_HELP.retries],
      mod_http_notifications_queue_depth: ['gauge', ['host', 'handler'], METRIC_HELP.queueDepth],
      mod_http_notifications_breaker_state: ['gauge', ['host', 'pool'], METRIC_HELP.breakerState],
      mod_http_notifications_pending: ['gauge', ['host', 'handler'], METRIC_HELP.pending],
      mod_http_notifications_oldest_pending_seconds: ['gauge', ['host', 'handler'], METRIC_HELP.oldestPending],
      mod_http_notifications_recovered_total: ['counter', ['host'], METRIC_HELP.recovered],
      mod_http_notifications_dead_letters: ['gauge', ['host', 'handler'], METRIC_HELP.deadLetters],
      mod_http_notifications_replayed_total: ['counter', ['host'], METRIC_HELP.replayed],
      mod_http_notifications_dead_letters_purged_total: ['counter', ['host'], METRIC_HELP.purged],
    }
    assert.deepEqual(Object.keys(byName).sort(), Object.keys(expected).sort())
    for (const [name, [type, labels, help]] of Object.entries(expected)) {
      assert.deepEqual([byName[name].type, byName[name].labels, byName[name].help], [type, labels, help], name)
    }
    assert.deepEqual(manifest.hooks, ['user_send_packet', 'offline_message', 'user_available', 'user_unavailable'])
    assert.equal(manifest.entry, 'dist/plugin/index.js')
  })

  it('has its committed TypeScript types up to date (scripts/gen-plugin-types.mjs)', async () => {
    const script = fileURLToPath(new URL('scripts/gen-plugin-types.mjs', `file://${root}`))
    await promisify(execFile)(process.execPath, [script, '--check'], { cwd: root })
    assert.match(readFileSync(`${root}lib/plugin/options.generated.ts`, 'utf8'), /export type EventPusherHttpOptions =/)
  })
})

describe('handler normalisation', () => {
  it('turns the single-handler form into one handler', () => {
    assert.deepEqual(strip(specs({ pool_name: 'p', path: '/n', callback_module: './f.mjs', max_queue: 5 })), [
      { name: 'p/n', pool_name: 'p', path: '/n', callback_module: './f.mjs', max_queue: 5 },
    ])
  })

  it('lets each handler inherit unspecified keys from the top level (defaults included)', () => {
    const list = specs({
      path: '/top',
      callback_module: './f.mjs',
      max_queue: 7,
      handlers: [{ pool_name: 'a' }, { path: '/two', callback_module: '', max_queue: 3 }],
    })
    assert.deepEqual(strip(list), [
      { name: 'a/top', pool_name: 'a', path: '/top', callback_module: './f.mjs', max_queue: 7 },
      { name: 'http_pool/two', pool_name: 'http_pool', path: '/two', callback_module: undefined, max_queue: 3 },
    ])
  })

  it('records where each value was written, for config errors', () => {
    const [one, two] = specs({ callback_module: './f.mjs', handlers: [{ pool_name: 'a' }, { callback_module: './g.mjs', path: 'x' }] })
    assert.deepEqual(where(one), { pool_name: 'handlers.0.pool_name', callback_module: 'callback_module', path: 'path' })
    assert.deepEqual(where(two), { pool_name: 'pool_name', callback_module: 'handlers.1.callback_module', path: 'handlers.1.path' })
    assert.deepEqual(where(specs({ pool_name: 'p' })[0]), { pool_name: 'pool_name', callback_module: 'callback_module', path: 'path' })
  })

  it('gives each handler the options of issue 6, defaults keeping the seed behaviour', () => {
    const [one] = specs({})
    assert.deepEqual(
      {
        format: one.format,
        headers: one.headers,
        signing_secrets: one.signing_secrets,
        retries: one.retries,
        types: one.types,
        events: one.events,
        only_offline_recipient: one.only_offline_recipient,
        body_required: one.body_required,
        sender_hosts: one.sender_hosts,
        recipients: one.recipients,
        success_codes: one.success_codes,
      },
      {
        format: 'form',
        headers: {},
        signing_secrets: [],
        retries: 0,
        types: ['chat'],
        events: ['message'],
        only_offline_recipient: false,
        body_required: true,
        sender_hosts: undefined,
        recipients: undefined,
        success_codes: undefined,
      },
    )
  })

  it('inherits the options of issue 6 from the top level; a handler value replaces it as a whole', () => {
    const [a, b] = specs({
      format: 'json',
      headers: { Authorization: 'Bearer top', 'X-Top': '1' },
      signing_secrets: ['whsec_dG9w'],
      retries: 2,
      types: ['chat', 'groupchat'],
      recipients: ['bob@a.test'],
      handlers: [
        {},
        { format: 'form', headers: { 'X-Own': '2' }, signing_secrets: [], retries: 0, types: ['headline'], events: ['presence'], success_codes: [204] },
      ],
    })
    assert.deepEqual(
      [a.format, a.headers, a.signing_secrets, a.retries, a.types, a.events, a.recipients, a.success_codes],
      ['json', { Authorization: 'Bearer top', 'X-Top': '1' }, ['whsec_dG9w'], 2, ['chat', 'groupchat'], ['message'], ['bob@a.test'], undefined],
    )
    assert.deepEqual(
      [b.format, b.headers, b.signing_secrets, b.retries, b.types, b.events, b.recipients, b.success_codes],
      ['form', { 'X-Own': '2' }, [], 0, ['headline'], ['presence'], ['bob@a.test'], [204]],
    )
    assert.equal(a.origins.headers, 'headers')
    assert.equal(b.origins.headers, 'handlers.1.headers')
    assert.equal(b.origins.signing_secrets, 'handlers.1.signing_secrets')
    assert.equal(b.origins.recipients, 'recipients')
  })

  it('names handlers uniquely: explicit names, else pool + path, suffixed when repeated', () => {
    const names = specs({ handlers: [{ path: '/n' }, { path: '/n', callback_module: './f.mjs' }, { name: 'audit' }, { path: 'm' }] }).map((s) => s.name)
    assert.deepEqual(names, ['http_pool/n#0', 'http_pool/n#1', 'audit', 'http_pool/m'])
    assert.deepEqual(
      specs({}).map((s) => s.name),
      ['http_pool'],
    )
  })

  it('reports every duplicate explicit name', () => {
    const { issues } = normalise({ handlers: [{ name: 'x' }, { name: 'x' }, { name: 'y' }, { name: 'x' }, { name: 'y' }] })
    assert.ok(issues.every((e) => e instanceof ConfigError))
    assert.deepEqual(
      issues.map((e) => e.message),
      ['handlers.1.name: duplicate handler name "x"', 'handlers.3.name: duplicate handler name "x"', 'handlers.4.name: duplicate handler name "y"'],
    )
    assert.deepEqual(normalise({ handlers: [{ name: 'x' }, { name: 'y' }] }).issues, [])
  })
})
