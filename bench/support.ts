// What the benchmarks share: child processes pinned to cores, a fast sink process, the real
// xmppd from dist/, CPU time of a process, raw XMPP clients that blast pre-serialised stanzas.
import { fork, spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { readFileSync } from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { jid, type JID } from '@xmpp/jid'
import type { Element } from '../lib/contract.js'
import { RawXmpp } from '../spec/helpers/raw-xmpp.js'
import { element } from '../spec/helpers/stanza.js'
import { configToml, writeConfig } from '../spec/helpers/xmppd.js'

export const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..')
export const CORES = Number(spawnSync('nproc').stdout?.toString().trim() || '1')
const canPin = CORES >= 2 && spawnSync('taskset', ['-c', '0', 'true']).status === 0

/** Pins this process to a core (no-op where taskset or a second core is missing). */
export function pinSelf(core: number): void {
  if (canPin) spawnSync('taskset', ['-p', '-c', String(core), String(process.pid)], { stdio: 'ignore' })
}

/**
 * `core` undefined: every core, for the scheduler to place it (as on a machine running only
 * this). Said explicitly: a child inherits the bench process's own pinning (core 1) otherwise.
 */
const cpuList = (core: number | undefined) => (core === undefined ? `0-${CORES - 1}` : String(core))

const pinned = (core: number | undefined, cmd: string, args: string[]) =>
  (canPin ? ['taskset', ['-c', cpuList(core), cmd, ...args]] : [cmd, args]) as [string, string[]]

/** Pins every thread of a running process (a Go program's too: new threads inherit it); undefined: every core. */
export function pinProcess(pid: number, core: number | undefined): void {
  if (canPin) spawnSync('taskset', ['-a', '-p', '-c', cpuList(core), String(pid)], { stdio: 'ignore' })
}

export interface SinkTimes {
  count: number
  /** When it last came up, the first and the last request since the reset (epoch ms). */
  upAt: number
  firstAt: number
  lastAt: number
}

export interface SinkProcess {
  url: string
  /** CPU time (user + system) the sink has used, in microseconds. */
  cpuMicros(): number
  count(): Promise<number>
  latencies(): Promise<number[]>
  times(): Promise<SinkTimes>
  /** How many requests carried each key ("k=<n>" in the message) since the reset. */
  keys(): Promise<Map<number, number>>
  reset(): Promise<void>
  /** The port refuses connections until up(). */
  down(): Promise<void>
  /** Listens again on the same port; resolves with the time it did (epoch ms). */
  up(): Promise<number>
  stop(): void
}

function ask<T>(child: ChildProcess, msg: string, key: string): Promise<T> {
  return new Promise((resolve, reject) => {
    const on = (m: Record<string, T>) => {
      if ('error' in m) {
        child.off('message', on)
        reject(new Error(String(m.error)))
      } else if (key in m) {
        child.off('message', on)
        resolve(m[key])
      }
    }
    child.on('message', on)
    child.send(msg)
  })
}

export async function startSinkProcess(core: number | undefined, opts: { hang?: boolean } = {}): Promise<SinkProcess> {
  const child = fork(path.join(root, 'bench/sink-process.mjs'), opts.hang ? ['--hang'] : [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] })
  pinProcess(child.pid!, core)
  const { port } = await new Promise<{ port: number }>((resolve) => child.once('message', (m) => resolve(m as { port: number })))
  return {
    url: `http://127.0.0.1:${port}`,
    cpuMicros: () => cpuMicrosOf(child.pid!),
    count: () => ask<number>(child, 'count', 'count'),
    latencies: () => ask<number[]>(child, 'latencies', 'latencies'),
    times: () => ask<SinkTimes>(child, 'times', 'times'),
    keys: async () => new Map((await ask<Array<[string, number]>>(child, 'keys', 'keys')).map(([k, n]) => [Number(k), n])),
    reset: async () => void (await ask<number>(child, 'reset', 'count')),
    down: async () => void (await ask<boolean>(child, 'down', 'down')),
    up: () => ask<number>(child, 'up', 'up'),
    stop: () => void child.kill(),
  }
}

export interface ServerProcess {
  c2sPort: number
  httpPort: number
  pid: number
  /** Its config file: a restart on it finds the same data dir (the outbox file). */
  configFile: string
  /** The probe's port (bench/xmppd-probe.mjs), when started with it. */
  probePort: number | undefined
  /** CPU time (user + system) the process has used, in microseconds. */
  cpuMicros(): number
  rssBytes(): number
  /** Forces a full GC in the server, then reads its live heap (bytes). */
  liveHeapBytes(): Promise<number>
  metrics(): Promise<string>
  stop(): Promise<void>
  /** kill -9: no shutdown of any kind. */
  kill(): Promise<void>
}

const TICK_US = 1e6 / Number(spawnSync('getconf', ['CLK_TCK']).stdout?.toString().trim() || '100')

