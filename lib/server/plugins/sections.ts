// Each plugin's options per vhost: [plugins.<id>] with [host_config."<vhost>".plugins.<id>] merged
// over it (tables merge key by key, other values replace), `enabled` split off, the rest validated
// against the plugin's schema with defaults applied. Errors name the place in the file that holds
// the bad value; unknown plugins and keys get a "did you mean" when a known name is close.
import { ConfigError } from '../../errors.js'
import type { Config, PluginSection } from '../config/schema.js'
import type { ErrorObject } from 'ajv'
import type { CatalogEntry } from './catalog.js'
import { formatPath, fromAjvError, pointerSegments } from '../config/path.js'
import { didYouMean } from '../config/suggest.js'
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
  /**
   * What the plugin's check runs on: the options, or, when the only errors are unknown keys
   * (which mean nothing), the options without them; so a typo does not hide the checks' issues.
   */
  checkOptions: Record<string, unknown> | undefined
  /** Places a path relative to the plugin's options in the file. */
  locate(relative: string): string
  /** The merged section, compared across reloads to tell whether a plugin's config changed. */
  fingerprint: string
}

export interface ResolvedSections {
  /** Per (plugin, vhost), every plugin of the catalog on every vhost. */
  settings: PluginKeyMap<PluginSettings>
  /** Unknown plugin names, and the errors of every section the file has, enabled or not (absent ones are checked when enabled). */
  problems: ConfigError[]
}

/**
 * Reads the plugin sections of a config that may have problems of its own: a section that is not
 * a table has been reported by the server's schema and is skipped here.
 */
export function resolvePluginSettings(config: Config, catalog: ReadonlyMap<string, CatalogEntry>, hosts: readonly string[]): ResolvedSections {
  const problems: ConfigError[] = []
  const known = [...catalog.keys()]
  const unknownPlugin = (id: string) => `no plugin named "${id}"${didYouMean(id, known) || ` (known: ${known.join(', ')})`}`
  const plugins = tables(config.plugins)
  for (const id of Object.keys(plugins)) if (!catalog.has(id)) problems.push(new ConfigError(formatPath(['plugins', id]), unknownPlugin(id)))
  const overrides = new Map<string, Record<string, PluginSection>>()
  for (const [host, hc] of Object.entries(tables(config.host_config))) {
    const own = tables(hc.plugins)
    overrides.set(host, own)
    for (const id of Object.keys(own)) if (!catalog.has(id)) problems.push(new ConfigError(formatPath(['host_config', host, 'plugins', id]), unknownPlugin(id)))
  }

  const settings = new PluginKeyMap<PluginSettings>()
  for (const [id, entry] of catalog) {
    for (const host of hosts) {
      const base = plugins[id]
      const override = overrides.get(host)?.[id]
      const merged = merge(base ?? {}, override ?? {}) as PluginSection
      const { enabled, ...rest } = merged
      const basePath = (segments: string[]) =>
        override && segments.length > 0 && segments[0] in override
          ? ['host_config', host, 'plugins', id]
          : base || !override
            ? ['plugins', id]
            : ['host_config', host, 'plugins', id]
      const options = structuredClone(rest)
      const ajvErrors = entry.validate(options) ? [] : [...(entry.validate.errors ?? [])]
      const errors = ajvErrors.map((e) => fromAjvError(e, { under: basePath, rootKeys: ['enabled'] }))
      const configured = Boolean(base || override)
      if (configured) problems.push(...errors)
      settings.set(
        { id, host },
        {
          id,
          host,
          configured,
          enabled: configured && enabled !== false,
          options: errors.length ? undefined : options,
          errors,
          checkOptions: errors.length ? withoutUnknownKeys(rest, ajvErrors, entry) : options,
          locate: (relative) => {
            const segments = relative ? relative.split('.') : []
            return formatPath([...basePath(segments), ...segments.map((s) => (/^\d+$/.test(s) ? Number(s) : s))])
          },
          fingerprint: JSON.stringify(merged),
        },
      )
    }
  }
  return { settings, problems: unique(problems) }
}

/** Errors once each: a default section's error shows on every vhost that inherits it. */
export function unique(errors: Iterable<ConfigError>): ConfigError[] {
  const seen = new Map<string, ConfigError>()
  for (const e of errors) if (!seen.has(e.message)) seen.set(e.message, e)
  return [...seen.values()]
}

/** The section without its unknown keys, validated again; undefined when other errors remain. */
function withoutUnknownKeys(section: Record<string, unknown>, errors: ErrorObject[], entry: CatalogEntry): Record<string, unknown> | undefined {
  if (!errors.every((e) => e.keyword === 'additionalProperties')) return undefined
  const options = structuredClone(section)
  for (const e of errors) {
    const node = pointerSegments(e.instancePath).reduce<unknown>((n, key) => (isTable(n) ? n[key] : undefined), options)
    if (isTable(node)) delete node[String(e.params.additionalProperty)]
  }
  return entry.validate(options) ? options : undefined
}

/** The entries of a table that are tables themselves (the others are the schema's to report). */
function tables<T extends object>(value: Record<string, T> | undefined): Record<string, T> {
  return Object.fromEntries(Object.entries(isTable(value) ? value : {}).filter(([, v]) => isTable(v))) as Record<string, T>
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
