// A load-time fix for got's per-request cost. got@14 builds the options it hands to
// http.request with one object literal that spreads two objects and then sets 35 properties;
// V8 builds such a literal property by property in its slow path, about 35 microseconds a
// request here: the largest single item in a CPU profile of the plugin's dispatch (see
// docs/performance.md). This builds the same object as a plain literal (about 0.3 us).
// It covers what this plugin uses (HTTP/1.1 over TCP); HTTP/2 and unix-socket URLs go to got's
// own method, and so does any got version other than the one checked (the spec
// spec/plugin/got-native-options.spec.ts compares both methods' results field by field).
import { readFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import path from 'node:path'
import { checkServerIdentity } from 'node:tls'
import { Options } from 'got'

type NativeOptions = Record<string, unknown>
type Internals = Record<string, any>

const PATCHED = Symbol.for('mod_event_pusher_http.got-native-options')
const CHECKED_MAJOR = 14

export const originalCreateNativeRequestOptions: (this: Options) => NativeOptions = Options.prototype.createNativeRequestOptions

/** The same result as got's method, for HTTP/1.1 over TCP; undefined where it defers to got. */
export function fastNativeRequestOptions(this: Options): NativeOptions {
  const self = this as unknown as { _internals: Internals; _unixOptions: unknown }
  const internals = self._internals
  if (internals.http2 || self._unixOptions !== undefined) return originalCreateNativeRequestOptions.call(this)
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

function gotMajor(): number | undefined {
  try {
    const entry = createRequire(import.meta.url).resolve('got')
    for (let dir = path.dirname(entry); dir !== path.dirname(dir); dir = path.dirname(dir)) {
      try {
        const pkg = JSON.parse(readFileSync(path.join(dir, 'package.json'), 'utf8')) as { name?: string; version?: string }
        if (pkg.name === 'got') return Number(pkg.version?.split('.')[0])
      } catch {
        // not this folder
      }
    }
  } catch {
    // got not resolvable as CommonJS: leave it alone
  }
  return undefined
}

/** Installs the fix once per process, for the got version it was checked against. */
export function installFastNativeOptions(): boolean {
  const proto = Options.prototype as unknown as { [PATCHED]?: boolean; createNativeRequestOptions: unknown }
  if (proto[PATCHED]) return true
  if (gotMajor() !== CHECKED_MAJOR) return false
  proto.createNativeRequestOptions = fastNativeRequestOptions
  proto[PATCHED] = true
  return true
}
