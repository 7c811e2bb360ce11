// outbox = "jetstream", deliver and the jetstream section: what the schema refuses, and the
// plugin's check through the fake host: each issue at its option, with a reason that names what
// it is measured against.
import assert from 'node:assert/strict'
import { writeFileSync } from 'node:fs'
import path from 'node:path'
import { describe, it } from 'node:test'
import type { PluginRole } from '../../lib/contract.js'
import type { ConfigError } from '../../lib/errors.js'
import { check } from '../../lib/plugin/index.js'
import type { EventPusherHttpOptions } from '../../lib/plugin/options.js'
import { prepareHandlers } from '../../lib/plugin/prepare.js'
import { FakeHost, validateOptions } from '../helpers/fake-host.js'
import { tempDir } from '../helpers/temp-dir.js'

const SERVERS = ['nats://127.0.0.1:4222']
const SVIX = [5, 300, 1800, 7200, 18000, 36000, 36000] // adds up to 99,305 s

function fakeHost(opts: { role?: PluginRole; configDir?: string } = {}): FakeHost {
  return new FakeHost({
    ...opts,
    pools: { fast: { server: 'http://127.0.0.1:1', request_timeout: 2000 }, slow: { server: 'http://127.0.0.1:2', request_timeout: 5000 } },
  })
}

/** Each issue as `path: reason`, in the order check() found them. */
async function issues(raw: Record<string, unknown>, host = fakeHost()): Promise<string[]> {
  return (await host.check(check, { pool_name: 'fast', ...raw })).map((i) => `${i.path}: ${i.reason}`)
}

const jetstream = (section: Record<string, unknown> = {}, rest: Record<string, unknown> = {}) => ({
  outbox: 'jetstream',
  jetstream: { servers: SERVERS, ...section },
  ...rest,
})

describe('schema: deliver and jetstream (plugin.json)', () => {
  it('takes deliver and the jetstream section at the top level only, with their defaults and bounds', () => {
    const rejects = (raw: Record<string, unknown>, path: string) =>
      assert.throws(
        () => validateOptions(raw),
        (e: ConfigError) => e.path === path,
        `${JSON.stringify(raw)} at ${path}`,
      )
    rejects({ outbox: 'nats' }, 'outbox')
    rejects({ deliver: 'no' }, 'deliver')
    rejects({ jetstream: { servers: [] } }, 'jetstream.servers')
    rejects({ jetstream: { servers: ['http://127.0.0.1:4222'] } }, 'jetstream.servers.0')
    rejects({ jetstream: { servers: ['127.0.0.1:4222'] } }, 'jetstream.servers.0')
    rejects({ jetstream: { servers: ['nats://a:4222', 'nats://a:4222'] } }, 'jetstream.servers')
    for (const stream of ['', 'A.B', 'A*', 'A>', 'A B', 'A/B', 'A\\B', 'A\tB', 'S'.repeat(33)]) rejects({ jetstream: { stream } }, 'jetstream.stream')
    rejects({ jetstream: { replicas: 0 } }, 'jetstream.replicas')
    rejects({ jetstream: { replicas: 6 } }, 'jetstream.replicas')
    rejects({ jetstream: { ack_wait: 0 } }, 'jetstream.ack_wait')
    rejects({ jetstream: { ack_wait: 1.5 } }, 'jetstream.ack_wait')
    rejects({ jetstream: { max_age: 0 } }, 'jetstream.max_age')
    rejects({ jetstream: { publish_buffer: 0 } }, 'jetstream.publish_buffer')
    rejects({ jetstream: { password: '' } }, 'jetstream.password')
    rejects({ jetstream: { tls: { verify: 'no' } } }, 'jetstream.tls.verify')
    rejects({ jetstream: { tls: { cafile: 'ca.pem' } } }, 'jetstream.tls')
    rejects({ jetstream: { server: ['nats://a:4222'] } }, 'jetstream')
    rejects({ handlers: [{ jetstream: {} }] }, 'handlers.0')
    rejects({ handlers: [{ deliver: false }] }, 'handlers.0')
    assert.deepEqual(
      validateOptions({
        outbox: 'jetstream',
        deliver: false,
        jetstream: { servers: ['nats://u:p@10.0.0.1:4222', 'tls://[::1]:4222/'], stream: 'xmppd-prod_1', user: 'u', password: 'p', tls: { ca_file: 'ca.pem' } },
      }),
      {
        ...(validateOptions({}) as object),
        outbox: 'jetstream',
        deliver: false,
        jetstream: {
          servers: ['nats://u:p@10.0.0.1:4222', 'tls://[::1]:4222/'],
          stream: 'xmppd-prod_1',
          replicas: 1,
          ack_wait: 60,
          max_age: 604800,
          publish_buffer: 10000,
          user: 'u',
          password: 'p',
          tls: { ca_file: 'ca.pem', verify: true },
        },
      },
    )
  })
})

