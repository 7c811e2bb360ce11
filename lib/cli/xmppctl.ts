#!/usr/bin/env node
// xmppctl: the admin API of a running xmppd, from the shell. Speaks HTTP only.
// Exit codes: 0 success, 1 refused or failed, 2 bad usage.
import { readFileSync } from 'node:fs'
import path from 'node:path'
import { parseArgs } from 'node:util'
import { parse as parseToml } from 'smol-toml'
import { TOKEN_FILE } from '../server/admin/token.js'
import { formatList, formatSeed, formatStatus } from '../server/admin/status-text.js'

const HELP: Record<string, string> = {
  main: `usage: xmppctl [--url URL] [--token TOKEN] [--config FILE] [--json] COMMAND

commands:
  plugin list [--host H]                    plugins and their state per vhost
  plugin enable PLUGIN --host H             enable a plugin on a vhost (next packet, no restart)
  plugin disable PLUGIN --host H            disable it (in-flight notifications drain)
  plugin status [PLUGIN] [--host H]         state, metrics, queues, breakers
  metrics [--host H]                        the seed's metrics ([Host, mod_http_notifications, ...])
  reload                                    re-read the server's config file (a bad file changes nothing)

options:
  --url URL       the server's HTTP listener (default: from --config, else http://127.0.0.1:5280)
  --token TOKEN   admin token (default: XMPPD_ADMIN_TOKEN, then ${TOKEN_FILE} next to --config or here)
  --config FILE   the server's xmppd.toml, to find the URL and the token
  --json          print the API's JSON answer
Run "xmppctl COMMAND --help" for one command. Exit codes: 0 ok, 1 refused or failed, 2 bad usage.`,
  'plugin list': 'usage: xmppctl plugin list [--host H] [--json]\nLists every plugin on every vhost (or one vhost) with its state and where the state comes from (config or a runtime toggle).',
  'plugin enable': 'usage: xmppctl plugin enable PLUGIN --host H [--json]\nStarts PLUGIN on vhost H, whatever its config said; takes effect for the next packet. Exit 1 if it is already enabled.',
  'plugin disable': 'usage: xmppctl plugin disable PLUGIN --host H [--json]\nStops PLUGIN on vhost H; queued and in-flight notifications drain first. Exit 1 if it is already disabled.',
  'plugin status': 'usage: xmppctl plugin status [PLUGIN] [--host H] [--json]\nState, the seed metrics, failures by reason, response-time percentiles, queue depth and breaker state.',
  metrics: 'usage: xmppctl metrics [--host H] [--json]\nThe seed metrics of every plugin per vhost, under their MongooseIM names.',
  reload: 'usage: xmppctl reload [--json]\nAsks the server to re-read its config file. A file with errors changes nothing; the errors are printed and the exit code is 1.',
}

class UsageError extends Error {}

function out(text: string): void {
  process.stdout.write(`${text}\n`)
}

interface Target {
  url: string
  token: string | undefined
}

function target(values: { url?: string; token?: string; config?: string }): Target {
  let url = values.url
  let token = values.token || process.env.XMPPD_ADMIN_TOKEN || undefined
  const dir = values.config ? path.dirname(path.resolve(values.config)) : process.cwd()
  if (values.config) {
    let raw: { listen?: { http?: { ip?: string; port?: number; admin_token?: string } } }
    try {
      raw = parseToml(readFileSync(values.config, 'utf8')) as typeof raw
    } catch (err) {
      if (!url) throw new UsageError(`cannot read ${values.config} (${(err as Error).message.split('\n')[0]}): pass --url`)
      raw = {}
    }
    const http = raw.listen?.http ?? {}
    if (!url && http.port === 0) throw new UsageError(`${values.config} listens on a port chosen at start (port = 0): pass --url`)
    if (!url) {
      const ip = !http.ip || http.ip === '0.0.0.0' || http.ip === '::' ? '127.0.0.1' : http.ip
      url = `http://${ip.includes(':') ? `[${ip}]` : ip}:${http.port ?? 5280}`
    }
    token ??= http.admin_token
  }
  if (!token) {
    try {
      token = readFileSync(path.join(dir, TOKEN_FILE), 'utf8').trim() || undefined
    } catch {
      // no token file: the server will answer 401
    }
  }
  return { url: (url ?? 'http://127.0.0.1:5280').replace(/\/+$/, ''), token }
}

