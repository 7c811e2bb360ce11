// Everything that must hold before a config runs, checked in one pass so the report lists every
// problem at once: the server's own sections (config/load.ts), unknown plugins, each plugin
// section against its schema, then each plugin's own check for every vhost. Nothing starts here.
import type { HttpPoolSettings } from '../../contract.js'
import { ConfigError, ConfigErrors } from '../../errors.js'
import type { LoadedConfig } from '../config/load.js'
import type { Config, PoolConfig } from '../config/schema.js'
import { httpPoolSettings } from '../config/pools.js'
import type { CatalogEntry } from './catalog.js'
import type { PluginKeyMap } from './plugin-key.js'
import { resolvePluginSettings, unique, type PluginSettings } from './sections.js'

/**
 * The plugin settings of a config that may run, or ConfigErrors with every problem found.
 * `hosts` are the vhosts to resolve plugins for (on reload: the running ones).
 */
export async function preflight(
  loaded: LoadedConfig,
  catalog: ReadonlyMap<string, CatalogEntry>,
  hosts: readonly string[] = checkedHosts(loaded),
): Promise<PluginKeyMap<PluginSettings>> {
  const { config, configDir } = loaded
  const { settings, problems } = resolvePluginSettings(config, catalog, hosts)
  const configured = [...settings.values()].filter((s) => s.configured)
  const issues = await runChecks(configured, catalog, httpPoolSettings({ http_connections: pools(loaded) }), configDir)
  const all = unique([...loaded.problems, ...problems, ...issues])
  if (all.length) throw new ConfigErrors(all)
  return settings
}

/**
 * Runs the plugins' checks for the given (plugin, vhost) sections that can be checked (see
 * PluginSettings.checkOptions), all at once, and places each issue in the file. A check that
 * throws is an issue of its section.
 */
export async function runChecks(
  list: Iterable<PluginSettings>,
  catalog: ReadonlyMap<string, CatalogEntry>,
  httpPools: ReadonlyMap<string, HttpPoolSettings>,
  configDir: string,
): Promise<ConfigError[]> {
  const runs = [...list].map(async (s) => {
    const options = s.checkOptions
    if (!options) return []
    try {
      const { check } = await catalog.get(s.id)!.load()
      const issues = (await check?.({ host: s.host, options, httpPools, configDir })) ?? []
      return issues.map((i) => new ConfigError(s.locate(i.path), i.reason, { cause: i }))
    } catch (err) {
      return [new ConfigError(s.locate(''), `cannot be checked: ${(err as Error)?.message ?? String(err)}`, { cause: err })]
    }
  })
  return unique((await Promise.all(runs)).flat())
}

// The vhosts to check plugin sections for. While general.hosts itself is wrong, the vhosts that
// host_config names stand in, or one placeholder, so the [plugins.*] sections are still checked.
function checkedHosts({ config }: LoadedConfig): string[] {
  const hosts = (config.general?.hosts as unknown[] | undefined) ?? []
  if (Array.isArray(hosts) && hosts.length > 0 && hosts.every((h) => typeof h === 'string')) return hosts as string[]
  const named = Object.keys(config.host_config ?? {})
  return named.length > 0 ? named : ['localhost']
}

// The pools a check may see. One with problems of its own (reported already) is still handed
// over when the values a plugin reads have their types, so a plugin naming it is not told that
// it does not exist; one without a usable server is left out.
function pools({ config }: LoadedConfig): Config['http_connections'] {
  const usable = (p: unknown): p is PoolConfig => {
    const pool = p as Partial<Record<keyof PoolConfig, unknown>> | null
    return (
      typeof pool === 'object' &&
      pool !== null &&
      typeof pool.server === 'string' &&
      typeof pool.path_prefix === 'string' &&
      typeof pool.tls === 'object' &&
      pool.tls !== null
    )
  }
  return Object.fromEntries(
    Object.entries((config.http_connections ?? {}) as Record<string, unknown>).filter(([, p]) => usable(p)),
  ) as Config['http_connections']
}
