// Everything that must hold before a config runs, checked in one pass so the report lists every
// problem at once: the server's own sections (config/load.ts), the data folder, unknown plugins,
// each plugin section against its schema, then each plugin's own check for every vhost. Nothing
// starts here; the data folder is created, as that is the only sure test that it can be written.
import path from 'node:path'
import type { HttpPoolSettings, PluginRole } from '../../contract.js'
import { ConfigError, ConfigErrors } from '../../errors.js'
import type { LoadedConfig } from '../config/load.js'
import { DEFAULT_DATA_DIR, type Config, type PoolConfig } from '../config/schema.js'
import { pluginDataDir, prepareDataDir } from '../config/data-dir.js'
import { httpPoolSettings } from '../config/pools.js'
import type { CatalogEntry } from './catalog.js'
import type { PluginKeyMap } from './plugin-key.js'
import { resolvePluginSettings, unique, type PluginSettings } from './sections.js'

/** What a reload keeps of the running server: its vhosts, and its data folder (both need a restart to change). */
export interface Running {
  hosts: readonly string[]
  dataDir: string
}

/**
 * The plugin settings of a config that may run, or ConfigErrors with every problem found. At
 * start (no `running`) the file's vhosts and data folder are checked, the folder created; on
 * reload, plugins are resolved for the running vhosts and checked against the running folder.
 * `role` is what the checks see as CheckContext.role: the process's, "full" for xmppd.
 */
export async function preflight(
  loaded: LoadedConfig,
  catalog: ReadonlyMap<string, CatalogEntry>,
  running?: Running,
  role: PluginRole = 'full',
): Promise<PluginKeyMap<PluginSettings>> {
  const { config, configDir } = loaded
  const hosts = running?.hosts ?? checkedHosts(loaded)
  const written = (config.general as Partial<Config['general']> | undefined)?.data_dir
  const dataDir = running?.dataDir ?? (typeof written === 'string' ? written : path.resolve(configDir, DEFAULT_DATA_DIR))
  // A data_dir of the wrong type was reported by the schema; an unusable one is reported here.
  const unusable = !running && typeof written === 'string' ? prepareDataDir(dataDir) : undefined
  const dataDirProblems = unusable ? [new ConfigError('general.data_dir', unusable)] : []
  const { settings, problems } = resolvePluginSettings(config, catalog, hosts)
  const configured = [...settings.values()].filter((s) => s.configured)
  const issues = await runChecks(configured, catalog, httpPoolSettings({ http_connections: pools(loaded) }), configDir, dataDir, role)
  const all = unique([...loaded.problems, ...dataDirProblems, ...problems, ...issues])
  if (all.length) throw new ConfigErrors(all)
  return settings
}

/**
 * Runs the plugins' checks for the given (plugin, vhost) sections that can be checked (see
 * PluginSettings.checkOptions), all at once, and places each issue in the file. A check that
 * throws is an issue of its section. `dataDir` is the server's; each check sees its plugin's
 * folder in it, and the process's `role`.
 */
export async function runChecks(
  list: Iterable<PluginSettings>,
  catalog: ReadonlyMap<string, CatalogEntry>,
  httpPools: ReadonlyMap<string, HttpPoolSettings>,
  configDir: string,
  dataDir: string,
  role: PluginRole,
): Promise<ConfigError[]> {
  const runs = [...list].map(async (s) => {
    const options = s.checkOptions
    if (!options) return []
    try {
      const { check } = await catalog.get(s.id)!.load()
      const issues = (await check?.({ host: s.host, options, httpPools, configDir, dataDir: pluginDataDir(dataDir, s.id), role })) ?? []
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