export function cpuMicrosOf(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ')
  return (Number(fields[11]) + Number(fields[12])) * TICK_US // utime, stime
}

/** CPU time every core of the machine has spent busy (anyone's processes), in microseconds. */
export function machineBusyMicros(): number {
  const [, user, nice, system, , , irq, softirq, steal] = readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).map(Number)
  return (user + nice + system + irq + softirq + steal) * TICK_US
}

/** Starts dist/cli/xmppd.js pinned to `core` with the bench users and `extra` TOML. */
/** `general`: more [general] keys (max_offline_messages …). */
export async function startServerProcess(
  core: number | undefined,
  users: Record<string, string>,
  extra: string,
  env?: Record<string, string>,
  general?: Record<string, number | string>,
): Promise<ServerProcess> {
  return startServerFile(core, benchConfig(users, extra, general), { env })
}

/** Starts a delivery worker, `xmppd deliver`, on `extra` TOML (its c2sPort is 0: it has none). */
export async function startDeliverProcess(core: number | undefined, extra: string): Promise<ServerProcess> {
  return startServerFile(core, benchConfig({}, extra), { deliver: true })
}

const benchConfig = (users: Record<string, string>, extra: string, general?: Record<string, number | string>) =>
  writeConfig(configToml({ users, extra, general }).replace('loglevel = "debug"', 'loglevel = "warn"'))

/** Starts xmppd on a config file (again, after a kill: same data dir); `probe` runs bench/xmppd-probe.mjs. */
export async function startServerFile(
  core: number | undefined,
  file: string,
  opts: { probe?: boolean; deliver?: boolean; env?: Record<string, string> } = {},
): Promise<ServerProcess> {
  // BENCH_SERVER_NODE_ARGS="--cpu-prof --cpu-prof-dir=DIR" profiles the server (docs/performance.md).
  const nodeArgs = ['--expose-gc', ...(process.env.BENCH_SERVER_NODE_ARGS ?? '').split(' ').filter(Boolean)]
  // BENCH_SERVER_ROOT=<another tree, built> runs the servers from there: an A/B of a lib/ change.
  const entry = path.join(process.env.BENCH_SERVER_ROOT ?? root, opts.probe ? 'bench/xmppd-probe.mjs' : 'bench/xmppd-gc.mjs')
  const [cmd, args] = pinned(core, process.execPath, [...nodeArgs, entry, ...(opts.deliver ? ['deliver'] : []), '--config', file, '--log-level', 'info'])
  const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'inherit'], env: { ...process.env, ...opts.env } })
  let out = ''
  const ports = await new Promise<{ c2s: number; http: number; probe?: number }>((resolve, reject) => {
    child.stdout!.on('data', (d) => {
      out += d
      // A delivery worker has no c2s listener: it says so once its plugins deliver.
      const c2s = opts.deliver ? (/"msg":"delivery worker/.test(out) ? ['', '0'] : null) : /"port":(\d+),"hosts"/.exec(out)
      const http = /"port":(\d+),"token_source"/.exec(out)
      const probe = /"probe_port":(\d+)/.exec(out)
      if (c2s && http && (probe || !opts.probe)) resolve({ c2s: Number(c2s[1]), http: Number(http[1]), probe: probe ? Number(probe[1]) : undefined })
    })
    child.once('exit', (code) => reject(new Error(`xmppd exited ${code}: ${out}`)))
  })
  child.stdout!.resume()
  // With taskset the child is taskset's exec'd node: same pid.
  const pid = child.pid!
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()))
  return {
    c2sPort: ports.c2s,
    httpPort: ports.http,
    pid,
    configFile: file,
    probePort: ports.probe,
    cpuMicros: () => cpuMicrosOf(pid),
    rssBytes: () => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))![1]) * 1024,
    metrics: async () => (await fetch(`http://127.0.0.1:${ports.http}/metrics`)).text(),
    async liveHeapBytes() {
      process.kill(pid, 'SIGUSR2')
      await new Promise((r) => setTimeout(r, 500))
      return sample(await (await fetch(`http://127.0.0.1:${ports.http}/metrics`)).text(), 'nodejs_heap_size_used_bytes')
    },
    async stop() {
      child.kill('SIGTERM')
      await exited
    },
    async kill() {
      child.kill('SIGKILL')
      await exited
    },
  }
}

/** n client pairs: sender i sends to receiver i. Passwords are "pw". */
export function pairUsers(n: number): Record<string, string> {
  const users: Record<string, string> = {}
  for (let i = 0; i < n; i++) {
    users[`s${i}@localhost`] = 'pw'
    users[`r${i}@localhost`] = 'pw'
  }
  return users
}

export interface Pair {
  sender: RawXmpp
  receiver: RawXmpp
  received(): number
  /** With `times`: when each message arrived (performance.now()), in order. */
  times: number[]
  /** Both ends enabled XEP-0198: the sender asks an ack after each batch, the receiver answers the server's. */
  sm: boolean
}

