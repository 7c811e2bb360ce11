// got's native-options fast path: it builds exactly what got's own method builds, the pool uses it
// only on its own got instance's requests after a start-up self-check, falls back to got's method
// with a warning when the check finds a difference, and leaves got itself untouched.
import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import http from 'node:http'
import https from 'node:https'
import { got, Options } from 'got'
import { differingFields, fastNativeRequestOptions, selfCheck, type NativeOptions, type NativeOptionsBuilder } from '../../lib/plugin/got-native-options.js'
import { Pool } from '../../lib/plugin/pool.js'
import type { HttpPoolSettings } from '../../lib/contract.js'
import { recordingLogger, type LogLine } from '../helpers/fake-host.js'
import { startSink, type Sink } from '../helpers/sink.js'
import { testCert } from '../helpers/tls.js'

// Read before any pool exists: got's own method, as got defines it.
const gotsOwn = Options.prototype.createNativeRequestOptions
const gots = (options: Options) => gotsOwn.call(options) as NativeOptions

const agent = { http: new http.Agent({ keepAlive: true }), https: new https.Agent({ keepAlive: true }) }
const cases: Array<[string, string, Record<string, unknown>]> = [
  [
    'plain http POST',
    'http://127.0.0.1:8000/webservice/notifications',
    { method: 'POST', body: 'a=b', headers: { 'content-type': 'application/x-www-form-urlencoded' } },
  ],
  ['with agents and a timeout', 'http://example.test/x', { method: 'POST', body: 'x', agent, timeout: { request: 2000 }, retry: { limit: 0 } }],
  [
    'https with a CA, no verification, a server name',
    'https://example.test/x',
    { method: 'POST', agent, https: { certificateAuthority: 'PEM', rejectUnauthorized: false, serverName: 'e.test', minVersion: 'TLSv1.2' } },
  ],
  ['dns and address options', 'http://example.test/', { method: 'GET', dnsLookupIpVersion: 4, localAddress: '127.0.0.1', maxHeaderSize: 4096, setHost: false }],
  ['a custom dns lookup', 'http://example.test/', { dnsLookup: () => undefined }],
]

describe('got native request options: the fast builder', () => {
  for (const [name, url, opts] of cases) {
    it(`matches got's own field by field for ${name}`, () => {
      const options = new Options(url, opts as never)
      const ours = fastNativeRequestOptions.call(options)
      assert.deepEqual(differingFields(ours, gots(options)), [])
      assert.deepEqual(ours, gots(options))
      assert.deepEqual(Object.keys(ours).sort(), Object.keys(gots(options)).sort())
    })
  }

  it('leaves HTTP/2 and unix sockets to got', () => {
    const h2 = new Options('https://example.test/', { http2: true })
    assert.deepEqual(fastNativeRequestOptions.call(h2), gots(h2))
    const unix = new Options('http://unix:/tmp/x.sock:/path', { enableUnixSockets: true })
    assert.deepEqual(fastNativeRequestOptions.call(unix), gots(unix))
  })

  it('compares functions and agents by identity, other objects deeply, and missing keys', () => {
    const f = () => undefined
    assert.deepEqual(differingFields({ lookup: f, agent: agent.http, headers: { a: '1' } }, { lookup: f, agent: agent.http, headers: { a: '1' } }), [])
    assert.deepEqual(differingFields({ lookup: f, agent: agent.http }, { lookup: () => undefined, agent: new http.Agent() }), ['agent', 'lookup'])
    assert.deepEqual(differingFields({ headers: { a: '1' }, timeout: undefined }, { headers: { a: '2' } }), ['headers', 'timeout'])
  })

  it("self-checks against a pool-like got instance's real settings (https, a CA buffer, no verification)", () => {
    const ca = Buffer.from(testCert().cert)
    const client = got.extend({ agent, https: { rejectUnauthorized: false, certificateAuthority: ca }, headers: { 'user-agent': 'x' }, retry: { limit: 0 } })
    const probe = { url: 'https://127.0.0.1:1/webservice/probe', body: '{"a":1}', headers: { 'content-type': 'application/json' } }
    assert.deepEqual(selfCheck(client, probe, fastNativeRequestOptions), [])
    const otherAgent: NativeOptionsBuilder = function (this: Options) {
      return { ...fastNativeRequestOptions.call(this), agent: agent.http }
    }
    assert.deepEqual(selfCheck(client, probe, otherAgent), ['agent'])
    const throws: NativeOptionsBuilder = () => {
      throw new Error('not this shape')
    }
    assert.deepEqual(selfCheck(client, probe, throws), ['(threw)'])
  })
})

