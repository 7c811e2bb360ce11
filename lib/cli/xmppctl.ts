#!/usr/bin/env node
// xmppctl: the admin API of a running xmppd, from the shell. Speaks HTTP only.
// Exit codes: 0 success, 1 refused or failed, 2 bad usage.
import { formatList, formatSeed, formatStatus } from '../server/admin/status-text.js'
import { packageVersion, parseCommandLine, UsageError, usageLine } from './args.js'
import { DELIVERIES_HELP, DELIVERIES_OPTIONS, deliveriesRequest, refuseDeliveriesOptions } from './xmppctl-deliveries.js'
import { missingTokenText, refusedTokenText, resolveTarget, type Target } from './xmppctl-target.js'

const HELP: Record<string, string> = {
  main: `usage: xmppctl [--url URL] [--token TOKEN] [--config FILE] [--json] COMMAND
       xmppctl --version

commands:
  plugin list [--host H]                    plugins and their state per vhost
  plugin enable PLUGIN --host H             enable a plugin on a vhost (next packet, no restart)
  plugin disable PLUGIN --host H            disable it (in-flight notifications drain)
  plugin status [PLUGIN] [--host H]         state, metrics, queues, breakers
  metrics [--host H]                        the seed's metrics ([Host, mod_http_notifications, ...])
  reload                                    re-read the server's config file (a bad file changes nothing)
  deliveries list --host H [--failed | --pending] [--since TIME] [--jid JID] [--handler NAME] [--limit N]
                                            notifications kept by the plugin: dead letters, pending
  deliveries replay --host H (--id WEBHOOK_ID ... | --failed [--since TIME] [--handler NAME])
                                            put dead letters back as pending (same webhook-ids)

options:
  --url URL       the server's HTTP listener (default: from --config, else http://127.0.0.1:5280)
  --token TOKEN   the admin token; else XMPPD_ADMIN_TOKEN, else admin_token in --config FILE, else the
                  token file xmppd wrote: .xmppd-admin-token in the [general] data_dir of --config FILE
                  (default xmppd-data/ next to FILE), then next to FILE (servers of older versions);
                  without --config, ./xmppd-data/.xmppd-admin-token (the embedded default's), then
                  ./.xmppd-admin-token
  --config FILE   the server's xmppd.toml, to find the URL and the token
  --json          print the API's JSON answer
  --version       print xmppctl's version
Run "xmppctl COMMAND --help" for one command. Exit codes: 0 ok, 1 refused or failed, 2 bad usage.`,
  plugin: `usage: xmppctl plugin list|enable|disable|status ...

  plugin list [--host H]                    plugins and their state per vhost
  plugin enable PLUGIN --host H             enable a plugin on a vhost (next packet, no restart)
  plugin disable PLUGIN --host H            disable it (in-flight notifications drain)
  plugin status [PLUGIN] [--host H]         state, metrics, queues, breakers
Run "xmppctl plugin COMMAND --help" for one of them, "xmppctl --help" for the common options.`,
  'plugin list':
    'usage: xmppctl plugin list [--host H] [--json]\nLists every plugin on every vhost (or one vhost) with its state and where the state comes from (config or a runtime toggle).',
  'plugin enable':
    'usage: xmppctl plugin enable PLUGIN --host H [--json]\nStarts PLUGIN on vhost H, whatever its config said; takes effect for the next packet. Exit 1 if it is already enabled.',
  'plugin disable':
    'usage: xmppctl plugin disable PLUGIN --host H [--json]\nStops PLUGIN on vhost H; queued and in-flight notifications drain first. Exit 1 if it is already disabled.',
  'plugin status':
    'usage: xmppctl plugin status [PLUGIN] [--host H] [--json]\nState, the seed metrics, failures by reason, response-time percentiles, queue depth and breaker state.',
  metrics: 'usage: xmppctl metrics [--host H] [--json]\nThe seed metrics of every plugin per vhost, under their MongooseIM names.',
  reload:
    'usage: xmppctl reload [--json]\nAsks the server to re-read its config file. A file with errors changes nothing; the errors are printed and the exit code is 1.',
  ...DELIVERIES_HELP,
}

function out(text: string): void {
  process.stdout.write(`${text}\n`)
}

function err(text: string): void {
  process.stderr.write(`xmppctl: ${text}\n`)
}

async function call(t: Target, method: 'GET' | 'POST', route: string, json?: unknown): Promise<{ status: number; body: any }> {
  // Every /api route needs the token: without one, say where we looked rather than ask for a 401.
  if (!t.token) throw new Error(missingTokenText(t))
  let res: Response
  try {
    const headers: Record<string, string> = { authorization: `Bearer ${t.token}` }
    if (json !== undefined) headers['content-type'] = 'application/json'
    res = await fetch(`${t.url}${route}`, { method, headers, body: json === undefined ? undefined : JSON.stringify(json) })
  } catch (err) {
    throw new Error(`cannot reach xmppd at ${t.url}: ${((err as Error).cause as Error)?.message ?? (err as Error).message}`)
  }
  const text = await res.text()
  let body: any
  try {
    body = JSON.parse(text)
  } catch {
    body = { message: text }
  }
  return { status: res.status, body }
}