const SM_ENABLE = "<enable xmlns='urn:xmpp:sm:3' resume='true'/>"
// A message's end, a stanza's start, <enabled/>, and the server's <r/>, in the order they come.
const RECEIVED = /<\/message>|<(?:message|presence|iq)[\s>/]|<enabled |<r xmlns=["']urn:xmpp:sm:3["']\/>/g

export async function connectPairs(port: number, n: number, opts: { times?: boolean; sm?: boolean } = {}): Promise<Pair[]> {
  const sm = opts.sm === true
  return Promise.all(
    Array.from({ length: n }, async (_, i) => {
      const sender = await RawXmpp.connect(port)
      const receiver = await RawXmpp.connect(port)
      await sender.login(`s${i}`, 'pw', 'bench')
      await receiver.login(`r${i}`, 'pw', 'bench')
      let count = 0
      let handled = 0 // stanzas received since <enabled/> (XEP-0198's h)
      let enabled = false
      let carry = '' // a tag may be split across reads
      const times: number[] = []
      receiver.onText((chunk) => {
        const text = carry + chunk
        const now = performance.now()
        if (!sm) {
          for (let at = text.indexOf('</message>'); at !== -1; at = text.indexOf('</message>', at + 10)) {
            count++
            if (opts.times) times.push(now)
          }
          carry = text.slice(-9)
          return
        }
        let ack = false
        for (const m of text.matchAll(RECEIVED)) {
          if (m.index! + m[0].length <= carry.length) continue // counted with the previous read
          const token = m[0]
          if (token === '</message>') {
            count++
            if (opts.times) times.push(now)
          } else if (token === '<enabled ') enabled = true
          else if (token.startsWith('<r ')) ack = true
          else if (enabled) handled++
        }
        if (ack) receiver.send(`<a xmlns='urn:xmpp:sm:3' h='${handled}'/>`)
        carry = text.slice(-32)
      })
      if (sm) {
        sender.send(SM_ENABLE)
        await sender.waitFor(/<enabled /)
        receiver.send(SM_ENABLE)
        await waitUntil(() => enabled, 10_000)
      }
      receiver.send('<presence/>')
      return { sender, receiver, received: () => count, times, sm }
    }),
  )
}

export function chatStanza(to: string, body: string): string {
  return `<message to='${to}' type='chat'><body>${body}</body></message>`
}

/** Sends `perPair` messages on every pair (in batches, respecting socket backpressure) and
 * resolves when every receiver has them all; returns the elapsed seconds. */
export async function blast(pairs: Pair[], perPair: number, body: (i: number) => string = () => 'hello'): Promise<number> {
  const start = pairs.map((p) => p.received())
  const t0 = performance.now()
  await Promise.all(
    pairs.map(async (p, i) => {
      const to = `r${i}@localhost`
      for (let sent = 0; sent < perPair;) {
        let batch = ''
        for (let k = 0; k < 50 && sent < perPair; k++, sent++) batch += chatStanza(to, body(sent))
        if (p.sm) batch += "<r xmlns='urn:xmpp:sm:3'/>" // as a client asks after a run of stanzas
        if (!p.sender.write(batch)) await p.sender.drained()
      }
    }),
  )
  await waitUntil(() => pairs.every((p, i) => p.received() - start[i] >= perPair), 120_000)
  return (performance.now() - t0) / 1000
}

export async function waitUntil(check: () => boolean | Promise<boolean>, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error('timed out')
    await new Promise((r) => setTimeout(r, 5))
  }
}

export function sample(text: string, name: string, labels: Record<string, string> = {}): number {
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`) && !line.startsWith(`${name} `)) continue
    if (Object.entries(labels).every(([k, v]) => line.includes(`${k}="${v}"`))) return Number(line.split(' ').pop())
  }
  return NaN
}

/** The sum of a metric's samples that carry `labels` (every handler of a host, say). */
export function sampleSum(text: string, name: string, labels: Record<string, string> = {}): number {
  let sum = 0
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`) && !line.startsWith(`${name} `)) continue
    if (Object.entries(labels).every(([k, v]) => line.includes(`${k}="${v}"`))) sum += Number(line.split(' ').pop())
  }
  return sum
}

export function quantile(sorted: number[], q: number): number {
  if (sorted.length === 0) return NaN
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]
}

/** A typical eligible packet as the hook sees it: a chat message alice → bob with a body. */
export function chatPacket(): { packet: Element; from: JID; to: JID } {
  const packet = element('message', { to: 'bob@localhost', type: 'chat', from: 'alice@localhost/phone' })
  packet.c('body').t('hello, this is a typical chat message of a few dozen characters')
  return { packet: packet as unknown as Element, from: jid('alice@localhost/phone'), to: jid('bob@localhost') }
}
