// [http_connections.<name>] as plugins receive them: the contract's HttpPoolSettings, one frozen
// entry per pool, named.
import type { HttpPoolSettings } from '../../contract.js'
import type { Config, PoolConfig } from './schema.js'

// The contract states HttpPoolSettings for plugin authors; the schema decides what a validated
// pool section holds. This line stops compiling when one changes without the other.
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false
const contractMatchesSchema: Same<Omit<HttpPoolSettings, 'name'>, PoolConfig> = true
void contractMatchesSchema

export function httpPoolSettings(config: Pick<Config, 'http_connections'>): Map<string, HttpPoolSettings> {
  return new Map(Object.entries(config.http_connections).map(([name, p]) => [name, Object.freeze({ name, ...p, tls: Object.freeze({ ...p.tls }) })]))
}
