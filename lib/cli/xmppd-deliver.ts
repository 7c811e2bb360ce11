// `xmppd deliver --config FILE`: a delivery worker (lib/server/deliver.ts). The file is checked
// as xmppd checks it, with the same messages and exit codes; the signals are xmppd's.
import { readConfigFile, type LoadedConfig } from '../server/config/load.js'
import { startDeliveryWorker, type DeliveryWorker } from '../server/deliver.js'
import type { ServerOptions } from '../server/main.js'
import { parseCommandLine, UsageError, usageLine } from './args.js'
import { handleSignals, port, reportStartError } from './xmppd-lifecycle.js'

const HELP = 'xmppd deliver --help'

const USAGE = `usage: xmppd deliver --config FILE [--http-port N] [--log-level LEVEL]

Runs a delivery worker for the vhosts of FILE: every plugin instance FILE enables, started with
PluginContext.role "deliver", does its delivery work (a shared outbox: outbox = "jetstream")
and nothing else. There is no XMPP here: no c2s listener, no sessions, no hook fires. The
[listen.http] listener serves /health, /metrics, the dashboard and the admin API, with the same
admin token as xmppd (xmppctl --url http://IP:PORT ... works against a worker).

FILE is checked exactly as xmppd checks it: every problem with its path, exit code 1, nothing
started. SIGTERM/SIGINT stop the plugins (they drain) and exit 0; SIGHUP re-reads FILE.
A worker beside an xmppd on the same machine and FILE needs its own HTTP port (--http-port N,
0 for any free one, which is logged).`

const OPTIONS = {
  config: { type: 'string', short: 'c' },
  'http-port': { type: 'string' },
  'log-level': { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const

// xmppd's options that mean nothing here, with why rather than "unknown option".
const NOT_HERE: Record<string, string> = {
  '--c2s-port': 'a delivery worker has no c2s listener: --c2s-port does not apply',
  '--receiver-port': '--receiver-port applies to the embedded default only',
}

function usageError(message: string): never {
  process.stderr.write(`${usageLine('xmppd', new UsageError(message, HELP))}\n`)
  process.exit(2)
}

/** `argv`: what follows `deliver`. `opts`: server options beside the command line's (specs add plugins). */
export async function runDeliver(argv: string[], opts: Pick<ServerOptions, 'extraPlugins'> = {}): Promise<void> {
  let args
  try {
    args = parseCommandLine(argv, OPTIONS)
  } catch (err) {
    if (!(err instanceof UsageError)) throw err
    const option = /^unknown option (\S+)$/.exec(err.message)?.[1]
    return usageError((option && NOT_HERE[option]) || err.message)
  }
  const { values, positionals } = args
  if (values.help) return void process.stdout.write(`${USAGE}\n`)
  if (positionals.length) usageError(`unexpected argument "${positionals[0]}"`)
  // The embedded default is a demo on one machine: nothing there to share with a worker.
  if (!values.config) usageError('deliver needs --config FILE')

  const overrides = { httpPort: port(values['http-port'], '--http-port') }
  let loaded: LoadedConfig
  let worker: DeliveryWorker
  try {
    loaded = readConfigFile(values.config, overrides)
    worker = await startDeliveryWorker(loaded, { ...opts, logLevel: values['log-level'], overrides })
  } catch (err) {
    return reportStartError(err)
  }
  handleSignals(worker)
}