const OPTIONS = {
  url: { type: 'string' },
  token: { type: 'string' },
  config: { type: 'string', short: 'c' },
  host: { type: 'string' },
  json: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
  version: { type: 'boolean' },
  ...DELIVERIES_OPTIONS,
} as const

async function main(argv: string[]): Promise<number> {
  const { values, positionals } = parseCommandLine(argv, OPTIONS)
  const [group, action, arg, ...rest] = positionals
  const name = (group === 'plugin' || group === 'deliveries') && action ? `${group} ${action}` : group
  if (values.version) return (out(packageVersion()), 0)
  if (!group) {
    if (values.help) return (out(HELP.main), 0)
    throw new UsageError('no command given')
  }
  const grouped = group === 'plugin' || group === 'deliveries'
  if (!HELP[name]) throw new UsageError(`unknown command "${positionals.join(' ')}"`, grouped ? `xmppctl ${group} --help` : undefined)
  if (values.help) return (out(HELP[name]), 0)
  if (name === 'plugin') throw new UsageError('plugin needs a command: list, enable, disable or status', 'xmppctl plugin --help')
  if (name === 'deliveries') throw new UsageError('deliveries needs a command: list or replay', 'xmppctl deliveries --help')
  if (group !== 'deliveries') refuseDeliveriesOptions(name, values)
  const hostQuery = values.host ? `?host=${encodeURIComponent(values.host)}` : ''
  const t = resolveTarget(values)
  const usage = (message: string) => new UsageError(message, `xmppctl ${name} --help`)

  let answer: { status: number; body: any }
  let human: (body: any) => string
  switch (name) {
    case 'plugin list':
      if (arg) throw usage('plugin list takes no argument')
      answer = await call(t, 'GET', `/api/plugins${hostQuery}`)
      human = (b) => formatList(b.plugins)
      break
    case 'plugin enable':
    case 'plugin disable':
      if (!arg || rest.length) throw usage(`${name} takes one PLUGIN`)
      if (!values.host) throw usage(`${name} needs --host`)
      answer = await call(t, 'POST', `/api/plugins/${encodeURIComponent(arg)}/hosts/${encodeURIComponent(values.host)}/${action}`)
      human = (b) => `${b.id} is now ${b.enabled ? 'enabled' : 'disabled'} on ${b.host}`
      break
    case 'plugin status':
      if (rest.length) throw usage('plugin status takes at most one PLUGIN')
      answer = await call(t, 'GET', arg ? `/api/plugins/${encodeURIComponent(arg)}/status${hostQuery}` : `/api/status${hostQuery}`)
      human = (b) => formatStatus(b.plugins)
      break
    case 'metrics':
      if (action) throw usage('metrics takes no argument')
      answer = await call(t, 'GET', `/api/status${hostQuery}`)
      human = (b) => formatSeed(b.plugins)
      break
    case 'reload':
      if (action) throw usage('reload takes no argument')
      answer = await call(t, 'POST', '/api/reload')
      human = (b) => {
        const lines = ['config reloaded']
        for (const p of b.started) lines.push(`  started ${p.id} on ${p.host}`)
        for (const p of b.stopped) lines.push(`  stopped ${p.id} on ${p.host}`)
        if (b.restart_required.length) lines.push(`  needs a restart to take effect: ${b.restart_required.join(', ')}`)
        return lines.join('\n')
      }
      break
    case 'deliveries list':
    case 'deliveries replay': {
      if (arg) throw usage(`${name} takes no argument (options only)`)
      const r = deliveriesRequest(action as 'list' | 'replay', values.host, values)
      answer = await call(t, r.method, r.route, r.body)
      human = r.human
      break
    }
    default:
      throw new UsageError(`unknown command "${name}"`)
  }
  if (answer.status >= 200 && answer.status < 300) {
    out(values.json ? JSON.stringify(answer.body, null, 2) : human(answer.body))
    return 0
  }
  if (values.json) out(JSON.stringify(answer.body, null, 2))
  if (answer.status === 401) err(refusedTokenText(t))
  else if (!values.json) {
    err(answer.body?.message ?? `HTTP ${answer.status}`)
    for (const e of answer.body?.errors ?? []) process.stderr.write(`  ${e}\n`)
  }
  return 1
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (e) => {
    if (e instanceof UsageError) {
      process.stderr.write(`${usageLine('xmppctl', e)}\n`)
      process.exit(2)
    }
    err((e as Error).message)
    process.exit(1)
  },
)
