// Starts the real xmppd (or a delivery worker) in this process from a TOML config (ports 0, the
// fixture certificate), collecting its log lines; and spawns the real CLI for specs about the
// process itself.
import { writeFileSync } from 'node:fs'
import path from 'node:path'
import { Writable } from 'node:stream'
import { spawn, type ChildProcess } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { readConfigFile } from '../../lib/server/config/load.js'
import { startServer, type ServerOptions, type XmppServer } from '../../lib/server/main.js'
import { startDeliveryWorker, type DeliveryWorker } from '../../lib/server/deliver.js'
import { tempDir } from './temp-dir.js'

export const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..')
export const fixtureCert = path.join(root, 'spec/fixtures/tls/cert.pem')
export const fixtureKey = path.join(root, 'spec/fixtures/tls/key.pem')

export interface TestConfig {
  hosts?: string[]
  users?: Record<string, string>
  admins?: string[]
  /** More TOML appended as is (pools, plugins, host_config ...). */
  extra?: string
  /** Leave out certfile/keyfile (the server generates a certificate). */
  generatedCert?: boolean
  maxStanzaSize?: number
  /** More [listen.c2s] keys (handshake_timeout, max_connections_per_ip ...). */
  c2s?: Record<string, number>
  /** listen.c2s.port (default 0: any free port). */
  c2sPort?: number
  /** More [general] keys (max_offline_messages ...). */
  general?: Record<string, number | string>
}

export const DEFAULT_USERS = { 'alice@localhost': 'alice-pw', 'bob@localhost': 'bob-pw', 'carol@localhost': 'carol-pw' }

export function configToml(c: TestConfig = {}): string {
  const hosts = c.hosts ?? ['localhost']
  const users = c.users ?? DEFAULT_USERS
  return `
[general]
hosts = ${JSON.stringify(hosts)}
admins = ${JSON.stringify(c.admins ?? [])}
loglevel = "debug"
${Object.entries(c.general ?? {})
  .map(([k, v]) => `${k} = ${JSON.stringify(v)}`)
  .join('\n')}

[listen.c2s]
ip = "127.0.0.1"
port = ${c.c2sPort ?? 0}
${c.maxStanzaSize ? `max_stanza_size = ${c.maxStanzaSize}` : ''}
${Object.entries(c.c2s ?? {})
  .map(([k, v]) => `${k} = ${v}`)
  .join('\n')}
${c.generatedCert ? '' : `certfile = ${JSON.stringify(fixtureCert)}\nkeyfile = ${JSON.stringify(fixtureKey)}`}

[listen.http]
ip = "127.0.0.1"
port = 0
admin_token = "spec-admin-token-0123456789"

[auth.users]
${Object.entries(users)
  .map(([j, p]) => `${JSON.stringify(j)} = ${JSON.stringify(p)}`)
  .join('\n')}

${c.extra ?? ''}
`
}

export const ADMIN_TOKEN = 'spec-admin-token-0123456789'

/**
 * Writes xmppd.toml (and `files` beside it) into a fresh temp folder, removed when the spec's
 * process exits. Without a data_dir the server keeps its state in xmppd-data/ in that folder.
 */
export function writeConfig(toml: string, files: Record<string, string> = {}): string {
  const dir = tempDir('xmppd-spec-')
  for (const [name, text] of Object.entries(files)) writeFileSync(path.join(dir, name), text)
  const file = path.join(dir, 'xmppd.toml')
  writeFileSync(file, toml)
  return file
}

export interface TestServer extends XmppServer {
  logs: Array<Record<string, unknown>>
  configFile: string
  metricsText(): Promise<string>
}

/** `opts`: more server options (extraPlugins), besides the log destination the helper sets. */
export async function startTestServer(c: TestConfig | string = {}, files: Record<string, string> = {}, opts: ServerOptions = {}): Promise<TestServer> {
  return startTestServerAt(writeConfig(typeof c === 'string' ? c : configToml(c), files), opts)
}

