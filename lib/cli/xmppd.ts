#!/usr/bin/env node
// xmppd: runs the server from --config FILE, or the embedded default (demo accounts and the
// built-in notification receiver). `xmppd hash-password` prints an scrypt hash for [auth.users].
import { readFileSync } from 'node:fs'
import { hashPassword } from '../server/xmpp/accounts.js'
import { parseConfig, readConfigFile, type ConfigOverrides, type LoadedConfig } from '../server/config/load.js'
import { DATA_DIR, DEMO_USERS, defaultConfigToml } from '../server/demo/embedded-default.js'
import { startServer, type XmppServer } from '../server/main.js'
import { startReceiver, type Receiver } from '../server/demo/receiver.js'
import { packageVersion, parseCommandLine, UsageError, usageLine } from './args.js'

const USAGE = `usage: xmppd [--config FILE] [--c2s-port N] [--http-port N] [--receiver-port N] [--log-level LEVEL]
       xmppd hash-password        (reads a password on stdin, prints an scrypt hash for [auth.users])
       xmppd --version

Without --config, xmppd runs its embedded default: vhost "localhost", demo accounts, the
mod_event_pusher_http plugin enabled, and a notification receiver on http://localhost:8000
that prints what it gets. It keeps its state (the admin token, each plugin's folder) in
./${DATA_DIR}/ of the working directory. With --config FILE the state goes to [general] data_dir,
by default ${DATA_DIR} next to FILE. The data folder is created if missing; one that cannot be
created or written is a configuration error (exit code 1, nothing started).
Port 0 means any free port (the chosen one is logged).`

function fail(message: string, code: number): never {
  process.stderr.write(`xmppd: ${message}\n`)
  process.exit(code)
}

function port(value: string | undefined, flag: string): number | undefined {
  if (value === undefined) return undefined
  const n = Number(value)
  if (!Number.isInteger(n) || n < 0 || n > 65535) fail(`${flag}: "${value}" is not a port (0-65535)`, 2)
  return n
}

const OPTIONS = {
  config: { type: 'string', short: 'c' },
  'c2s-port': { type: 'string' },
  'http-port': { type: 'string' },
  'receiver-port': { type: 'string' },
  'log-level': { type: 'string' },
  help: { type: 'boolean', short: 'h' },
  version: { type: 'boolean' },
} as const

async function main(): Promise<void> {
  let args
  try {
    args = parseCommandLine(process.argv.slice(2), OPTIONS)
  } catch (err) {
    if (!(err instanceof UsageError)) throw err
    process.stderr.write(`${usageLine('xmppd', err)}\n`)
    process.exit(2)
  }
  const { values, positionals } = args
  if (values.help) return void process.stdout.write(`${USAGE}\n`)
  if (values.version) return void process.stdout.write(`${packageVersion()}\n`)
  if (positionals[0] === 'hash-password') {
    const password = readFileSync(0, 'utf8').replace(/\r?\n$/, '')
    if (!password) fail('no password on stdin', 2)
    return void process.stdout.write(`${await hashPassword(password)}\n`)
  }
  if (positionals.length) fail(`unknown command "${positionals[0]}"\n${USAGE}`, 2)

  const overrides: ConfigOverrides = { c2sPort: port(values['c2s-port'], '--c2s-port'), httpPort: port(values['http-port'], '--http-port') }
  let receiver: Receiver | undefined
  let loaded: LoadedConfig
  try {
    if (values.config) {
      if (values['receiver-port'] !== undefined) fail('--receiver-port applies to the embedded default only', 2)
      loaded = readConfigFile(values.config, overrides)
    } else {
      receiver = await startReceiver({ ip: '127.0.0.1', port: port(values['receiver-port'], '--receiver-port') ?? 8000 })
      loaded = parseConfig(defaultConfigToml(receiver.url), process.cwd(), overrides)
    }
  } catch (err) {
    await receiver?.close()
    return reportStartError(err)
  }

  let server: XmppServer
  try {
    server = await startServer(loaded, { logLevel: values['log-level'], overrides })
  } catch (err) {
    await receiver?.close()
    return reportStartError(err)
  }
  if (receiver) {
    const accounts = Object.entries(DEMO_USERS)
      .map(([jid, pw]) => `    ${jid}  password: ${pw}`)
      .join('\n')
    process.stdout.write(
      `\nxmppd is running the embedded default.\n` +
        `  XMPP (STARTTLS, self-signed certificate): 127.0.0.1:${server.c2sPort}, domain "localhost"\n` +
        `  demo accounts:\n${accounts}\n` +
        `  notifications go to ${receiver.url}/webservice/notifications and are printed below\n` +
        `  dashboard: http://127.0.0.1:${server.httpPort}/dashboard   (also /health, /metrics)\n` +
        `  state: ./${DATA_DIR}/ (the admin token: ${server.adminToken.file ?? 'none written, XMPPD_ADMIN_TOKEN is set'})\n` +
        `  admin: npx xmppctl --url http://127.0.0.1:${server.httpPort} plugin list   (run here, xmppctl finds the token in ./${DATA_DIR}/)\n\n`,
    )
  }

  let signals = 0
  const shutdown = async (signal: string) => {
    if (++signals > 1) process.exit(1)
    server.log.info({ signal }, 'signal received')
    try {
      await server.stop()
      await receiver?.close()
    } finally {
      process.exit(0)
    }
  }
  // SIGHUP re-reads the config file, like `xmppctl reload`; a bad file changes nothing.
  process.on('SIGHUP', () => {
    server.reload().then(
      () => undefined,
      (err: { errors?: Array<{ message: string }>; message?: string }) =>
        server.log.error({ errors: err.errors?.map((e) => e.message) ?? [err.message] }, 'reload refused: the running config is kept'),
    )
  })
  process.on('SIGINT', () => void shutdown('SIGINT'))
  process.on('SIGTERM', () => void shutdown('SIGTERM'))
}

function reportStartError(err: unknown): never {
  const e = err as { code?: string; errors?: Array<{ message: string }>; message?: string }
  if (e?.code === 'XMPPD_ERR_CONFIG') {
    const lines = e.errors ? e.errors.map((x) => x.message) : [e.message ?? String(err)]
    fail(`invalid configuration:\n${lines.map((l) => `  ${l}`).join('\n')}`, 1)
  }
  if (e?.code === 'EADDRINUSE' || e?.code === 'EACCES' || e?.code === 'EADDRNOTAVAIL') fail(`cannot listen: ${e.message}`, 1)
  fail(`cannot start: ${(err as Error)?.stack ?? String(err)}`, 1)
}

void main()
