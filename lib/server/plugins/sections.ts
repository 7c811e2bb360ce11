// Each plugin's options per vhost: [plugins.<id>] with [host_config."<vhost>".plugins.<id>] merged
// over it (tables merge key by key, other values replace), `enabled` split off, the rest validated
// against the plugin's schema with defaults applied. Errors name the place in the file that holds
// the bad value.
import { ConfigError, ConfigErrors } from '../../errors.js'
import type { Config, PluginSection } from '../config/schema.js'
import type { CatalogEntry } from './catalog.js'
import { formatPath, fromAjvError } from '../config/path.js'
import { PluginKeyMap } from './plugin-key.js'

export interface PluginSettings {
  id: string
  host: string
  /** What the config says (runtime toggles are kept by the loader). */
  enabled: boolean
  /** Whether the config has a section for it on this vhost at all. */
  configured: boolean
  /** Validated options, or the errors that prevent starting it. */
  options: Record<string, unknown> | undefined
  errors: ConfigError[]
  /** Places a path relative to the plugin's options in the file. */
  locate(relative: string): string
  /** The merged section, compared across reloads to tell whether a plugin's config changed. */
  fingerprint: string
}

export function resolvePluginSettings(config: Config, catalog: ReadonlyMap<string, CatalogEntry>): PluginKeyMap<PluginSettings> {
  const unknown: ConfigError[] = []
  for (const id of Object.keys(config.plugins)) {
    if (!catalog.has(id)) unknown.push(new ConfigError(formatPath(['plugins', id]), `no plugin named "${id}" (known: ${[...catalog.keys()].join(', ')})`))
  }
  for (const [host, hc] of Object.entries(config.host_config)) {
    for (const id of Object.keys(hc.plugins ?? {})) {
      if (!catalog.has(id)) unknown.push(new ConfigError(formatPath(['host_config', host, 'plugins', id]), `no plugin named "${id}"`))
    }
  }
  if (unknown.length) throw new ConfigErrors(unknown)

  const result = new PluginKeyMap<PluginSettings>()
  for (const [id, entry] of catalog) {
    for (const host of config.general.hosts) {
      const base = config.plugins[id]
      const override = config.host_config[host]?.plugins?.[id]
      const merged = merge(base ?? {}, override ?? {}) as PluginSection
      const { enabled, ...rest } = merged
      const basePath = (segments: string[]) =>
        override && segments.length > 0 && segments[0] in override ? ['host_config', host, 'plugins', id] : base || !override ? ['plugins', id] : ['host_config', host, 'plugins', id]
      const errors: ConfigError[] = []
      if (enabled !== undefined && typeof enabled !== 'boolean') {
        errors.push(new ConfigError(formatPath([...basePath(['enabled']), 'enabled']), 'must be boolean'))
      }
      const options = structuredClone(rest)
      if (!entry.validate(options)) errors.push(...(entry.validate.errors ?? []).map((e) => fromAjvError(e, [], basePath)))
      const configured = Boolean(base || override)
      result.set({ id, host }, {
        id,
        host,
        configured,
        enabled: configured && enabled !== false,
        options: errors.length ? undefined : options,
        errors,
        locate: (relative) => {
          const segments = relative ? relative.split('.') : []
          return formatPath([...basePath(segments), ...segments.map((s) => (/^\d+$/.test(s) ? Number(s) : s))])
        },
        fingerprint: JSON.stringify(merged),
      })
    }
  }
  return result
}

/** The errors of every section the file has, enabled or not (absent ones are checked when enabled). */
export function configuredSettingsErrors(settings: Iterable<PluginSettings>): ConfigError[] {
  const seen = new Set<string>()
  const errors: ConfigError[] = []
  for (const s of settings) {
    if (!s.configured) continue
    for (const e of s.errors) if (!seen.has(e.message)) (seen.add(e.message), errors.push(e))
  }
  return errors
}

function merge(base: Record<string, unknown>, over: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...base }
  for (const [k, v] of Object.entries(over)) {
    const b = out[k]
    out[k] = isTable(b) && isTable(v) ? merge(b, v) : v
  }
  return out
}

const isTable = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v)
