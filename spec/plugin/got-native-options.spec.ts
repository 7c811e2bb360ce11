// The load-time fix of got's native request options builds exactly what got's own method builds.
import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import http from 'node:http'
import https from 'node:https'
import { Options } from 'got'
import { fastNativeRequestOptions, installFastNativeOptions, originalCreateNativeRequestOptions } from '../../lib/plugin/got-native-options.js'

const agent = { http: new http.Agent({ keepAlive: true }), https: new https.Agent({ keepAlive: true }) }
const cases: Array<[string, string, Record<string, unknown>]> = [
  ['plain http POST', 'http://127.0.0.1:8000/webservice/notifications', { method: 'POST', body: 'a=b', headers: { 'content-type': 'application/x-www-form-urlencoded' } }],
  ['with agents and a timeout', 'http://example.test/x', { method: 'POST', body: 'x', agent, timeout: { request: 2000 }, retry: { limit: 0 } }],
  ['https with a CA, no verification, a server name', 'https://example.test/x', { method: 'POST', agent, https: { certificateAuthority: 'PEM', rejectUnauthorized: false, serverName: 'e.test', minVersion: 'TLSv1.2' } }],
  ['dns and address options', 'http://example.test/', { method: 'GET', dnsLookupIpVersion: 4, localAddress: '127.0.0.1', maxHeaderSize: 4096, setHost: false }],
  ['a custom dns lookup', 'http://example.test/', { dnsLookup: () => undefined }],
]

describe('got native request options', () => {
  for (const [name, url, opts] of cases) {
    it(`match got's own for ${name}`, () => {
      const options = new Options(url, opts as never)
      const ours = fastNativeRequestOptions.call(options)
      const gots = originalCreateNativeRequestOptions.call(options)
      assert.deepEqual(ours, gots)
      assert.deepEqual(Object.keys(ours).sort(), Object.keys(gots).sort())
    })
  }

  it('leave HTTP/2 and unix sockets to got', () => {
    const h2 = new Options('https://example.test/', { http2: true })
    assert.deepEqual(fastNativeRequestOptions.call(h2), originalCreateNativeRequestOptions.call(h2))
    const unix = new Options('http://unix:/tmp/x.sock:/path', { enableUnixSockets: true })
    assert.deepEqual(fastNativeRequestOptions.call(unix), originalCreateNativeRequestOptions.call(unix))
  })

  it('install on the got version it was checked against, once', () => {
    assert.equal(installFastNativeOptions(), true)
    assert.equal(installFastNativeOptions(), true)
    assert.equal(Options.prototype.createNativeRequestOptions, fastNativeRequestOptions)
  })
})
