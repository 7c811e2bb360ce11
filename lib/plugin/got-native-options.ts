// A fast path for got's per-request cost, scoped to the pool's own got instance. got@14 builds the
// options it hands to http.request with one object literal that spreads two objects and then sets
// 35 properties; V8 builds such a literal property by property in its slow path, about 35
// microseconds a request here: the largest single item in a CPU profile of the plugin's dispatch
// (see docs/performance.md). fastNativeRequestOptions builds the same object as a plain literal
// (about 0.3 us). It covers what this plugin uses (HTTP/1.1 over TCP); HTTP/2 and unix-socket URLs
// go to got's own method.
//
// Nothing of got's is replaced: a got `handlers` entry sets the method as an own property of each
// request's Options object, which only the pool's got instance creates. And it is only used after
// a self-check at pool start has found it builds exactly what got's own method builds for the
// pool's real settings; otherwise the pool keeps got's method and says why.
import { isDeepStrictEqual } from 'node:util'
import { checkServerIdentity } from 'node:tls'
import { Options, type Got, type HandlerFunction } from 'got'
import type { Logger } from '../contract.js'

export type NativeOptions = Record<string, unknown>
/** A replacement for Options#createNativeRequestOptions. */
export type NativeOptionsBuilder = (this: Options) => NativeOptions
type Internals = Record<string, any>

/** The same result as got's method, for HTTP/1.1 over TCP; got's own method for the rest. */
export function fastNativeRequestOptions(this: Options): NativeOptions {
  const self = this as unknown as { _internals: Internals; _unixOptions: unknown }
  const internals = self._internals
  // got's own method, read from its class (not the instance, which may carry this function).
  if (internals.http2 || self._unixOptions !== undefined) return Options.prototype.createNativeRequestOptions.call(this) as NativeOptions
  const https = internals.https
  const native: NativeOptions = {
    ALPNProtocols: https.alpnProtocols,
    ca: https.certificateAuthority,
    cert: https.certificate,
    key: https.key,
    passphrase: https.passphrase,
    pfx: https.pfx,
    rejectUnauthorized: https.rejectUnauthorized,
    checkServerIdentity: https.checkServerIdentity ?? checkServerIdentity,
    servername: https.serverName,
    ciphers: https.ciphers,
    honorCipherOrder: https.honorCipherOrder,
    minVersion: https.minVersion,
    maxVersion: https.maxVersion,
    sigalgs: https.signatureAlgorithms,
    sessionTimeout: https.tlsSessionLifetime,
    dhparam: https.dhparam,
    ecdhCurve: https.ecdhCurve,
    crl: https.certificateRevocationLists,
    secureOptions: https.secureOptions,
    lookup: internals.dnsLookup ?? internals.dnsCache?.lookup,
    family: internals.dnsLookupIpVersion,
    agent: internals.url?.protocol === 'https:' ? internals.agent.https : internals.agent.http,
    setHost: internals.setHost,
    method: internals.method,
    maxHeaderSize: internals.maxHeaderSize,
    localAddress: internals.localAddress,
    headers: internals.headers,
    createConnection: internals.createConnection,
    timeout: undefined,
    h2session: internals.h2session,
  }
  // got spreads the cache options first, so the properties above win over them.
  for (const key in internals.cacheOptions) if (!(key in native)) native[key] = internals.cacheOptions[key]
  return native
}

/**
 * The keys whose values differ, sorted. The same value (functions, agents, buffers by identity) is
 * equal; two distinct objects are compared deeply, since got builds some of them per call.
 */
export function differingFields(ours: NativeOptions, gots: NativeOptions): string[] {
  const keys = new Set([...Object.keys(ours), ...Object.keys(gots)])
  const same = (a: unknown, b: unknown) =>
    Object.is(a, b) || (typeof a === 'object' && a !== null && typeof b === 'object' && b !== null && isDeepStrictEqual(a, b))
  return [...keys].filter((k) => !(k in ours) || !(k in gots) || !same(ours[k], gots[k])).sort()
}

/** A request as the pool sends it, to build the self-check's Options from. */
export interface Probe {
  url: string
  body: string
  headers?: Record<string, string>
}

/**
 * Builds one Options the way `client.stream.post(url, {body, headers})` does (the client's own
 * defaults: agents, https options, headers) and compares the builder's result with got's own.
 * A thrown error counts as a difference (field `(threw)`).
 */
export function selfCheck(client: Got, probe: Probe, build: NativeOptionsBuilder): string[] {
  try {
    const options = new Options(probe.url, { isStream: true, method: 'POST', body: probe.body, headers: probe.headers }, client.defaults.options)
    return differingFields(build.call(options), Options.prototype.createNativeRequestOptions.call(options) as NativeOptions)
  } catch {
    return ['(threw)']
  }
}

/**
 * The client with `build` on each request's Options when the self-check passes; else the client
 * as it is (got's own method) and a warning naming the differing fields. Run once per pool: it
 * costs one Options (tens of microseconds), so it is not cached; a cache keyed by settings could
 * only be wrong.
 */
export function withFastNativeOptions(client: Got, probe: Probe, log: Logger, build: NativeOptionsBuilder = fastNativeRequestOptions): Got {
  const fields = selfCheck(client, probe, build)
  if (fields.length > 0) {
    log.warn({ fields }, "got's native request options differ from the fast path's for these fields: using got's own method")
    return client
  }
  const onRequest: HandlerFunction = (options, next) => {
    // Options is undefined when got could not build it; got then reports the error itself.
    if (options) (options as unknown as { createNativeRequestOptions: NativeOptionsBuilder }).createNativeRequestOptions = build
    return next(options)
  }
  return client.extend({ handlers: [onRequest] })
}
