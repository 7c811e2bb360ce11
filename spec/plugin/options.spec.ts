import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { describe, it } from 'node:test'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { ConfigError } from '../../lib/errors.js'
import { METRIC_HELP } from '../../lib/plugin/metrics.js'
import { handlerSpecs, type EventPusherHttpOptions } from '../../lib/plugin/options.js'
import { manifest, validateOptions } from '../helpers/fake-host.js'

const root = fileURLToPath(new URL('../../', import.meta.url))
const specs = (raw: Record<string, unknown>) => handlerSpecs(validateOptions(raw) as EventPusherHttpOptions)
const strip = (list: ReturnType<typeof specs>) => list.map(({ origins: _o, ...rest }) => rest)

describe('options schema (plugin.json)', () => {
  it('applies every default to an empty section', () => {
    assert.deepEqual(validateOptions({ enabled: true }), {
      pool_name: 'http_pool',
      path: '',
      max_queue: 10000,
      drain_timeout: 5000,
      breaker: { error_threshold_percentage: 50, volume_threshold: 10, reset_timeout: 10000 },
    })
  })

  it('rejects unknown keys and out-of-bounds values, with the key', () => {
    assert.throws(() => validateOptions({ pool: 'x' }), (e: ConfigError) => e.reason.includes('additional properties'))
    assert.throws(() => validateOptions({ max_queue: 0 }), (e: ConfigError) => e.path === 'max_queue')
    assert.throws(() => validateOptions({ breaker: { reset_timeout: 0 } }), (e: ConfigError) => e.path === 'breaker.reset_timeout')
    assert.throws(() => validateOptions({ breaker: { error_threshold_percentage: 101 } }), (e: ConfigError) => e.path === 'breaker.error_threshold_percentage')
    assert.throws(() => validateOptions({ handlers: [] }), (e: ConfigError) => e.path === 'handlers')
    assert.throws(() => validateOptions({ handlers: [{ drain_timeout: 1 }] }), (e: ConfigError) => e.path === 'handlers.0')
  })

  it('lists the metrics the code registers, with the same help', () => {
    const byName = Object.fromEntries(manifest.metrics.map((m: { name: string }) => [m.name, m]))
    const expected = {
      mod_http_notifications_accepted_total: ['counter', ['host'], METRIC_HELP.accepted],
      mod_http_notifications_sent_total: ['counter', ['host'], METRIC_HELP.sent],
      mod_http_notifications_failed_total: ['counter', ['host', 'reason'], METRIC_HELP.failed],
      mod_http_notifications_response_time_seconds: ['histogram', ['host'], METRIC_HELP.responseTime],
      mod_http_notifications_queue_depth: ['gauge', ['host', 'handler'], METRIC_HELP.queueDepth],
      mod_http_notifications_breaker_state: ['gauge', ['host', 'pool'], METRIC_HELP.breakerState],
    }
    assert.deepEqual(Object.keys(byName).sort(), Object.keys(expected).sort())
    for (const [name, [type, labels, help]] of Object.entries(expected)) {
      assert.deepEqual([byName[name].type, byName[name].labels, byName[name].help], [type, labels, help], name)
    }
    assert.deepEqual(manifest.hooks, ['user_send_packet'])
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
    const list = specs({ path: '/top', callback_module: './f.mjs', max_queue: 7, handlers: [{ pool_name: 'a' }, { path: '/two', callback_module: '', max_queue: 3 }] })
    assert.deepEqual(strip(list), [
      { name: 'a/top', pool_name: 'a', path: '/top', callback_module: './f.mjs', max_queue: 7 },
      { name: 'http_pool/two', pool_name: 'http_pool', path: '/two', callback_module: undefined, max_queue: 3 },
    ])
  })

  it('records where each value was written, for config errors', () => {
    const [one, two] = specs({ callback_module: './f.mjs', handlers: [{ pool_name: 'a' }, { callback_module: './g.mjs', path: 'x' }] })
    assert.deepEqual(one.origins, { pool_name: 'handlers.0.pool_name', callback_module: 'callback_module', path: 'path' })
    assert.deepEqual(two.origins, { pool_name: 'pool_name', callback_module: 'handlers.1.callback_module', path: 'handlers.1.path' })
    assert.deepEqual(specs({ pool_name: 'p' })[0].origins, { pool_name: 'pool_name', callback_module: 'callback_module', path: 'path' })
  })

  it('names handlers uniquely: explicit names, else pool + path, suffixed when repeated', () => {
    const names = specs({ handlers: [{ path: '/n' }, { path: '/n', callback_module: './f.mjs' }, { name: 'audit' }, { path: 'm' }] }).map((s) => s.name)
    assert.deepEqual(names, ['http_pool/n#0', 'http_pool/n#1', 'audit', 'http_pool/m'])
    assert.deepEqual(specs({}).map((s) => s.name), ['http_pool'])
  })

  it('rejects duplicate explicit names', () => {
    assert.throws(() => specs({ handlers: [{ name: 'x' }, { name: 'x' }] }), (e: ConfigError) => e instanceof ConfigError && e.path === 'handlers.1.name')
  })
})
