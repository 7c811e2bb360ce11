// xmppd.toml → parsed → schema-validated (defaults applied) → cross-checked → deep-frozen Config.
// Every problem is reported at once, each with its path.
import { readFileSync, existsSync } from 'node:fs'
import path from 'node:path'
import { parse as parseToml, TomlError } from 'smol-toml'
import { Ajv } from 'ajv'
import { ConfigError, ConfigErrors } from '../../errors.js'
import { configSchema, type Config } from './schema.js'
import { formatPath, fromAjvError } from './path.js'

export type { Config } from './schema.js'

export interface LoadedConfig {
  config: Readonly<Config>
  /** Folder of the config file (relative paths resolve against it); cwd for the embedded default. */
  configDir: string
  /** The file it came from, undefined for the embedded default. */
  file?: string
}

export interface ConfigOverrides {
  c2sPort?: number
  httpPort?: number
}

const ajv = new Ajv({ allErrors: true, useDefaults: true, strict: false })
const validateShape = ajv.compile(configSchema)

export function readConfigFile(file: string, overrides: ConfigOverrides = {}): LoadedConfig {
  const abs = path.resolve(file)
  let text: string
  try {
    text = readFileSync(abs, 'utf8')
  } catch (err) {
    throw new ConfigErrors([new ConfigError('', `cannot read ${abs}: ${(err as Error).message}`, { cause: err })])
  }
  return { ...parseConfig(text, path.dirname(abs), overrides), file: abs }
}

export function parseConfig(text: string, configDir: string, overrides: ConfigOverrides = {}): LoadedConfig {
  let raw: Record<string, any>
  try {
    raw = parseToml(text) as Record<string, any>
  } catch (err) {
    const where = err instanceof TomlError ? ` (line ${err.line}, column ${err.column})` : ''
    const first = (err as Error).message.split('\n')[0]
    throw new ConfigErrors([new ConfigError('', `invalid TOML${where}: ${first}`, { cause: err })])
  }
  applyOverrides(raw, overrides)
  if (!validateShape(raw)) throw new ConfigErrors((validateShape.errors ?? []).map((e) => fromAjvError(e)))
  const config = raw as unknown as Config
  const problems = crossCheck(config, configDir)
  if (problems.length > 0) throw new ConfigErrors(problems)
  resolvePaths(config, configDir)
  return { config: deepFreeze(config), configDir }
}

function applyOverrides(raw: Record<string, any>, o: ConfigOverrides): void {
  const section = (...keys: string[]) => {
    let node = raw
    for (const k of keys) node = node[k] ??= {}
    return node
  }
  if (o.c2sPort !== undefined) section('listen', 'c2s').port = o.c2sPort
  if (o.httpPort !== undefined) section('listen', 'http').port = o.httpPort
}

function crossCheck(c: Config, configDir: string): ConfigError[] {
  const problems: ConfigError[] = []
  const hosts = new Set(c.general.hosts)
  for (const [i, jid] of c.general.admins.entries()) {
    if (!isBareJid(jid, hosts)) problems.push(new ConfigError(formatPath(['general', 'admins', i]), `"${jid}" is not an account on a configured host`))
  }
  for (const jid of Object.keys(c.auth.users)) {
    if (!isBareJid(jid, hosts)) problems.push(new ConfigError(formatPath(['auth', 'users', jid]), 'must be a bare JID (user@host) on one of general.hosts'))
  }
  for (const host of Object.keys(c.host_config)) {
    if (!hosts.has(host)) problems.push(new ConfigError(formatPath(['host_config', host]), `"${host}" is not in general.hosts`))
  }
  const { certfile, keyfile } = c.listen.c2s
  if (Boolean(certfile) !== Boolean(keyfile)) {
    problems.push(new ConfigError(formatPath(['listen', 'c2s', certfile ? 'keyfile' : 'certfile']), 'certfile and keyfile go together'))
  }
  for (const key of ['certfile', 'keyfile'] as const) {
    const file = c.listen.c2s[key]
    if (file && !existsSync(path.resolve(configDir, file))) problems.push(new ConfigError(formatPath(['listen', 'c2s', key]), `no such file: ${file}`))
  }
  for (const [name, pool] of Object.entries(c.http_connections)) {
    try {
      const url = new URL(pool.server)
      if (url.search || url.hash) problems.push(new ConfigError(formatPath(['http_connections', name, 'server']), 'must not carry a query or fragment'))
    } catch {
      problems.push(new ConfigError(formatPath(['http_connections', name, 'server']), `"${pool.server}" is not a URL`))
    }
    const ca = pool.tls.cacertfile
    if (ca && !existsSync(path.resolve(configDir, ca))) problems.push(new ConfigError(formatPath(['http_connections', name, 'tls', 'cacertfile']), `no such file: ${ca}`))
  }
  return problems
}

function isBareJid(jid: string, hosts: Set<string>): boolean {
  const m = /^([^@/\s]+)@([^@/\s]+)$/.exec(jid)
  return m !== null && hosts.has(m[2])
}

function resolvePaths(c: Config, configDir: string): void {
  const { c2s } = c.listen
  if (c2s.certfile) c2s.certfile = path.resolve(configDir, c2s.certfile)
  if (c2s.keyfile) c2s.keyfile = path.resolve(configDir, c2s.keyfile)
  for (const pool of Object.values(c.http_connections)) {
    if (pool.tls.cacertfile) pool.tls.cacertfile = path.resolve(configDir, pool.tls.cacertfile)
  }
}

function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value)
    for (const v of Object.values(value)) deepFreeze(v)
  }
  return value
}