describe('check: outbox = "jetstream"', () => {
  it('passes a section with servers and the defaults', async () => {
    assert.deepEqual(await issues(jetstream()), [])
    assert.deepEqual(await issues(jetstream({ user: 'push', password: 'pw', tls: { verify: false } }, { deliver: false })), [])
  })

  it('needs jetstream.servers', async () => {
    assert.deepEqual(await issues({ outbox: 'jetstream' }), ['jetstream.servers: required with outbox = "jetstream"'])
  })

  it('takes user with password, or a token, not both', async () => {
    assert.deepEqual(await issues(jetstream({ user: 'push' })), ['jetstream.password: required with jetstream.user'])
    assert.deepEqual(await issues(jetstream({ password: 'pw' })), ['jetstream.user: required with jetstream.password'])
    assert.deepEqual(await issues(jetstream({ token: 't', user: 'push', password: 'pw' })), [
      'jetstream.token: set either token or user and password, not both',
    ])
    assert.deepEqual(await issues(jetstream({ token: 't' })), [])
  })

  it('needs ack_wait longer than the request_timeout of every pool the handlers use', async () => {
    const twoPools = { handlers: [{ pool_name: 'fast' }, { pool_name: 'slow' }, { pool_name: 'slow', path: '/other' }] }
    assert.deepEqual(await issues(jetstream({ ack_wait: 5 }, twoPools)), [
      'jetstream.ack_wait: 5 s must exceed the request_timeout of pool "slow" (5000 ms): JetStream would hand a notification to another node while its request is in flight',
    ])
    assert.deepEqual(await issues(jetstream({ ack_wait: 2 }, twoPools)), [
      'jetstream.ack_wait: 2 s must exceed the request_timeout of pool "fast" (2000 ms): JetStream would hand a notification to another node while its request is in flight',
      'jetstream.ack_wait: 2 s must exceed the request_timeout of pool "slow" (5000 ms): JetStream would hand a notification to another node while its request is in flight',
    ])
    assert.deepEqual(await issues(jetstream({ ack_wait: 6 }, twoPools)), [])
    // A pool no handler uses does not count.
    assert.deepEqual(await issues(jetstream({ ack_wait: 3 })), [])
  })

  it('needs max_age to outlast each handler: its retry_schedule plus max_pending_age', async () => {
    const handlers = { max_pending_age: 86400, handlers: [{ name: 'svix', retry_schedule: SVIX }, { name: 'once' }] }
    assert.deepEqual(await issues(jetstream({ max_age: 99305 + 86400 }, handlers)), [
      'jetstream.max_age: 185705 s must outlast handler "svix": its planned retries (99305 s) plus max_pending_age (86400 s): more than 185705 s',
    ])
    assert.deepEqual(await issues(jetstream({ max_age: 99305 + 86400 + 1 }, handlers)), [])
    // retries beyond the schedule repeat its last entry.
    assert.deepEqual(await issues(jetstream({ max_age: 99305 + 86400 + 1 }, { ...handlers, retries: 8 })), [
      'jetstream.max_age: 185706 s must outlast handler "svix": its planned retries (135305 s) plus max_pending_age (86400 s): more than 221705 s',
    ])
  })

  it('without retry_schedule counts the backoff waits at their cap, up to retry_max_delay', async () => {
    // 1 + 2 + 4 + 8 + 16 + 32 + 60 × 4 = 303 s of retries.
    const backoff = { max_pending_age: 100, retries: 10, retry_base_delay: 1000, retry_max_delay: 60000 }
    assert.deepEqual(await issues(jetstream({ max_age: 403 }, backoff)), [
      'jetstream.max_age: 403 s must outlast handler "fast": its planned retries (303 s) plus max_pending_age (100 s): more than 403 s',
    ])
    assert.deepEqual(await issues(jetstream({ max_age: 404 }, backoff)), [])
    assert.deepEqual(await issues(jetstream({ max_age: 100 }, { max_pending_age: 100 })), [
      'jetstream.max_age: 100 s must outlast handler "fast": its planned retries (0 s) plus max_pending_age (100 s): more than 100 s',
    ])
  })

  it('reads tls.ca_file relative to the config folder, and hands its contents to start', async () => {
    const configDir = tempDir('xmppd-js-config-')
    writeFileSync(path.join(configDir, 'nats-ca.pem'), 'not checked here: the client parses it\n')
    const host = fakeHost({ configDir })
    assert.deepEqual(await issues(jetstream({ tls: { ca_file: 'nats-ca.pem' } }), host), [])
    const raw = { pool_name: 'fast', ...jetstream({ tls: { ca_file: 'nats-ca.pem' } }) }
    const ctx = { host: host.host, options: validateOptions(raw), httpPools: host.httpPools, configDir, dataDir: host.dataDir, role: host.role }
    const { jetstreamCa } = await prepareHandlers(ctx, ctx.options as EventPusherHttpOptions)
    assert.equal(jetstreamCa?.toString(), 'not checked here: the client parses it\n')
    const [missing] = await issues(jetstream({ tls: { ca_file: 'missing-ca.pem' } }), host)
    assert.match(missing, new RegExp(`^jetstream\\.tls\\.ca_file: cannot read ${path.join(configDir, 'missing-ca.pem')}: ENOENT`))
  })

  it('reports every issue at once', async () => {
    const all = await issues({
      outbox: 'jetstream',
      max_pending_age: 3600,
      jetstream: { ack_wait: 1, max_age: 3600, user: 'push', tls: { ca_file: '/nonexistent/ca.pem' } },
    })
    assert.deepEqual(
      all.map((i) => i.slice(0, i.indexOf(':'))),
      ['jetstream.servers', 'jetstream.password', 'jetstream.ack_wait', 'jetstream.max_age', 'jetstream.tls.ca_file'],
    )
  })
})

describe('check: deliver and the role', () => {
  it('refuses deliver = false without the shared outbox', async () => {
    for (const outbox of ['sqlite', 'memory']) {
      assert.deepEqual(await issues({ outbox, deliver: false }), [
        `deliver: false (publish only) needs outbox = "jetstream": with "${outbox}" nothing else would deliver this node's notifications`,
      ])
    }
  })

  it('refuses xmppd deliver (role "deliver") without the shared outbox', async () => {
    const worker = fakeHost({ role: 'deliver' })
    const reason = 'outbox: xmppd deliver needs the shared outbox (jetstream): a sqlite or memory outbox only holds what this process accepted'
    assert.deepEqual(await issues({}, worker), [reason])
    assert.deepEqual(await issues({ outbox: 'memory' }, worker), [reason])
    assert.deepEqual(await issues(jetstream(), worker), [])
    assert.deepEqual(await issues({}, fakeHost({ role: 'full' })), [])
  })

  it('ignores the jetstream section with another outbox', async () => {
    assert.deepEqual(await issues({ jetstream: { ack_wait: 1, max_age: 1, user: 'push', tls: { ca_file: '/nonexistent/ca.pem' } } }), [])
  })
})
