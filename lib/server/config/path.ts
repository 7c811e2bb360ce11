import type { ErrorObject } from 'ajv'
import { ConfigError } from '../../errors.js'
import { didYouMean } from './suggest.js'

// Config paths as users read them: dotted, with keys that contain dots or spaces quoted,
// e.g. host_config."example.com".plugins.mod_event_pusher_http.enabled
export function formatPath(segments: ReadonlyArray<string | number>): string {
  return segments.map((s) => (typeof s === 'number' || /^[A-Za-z0-9_-]+$/.test(s) ? String(s) : JSON.stringify(s))).join('.')
}

/** ajv's instancePath ("/listen/c2s/port", JSON Pointer) as segments. */
export function pointerSegments(pointer: string): string[] {
  if (!pointer) return []
  return pointer
    .slice(1)
    .split('/')
    .map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'))
}

/** Where an ajv error points, as segments under the validated value. */
function ajvErrorSegments(e: ErrorObject): string[] {
  const segments = pointerSegments(e.instancePath)
  if (e.keyword === 'additionalProperties') segments.push(String(e.params.additionalProperty))
  if (e.keyword === 'required') segments.push(String(e.params.missingProperty))
  return segments
}

/** Where a validated value sits in the file, for errors about it. */
export interface Placement {
  /** The value's path in the file. */
  base?: ReadonlyArray<string | number>
  /** Or the value's path chosen by where the error points (a merged plugin section). */
  under?: (segments: string[]) => ReadonlyArray<string | number>
  /** Keys the value's root may hold beyond its schema's (a plugin section's `enabled`). */
  rootKeys?: readonly string[]
}

/**
 * An ajv error as a ConfigError. ajv must run with `verbose: true`, so an unknown key's error
 * carries the schema that lists the known ones for a "did you mean".
 */
export function fromAjvError(e: ErrorObject, { base = [], under, rootKeys = [] }: Placement = {}): ConfigError {
  const segments = ajvErrorSegments(e)
  const where = formatPath([...(under ? under(segments) : base), ...segments])
  if (e.keyword === 'additionalProperties') {
    const known = Object.keys((e.parentSchema?.properties as object | undefined) ?? {})
    if (e.instancePath === '') known.push(...rootKeys)
    return new ConfigError(where, `unknown key${didYouMean(String(e.params.additionalProperty), known)}`)
  }
  if (e.keyword === 'required') return new ConfigError(where, 'is required')
  if (e.keyword === 'enum') {
    return new ConfigError(where, `must be one of ${(e.params.allowedValues as unknown[]).map((v) => JSON.stringify(v)).join(', ')}`)
  }
  return new ConfigError(where, e.message ?? 'is invalid')
}
