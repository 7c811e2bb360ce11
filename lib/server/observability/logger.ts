// Structured logs (pino, JSON lines on stdout). Secrets are redacted by key wherever they appear,
// so a careless `log.info({ config })` cannot leak a password or a token.
import { pino, type DestinationStream, type Logger as Pino } from 'pino'
import type { Logger } from '../../contract.js'

const SECRET_KEYS = ['password', 'passwd', 'secret', 'token', 'admin_token', 'authorization', 'signing_secrets', 'headers', 'users', 'credentials', 'cookie']

export const REDACT_PATHS = [...SECRET_KEYS, ...SECRET_KEYS.map((k) => `*.${k}`), ...SECRET_KEYS.map((k) => `*.*.${k}`)]

export interface LoggerOptions {
  level?: string
  /** Where lines go (default stdout); specs pass a collecting stream. */
  destination?: DestinationStream
}

export function createLogger({ level = 'info', destination }: LoggerOptions = {}): Pino & Logger {
  return pino(
    {
      level,
      base: { name: 'xmppd' },
      redact: { paths: REDACT_PATHS, censor: '[redacted]' },
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
    },
    destination ?? pino.destination({ dest: 1, sync: false }),
  ) as Pino & Logger
}