/** A server on an existing config file (a restart: the same folder, so the same data dir). */
export async function startTestServerAt(configFile: string, opts: ServerOptions = {}): Promise<TestServer> {
  const { logs, destination } = collectLogs()
  const server = await startServer(readConfigFile(configFile), { ...opts, logDestination: destination })
  return Object.assign(server, { logs, configFile, metricsText: () => metricsOf(server.httpPort) })
}

export interface TestWorker extends DeliveryWorker {
  logs: Array<Record<string, unknown>>
  configFile: string
  metricsText(): Promise<string>
}

/** A delivery worker (`xmppd deliver`) in this process, on an existing config file. */
export async function startTestWorkerAt(configFile: string, opts: ServerOptions = {}): Promise<TestWorker> {
  const { logs, destination } = collectLogs()
  const worker = await startDeliveryWorker(readConfigFile(configFile), { ...opts, logDestination: destination })
  return Object.assign(worker, { logs, configFile, metricsText: () => metricsOf(worker.httpPort) })
}

function collectLogs() {
  const logs: Array<Record<string, unknown>> = []
  const destination = new Writable({
    write(chunk, _enc, done) {
      for (const line of String(chunk).split('\n')) if (line) logs.push(JSON.parse(line))
      done()
    },
  })
  return { logs, destination: destination as never }
}

async function metricsOf(httpPort: number): Promise<string> {
  return (await fetch(`http://127.0.0.1:${httpPort}/metrics`)).text()
}

/** A metric sample's value from the Prometheus text, or undefined. */
export function sample(text: string, name: string, labels: Record<string, string> = {}): number | undefined {
  for (const line of text.split('\n')) {
    if (!line.startsWith(name)) continue
    const m = /^([a-zA-Z_:][\w:]*)(\{[^}]*\})? (\S+)$/.exec(line)
    if (!m || m[1] !== name) continue
    const got = Object.fromEntries([...(m[2] ?? '').matchAll(/(\w+)="([^"]*)"/g)].map((x) => [x[1], x[2]]))
    if (Object.entries(labels).every(([k, v]) => got[k] === v)) return Number(m[3])
  }
  return undefined
}

export interface Spawned {
  child: ChildProcess
  stdout: () => string
  stderr: () => string
  /** Resolves when stdout matches. */
  waitFor(re: RegExp, timeoutMs?: number): Promise<RegExpMatchArray>
  exit: Promise<number | null>
}

/** Runs the built CLI (dist/cli/<bin>.js). */
export function spawnBin(bin: 'xmppd' | 'xmppctl', args: string[], env: NodeJS.ProcessEnv = {}, cwd = root): Spawned {
  return spawnNode([path.join(root, 'dist/cli', `${bin}.js`), ...args], env, cwd)
}

/** Runs node with these arguments (a spec's own entry script: `--import tsx file.ts ...`). */
export function spawnNode(args: string[], env: NodeJS.ProcessEnv = {}, cwd = root): Spawned {
  const child = spawn(process.execPath, args, {
    cwd,
    env: { ...process.env, ...env },
    stdio: ['pipe', 'pipe', 'pipe'],
  })
  let out = ''
  let err = ''
  child.stdout!.on('data', (d) => (out += d))
  child.stderr!.on('data', (d) => (err += d))
  const exit = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)))
  return {
    child,
    stdout: () => out,
    stderr: () => err,
    exit,
    waitFor(re, timeoutMs = 10000) {
      return new Promise((resolve, reject) => {
        const deadline = setTimeout(() => reject(new Error(`timed out waiting for ${re} in:\n${out}\n${err}`)), timeoutMs)
        const check = () => {
          const m = out.match(re)
          if (m) {
            clearTimeout(deadline)
            child.stdout!.off('data', check)
            resolve(m)
          }
        }
        child.stdout!.on('data', check)
        check()
      })
    },
  }
}

/** Runs the built xmppctl against a running server's HTTP port with the spec token; resolves with its exit code and output. */
export async function xmppctlOn(server: { httpPort: number }, ...args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const p = spawnBin('xmppctl', ['--url', `http://127.0.0.1:${server.httpPort}`, '--token', ADMIN_TOKEN, ...args])
  const code = await p.exit
  return { code, stdout: p.stdout(), stderr: p.stderr() }
}
