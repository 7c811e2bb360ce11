// xmppd.toml → parsed → schema-validated (defaults applied) → cross-checked → deep-frozen Config.
// Every problem of the server's own sections is collected, each with its path; startServer and
// reload add the plugins' problems and report them all in one run.
import { readFileSync, existsSync } from 'node:fs'
import path from 'node:path'
import { parse as parseToml, TomlError } from 'smol-toml'
import { Ajv } from 'ajv'
import { ConfigError, ConfigErrors } from '../../errors.js'
import { configSchema, type Config } from './schema.js'
import { formatPath, fromAjvError } from './path.js'
import { didYouMean } from './suggest.js'

export type { Config } from './schema.js'

export interface LoadedConfig {
  /**
   * The file's values, the schema's defaults applied, relative paths resolved, deep-frozen.
   * Only when `problems` is empty does every value have the type `Config` says.
   */
  config: Readonly<Config>
  /** Folder of the config file (relative paths resolve against it); cwd for the embedded default. */
  configDir: string
  /** The file it came from, undefined for the embedded default. */
  file?: string
  /**
   * Every problem in the server's own sections (unknown keys, wrong types, cross-checks). The
   * plugin sections are checked by startServer and reload, which refuse a config with any problem
   * and report these together with the plugins' own.
   */
  problems: readonly ConfigError[]
}

export interface ConfigOverrides {
  c2sPort?: number
  httpPort?: number
}

// verbose: an unknown key's error then carries the schema listing the known ones ("did you mean").
const ajv = new Ajv({ allErrors: true, useDefaults: true, strict: false, verbose: true })
const validateShape = ajv.compile(configSchema)

/** Reads and checks a config file; throws ConfigErrors only when it cannot be read or parsed. */
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

/** Parses and checks config text; throws ConfigErrors only for invalid TOML. */
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
  const problems = validateShape(raw) ? [] : (validateShape.errors ?? []).map((e) => fromAjvError(e))
  // Cross-checks run whatever the schema said: each looks only at values of the type it needs.
  problems.push(...crossCheck(raw, configDir))
  resolvePaths(raw, configDir)
  return { config: deepFreeze(raw as Config), configDir, problems }
}

function applyOverrides(raw: Record<string, any>, o: ConfigOverrides): void {
  // A section that is not a table is left as written, for the schema to report.
  const set = (keys: string[], value: number | undefined) => {
    if (value === undefined) return
    let node = raw
    for (const k of keys) {
      node[k] ??= {}
      if (!isTable(node[k])) return
      node = node[k]
    }
    node.port = value
  }
  set(['listen', 'c2s'], o.c2sPort)
  set(['listen', 'http'], o.httpPort)
}

const isTable = (v: unknown): v is Record<string, any> => typeof v === 'object' && v !== null && !Array.isArray(v)
const isString = (v: unknown): v is string => typeof v === 'string' && v !== ''
const table = (v: unknown): Record<string, any> => (isTable(v) ? v : {})
// `xmppd hash-password --scram`: iterations, salt, then StoredKey and ServerKey for SHA-1 (20 bytes) and SHA-256 (32).
const B64 = (bytes: number) => `[A-Za-z0-9+/]{${Math.ceil(bytes / 3) * 4 - (bytes % 3 ? 3 - (bytes % 3) : 0)}}=*`
const SCRAM_SECRET = new RegExp(`^scram\\$[1-9]\\d{0,8}\\$[A-Za-z0-9+/]{11,}=*\\$${B64(20)}\\$${B64(20)}\\$${B64(32)}\\$${B64(32)}$`)

function crossCheck(c: Record<string, any>, configDir: string): ConfigError[] {
  const problems: ConfigError[] = []
  const problem = (segments: Array<string | number>, reason: string) => problems.push(new ConfigError(formatPath(segments), reason))
  const general = table(c.general)
  // Without a readable host list every account would look wrong: those checks wait for it.
  const hosts = Array.isArray(general.hosts) && general.hosts.every(isString) ? new Set<string>(general.hosts) : undefined
  if (hosts) {
    const admins: unknown[] = Array.isArray(general.admins) ? general.admins : []
    for (const [i, jid] of admins.entries()) {
      if (isString(jid) && !isBareJid(jid, hosts)) problem(['general', 'admins', i], `"${jid}" is not an account on a configured host`)
    }
    for (const [jid, secret] of Object.entries(table(table(c.auth).users))) {
      if (!isBareJid(jid, hosts)) problem(['auth', 'users', jid], 'must be a bare JID (user@host) on one of general.hosts')
      if (isString(secret) && secret.startsWith('scram$') && !SCRAM_SECRET.test(secret))
        problem(['auth', 'users', jid], 'not a valid scram$ hash: print one with `xmppd hash-password --scram`')
    }
    for (const host of Object.keys(table(c.host_config))) {
      if (!hosts.has(host)) problem(['host_config', host], `"${host}" is not in general.hosts${didYouMean(host, hosts)}`)
    }
  }
  const c2s = table(table(c.listen).c2s)
  if (Boolean(c2s.certfile) !== Boolean(c2s.keyfile)) problem(['listen', 'c2s', c2s.certfile ? 'keyfile' : 'certfile'], 'certfile and keyfile go together')
  for (const key of ['certfile', 'keyfile'] as const) {
    const file = c2s[key]
    if (isString(file) && !existsSync(path.resolve(configDir, file))) problem(['listen', 'c2s', key], `no such file: ${file}`)
  }
  for (const [name, pool] of Object.entries(table(c.http_connections))) {
    if (!isTable(pool)) continue
    const url = typeof pool.server === 'string' && URL.canParse(pool.server) ? new URL(pool.server) : undefined
    if (typeof pool.server === 'string' && !url) problem(['http_connections', name, 'server'], `"${pool.server}" is not a URL`)
    if (url && (url.search || url.hash)) problem(['http_connections', name, 'server'], 'must not carry a query or fragment')
    const ca = table(pool.tls).cacertfile
    if (isString(ca) && !existsSync(path.resolve(configDir, ca))) problem(['http_connections', name, 'tls', 'cacertfile'], `no such file: ${ca}`)
  }
  return problems
}

function isBareJid(jid: string, hosts: Set<string>): boolean {
  const m = /^([^@/\s]+)@([^@/\s]+)$/.exec(jid)
  return m !== null && hosts.has(m[2])
}

function resolvePaths(c: Record<string, any>, configDir: string): void {
  const resolve = (node: Record<string, any>, key: string) => {
    if (isString(node[key])) node[key] = path.resolve(configDir, node[key])
  }
  resolve(table(c.general), 'data_dir')
  const c2s = table(table(c.listen).c2s)
  resolve(c2s, 'certfile')
  resolve(c2s, 'keyfile')
  for (const pool of Object.values(table(c.http_connections))) if (isTable(pool) && isTable(pool.tls)) resolve(pool.tls, 'cacertfile')
}

function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value)
    for (const v of Object.values(value)) deepFreeze(v)
  }
  return value
}