async function call(t: Target, method: 'GET' | 'POST', route: string): Promise<{ status: number; body: any }> {
  let res: Response
  try {
    res = await fetch(`${t.url}${route}`, { method, headers: t.token ? { authorization: `Bearer ${t.token}` } : {} })
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

async function main(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      url: { type: 'string' },
      token: { type: 'string' },
      config: { type: 'string', short: 'c' },
      host: { type: 'string' },
      json: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
  })
  const [group, action, arg, ...rest] = positionals
  const name = group === 'plugin' && action ? `plugin ${action}` : group
  if (!group) {
    if (values.help) return out(HELP.main), 0
    throw new UsageError('no command given')
  }
  if (!HELP[name]) throw new UsageError(`unknown command "${positionals.join(' ')}"`)
  if (values.help) return out(HELP[name]), 0
  const hostQuery = values.host ? `?host=${encodeURIComponent(values.host)}` : ''
  const t = target(values)

  let answer: { status: number; body: any }
  let human: (body: any) => string
  switch (name) {
    case 'plugin list':
      if (arg) throw new UsageError('plugin list takes no argument')
      answer = await call(t, 'GET', `/api/plugins${hostQuery}`)
      human = (b) => formatList(b.plugins)
      break
    case 'plugin enable':
    case 'plugin disable':
      if (!arg || rest.length) throw new UsageError(`usage: xmppctl ${name} PLUGIN --host H`)
      if (!values.host) throw new UsageError(`${name} needs --host`)
      answer = await call(t, 'POST', `/api/plugins/${encodeURIComponent(arg)}/hosts/${encodeURIComponent(values.host)}/${action}`)
      human = (b) => `${b.id} is now ${b.enabled ? 'enabled' : 'disabled'} on ${b.host}`
      break
    case 'plugin status':
      if (rest.length) throw new UsageError('usage: xmppctl plugin status [PLUGIN] [--host H]')
      answer = await call(t, 'GET', arg ? `/api/plugins/${encodeURIComponent(arg)}/status${hostQuery}` : `/api/status${hostQuery}`)
      human = (b) => formatStatus(b.plugins)
      break
    case 'metrics':
      if (action) throw new UsageError('metrics takes no argument')
      answer = await call(t, 'GET', `/api/status${hostQuery}`)
      human = (b) => formatSeed(b.plugins)
      break
    case 'reload':
      if (action) throw new UsageError('reload takes no argument')
      answer = await call(t, 'POST', '/api/reload')
      human = (b) => {
        const lines = ['config reloaded']
        for (const p of b.started) lines.push(`  started ${p.id} on ${p.host}`)
        for (const p of b.stopped) lines.push(`  stopped ${p.id} on ${p.host}`)
        if (b.restart_required.length) lines.push(`  needs a restart to take effect: ${b.restart_required.join(', ')}`)
        return lines.join('\n')
      }
      break
    default:
      throw new UsageError(`unknown command "${name}"`)
  }
  if (answer.status >= 200 && answer.status < 300) {
    out(values.json ? JSON.stringify(answer.body, null, 2) : human(answer.body))
    return 0
  }
  if (values.json) out(JSON.stringify(answer.body, null, 2))
  else {
    process.stderr.write(`xmppctl: ${answer.body?.message ?? `HTTP ${answer.status}`}\n`)
    for (const e of answer.body?.errors ?? []) process.stderr.write(`  ${e}\n`)
  }
  return 1
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err) => {
    if (err instanceof UsageError || (err as { code?: string }).code?.startsWith('ERR_PARSE_ARGS')) {
      process.stderr.write(`xmppctl: ${(err as Error).message}\nRun "xmppctl --help" for usage.\n`)
      process.exit(2)
    }
    process.stderr.write(`xmppctl: ${(err as Error).message}\n`)
    process.exit(1)
  },
)