describe('got native request options: scoped to the pool', () => {
  const cert = testCert()
  let plain: Sink
  let secure: Sink
  const pools: Pool[] = []
  before(async () => {
    plain = await startSink()
    secure = await startSink({ tls: cert })
  })
  after(async () => {
    for (const p of pools) p.close()
    await plain.close()
    await secure.close()
  })

  function pool(server: string, tls: HttpPoolSettings['tls'], ca: Buffer | undefined, nativeOptions: NativeOptionsBuilder) {
    const logs: LogLine[] = []
    const settings: HttpPoolSettings = { name: 'http_pool', server, pool_size: 2, path_prefix: '/webservice', request_timeout: 2000, tls }
    const breaker = { error_threshold_percentage: 50, volume_threshold: 20, rolling_window: 2000, reset_timeout: 1000 }
    const p = new Pool(settings, { breaker, ca, log: recordingLogger(logs), onState: () => undefined, nativeOptions })
    pools.push(p)
    return { pool: p, warnings: () => logs.filter((l) => l.level === 'warn') }
  }

  /** The fast builder, counting its calls: one for the self-check, then one per request it builds. */
  function counted() {
    const counter = { calls: 0, build: undefined as unknown as NativeOptionsBuilder }
    counter.build = function (this: Options) {
      counter.calls++
      return fastNativeRequestOptions.call(this)
    }
    return counter
  }

  const variants: Array<[string, () => Sink, HttpPoolSettings['tls'], () => Buffer | undefined]> = [
    ['http', () => plain, { verify: true }, () => undefined],
    ['https with a CA and verification off', () => secure, { verify: false, cacertfile: 'ca.pem' }, () => Buffer.from(cert.cert)],
    ['https with a CA and verification on', () => secure, { verify: true, cacertfile: 'ca.pem' }, () => Buffer.from(cert.cert)],
  ]
  for (const [name, sink, tls, ca] of variants) {
    it(`passes the self-check and builds its own requests with the fast path: ${name}`, async () => {
      const fast = counted()
      const { pool: p, warnings } = pool(sink().url, tls, ca(), fast.build)
      assert.deepEqual(warnings(), [])
      assert.equal(fast.calls, 1)
      const before = sink().requests.length
      assert.equal(await p.send({ url: `${sink().url}/webservice/n`, body: 'a=1', headers: undefined }), 204)
      assert.equal(await p.send({ url: `${sink().url}/webservice/n`, body: '{}', headers: { 'content-type': 'application/json' } }), 204)
      assert.equal(fast.calls, 3)
      const seen = sink().requests.slice(before)
      assert.deepEqual(
        seen.map((r) => [r.method, r.url, r.body, r.headers['content-type']]),
        [
          ['POST', '/webservice/n', 'a=1', 'application/x-www-form-urlencoded'],
          ['POST', '/webservice/n', '{}', 'application/json'],
        ],
      )
    })
  }

  it("leaves got's prototype and every other got user in the process alone", async () => {
    const { pool: p } = pool(plain.url, { verify: true }, undefined, fastNativeRequestOptions)
    assert.equal(await p.send({ url: `${plain.url}/webservice/n`, body: 'a=1', headers: undefined }), 204)
    assert.equal(Options.prototype.createNativeRequestOptions, gotsOwn)
    assert.equal(Object.getOwnPropertyDescriptor(Options.prototype, 'createNativeRequestOptions')?.value, gotsOwn)
    // A plain got call elsewhere: its Options has no own method, so got builds with its own.
    let used: unknown
    let own: boolean | undefined
    const status = await got
      .post(`${plain.url}/elsewhere`, {
        body: 'b=2',
        hooks: {
          beforeRequest: [
            (options) => {
              used = options.createNativeRequestOptions
              own = Object.hasOwn(options, 'createNativeRequestOptions')
            },
          ],
        },
      })
      .then((r) => r.statusCode)
    assert.equal(status, 204)
    assert.equal(used, gotsOwn)
    assert.equal(own, false)
  })

  it("falls back to got's own method with a warning naming the differing fields, and still delivers", async () => {
    let calls = 0
    // Differs from got's in the method: were it used for a request, the sink would see PUT.
    const differing: NativeOptionsBuilder = function (this: Options) {
      calls++
      return { ...fastNativeRequestOptions.call(this), method: 'PUT' }
    }
    const { pool: p, warnings } = pool(secure.url, { verify: false, cacertfile: 'ca.pem' }, Buffer.from(cert.cert), differing)
    assert.deepEqual(
      warnings().map((l) => [l.obj.pool, l.obj.fields]),
      [['http_pool', ['method']]],
    )
    assert.match(warnings()[0]!.msg ?? '', /using got's own method/)
    const before = secure.requests.length
    assert.equal(await p.send({ url: `${secure.url}/webservice/n`, body: 'a=1', headers: undefined }), 204)
    assert.equal(calls, 1)
    assert.deepEqual(
      secure.requests.slice(before).map((r) => [r.method, r.body]),
      [['POST', 'a=1']],
    )
  })
})
