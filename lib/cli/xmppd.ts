#!/usr/bin/env node
// xmppd: runs the server from --config FILE, or the embedded default (demo accounts and the
// built-in notification receiver). `xmppd hash-password [--scram]` prints a hash for [auth.users];
// `xmppd deliver --config FILE` runs a delivery worker (xmppd-deliver.ts).
import { readFileSync } from 'node:fs'
import { parseArgs } from 'node:util'
import { hashPassword } from '../server/xmpp/accounts.js'
import { hashScram } from '../server/xmpp/scram.js'
import { parseConfig, readConfigFile, type ConfigOverrides, type LoadedConfig } from '../server/config/load.js'
import { DATA_DIR, DEMO_USERS, defaultConfigToml } from '../server/demo/embedded-default.js'
import { startServer, type XmppServer } from '../server/main.js'
import { startReceiver, type Receiver } from '../server/demo/receiver.js'
import { packageVersion, parseCommandLine, UsageError, usageLine } from './args.js'
import { runDeliver } from './xmppd-deliver.js'
import { fail, handleSignals, port, reportStartError } from './xmppd-lifecycle.js'

const USAGE = `usage: xmppd [--config FILE] [--c2s-port N] [--http-port N] [--receiver-port N] [--log-level LEVEL]
       xmppd deliver --config FILE [--http-port N] [--log-level LEVEL]
                                  (a delivery worker: the plugins' deliveries, no XMPP; xmppd deliver --help)
       xmppd hash-password [--scram]
                                  (reads a password on stdin, prints a hash for [auth.users]: scrypt, or
                                  with --scram SCRAM-SHA-1/-256 keys, which SCRAM logins need)
       xmppd --version

Without --config, xmppd runs its embedded default: vhost "localhost", demo accounts, the
mod_event_pusher_http plugin enabled, and a notification receiver on http://localhost:8000
that prints what it gets. It keeps its state (the admin token, each plugin's folder) in
./${DATA_DIR}/ of the working directory. With --config FILE the state goes to [general] data_dir,
by default ${DATA_DIR} next to FILE. The data folder is created if missing; one that cannot be
created or written is a configuration error (exit code 1, nothing started).
Port 0 means any free port (the chosen one is logged).`

const OPTIONS = {
  config: { type: 'string', short: 'c' },
  'c2s-port': { type: 'string' },
  'http-port': { type: 'string' },
  'receiver-port': { type: 'string' },
  'log-level': { type: 'string' },
  help: { type: 'boolean', short: 'h' },
  version: { type: 'boolean' },
  scram: { type: 'boolean' },
} as const

/** Where the first positional (a command) is in argv, or -1; options before it are kept for it. */
function commandAt(argv: string[]): number {
  const { tokens } = parseArgs({ args: argv, options: OPTIONS, allowPositionals: true, strict: false, tokens: true })
  return tokens.find((t) => t.kind === 'positional')?.index ?? -1
}

async function main(): Promise<void> {
  const argv = process.argv.slice(2)
  const at = commandAt(argv)
  if (argv[at] === 'deliver') return runDeliver(argv.filter((_, i) => i !== at))
  let args
  try {
    args = parseCommandLine(argv, OPTIONS)
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
    return void process.stdout.write(`${values.scram ? await hashScram(password) : await hashPassword(password)}\n`)
  }
  if (values.scram) fail('--scram applies to hash-password only', 2)
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
    server = await startServer(loaded, { logLevel: values['log-level'], overrides, demoRoster: receiver ? Object.keys(DEMO_USERS) : undefined })
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

  handleSignals(server, async () => void (await receiver?.close()))
}

void main()
