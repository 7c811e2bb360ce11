// What a valid config may still get wrong in a way the server can run with: each is logged as a
// warning at start and on reload, with its path.
import type { Config } from './schema.js'
import { formatPath } from './path.js'

export interface ConfigWarning {
  /** Dotted path in the config file, as in config errors. */
  path: string
  message: string
}

export function configWarnings(config: Readonly<Config>): ConfigWarning[] {
  const accounts = new Set(Object.keys(config.auth.users).map((jid) => jid.toLowerCase()))
  // An admin without an account cannot log in, so cannot use the ad-hoc admin commands.
  return config.general.admins.flatMap((jid, i) =>
    accounts.has(jid.toLowerCase())
      ? []
      : [{ path: formatPath(['general', 'admins', i]), message: `admin "${jid}" has no account in [auth.users]: it cannot log in to use the admin commands` }],
  )
}
