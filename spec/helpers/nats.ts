// A real nats-server with JetStream (Debian's package) for the specs of the JetStream outbox: on
// loopback, on a port the kernel picks (`-p -1`; the server writes the port it got to a ports
// file, `--ports_file_dir`), with a temporary store (`-sd`). It can be stopped, killed and
// restarted on the same port and store, to play an engine that goes away under load. Whatever
// still runs when the spec's process exits is killed before the temp folders are removed.
import { spawn, type ChildProcess } from 'node:child_process'
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync } from 'node:fs'
import net from 'node:net'
import path from 'node:path'
import { tempDir } from './temp-dir.js'

/** Debian installs it in /usr/sbin, which a non-root PATH may leave out. */
export const NATS_SERVER = existsSync('/usr/sbin/nats-server') ? '/usr/sbin/nats-server' : 'nats-server'

const START_TIMEOUT_MS = 10_000
const STOP_TIMEOUT_MS = 10_000
const LOG_TAIL = 100

export interface NatsOptions {
  /** The JetStream store; default a fresh temp folder. Give another server's to start on what it kept. */
  storeDir?: string
  /** Default: any free port, kept across restarts. */
  port?: number
}

export interface NatsServer {
  /** `nats://127.0.0.1:<port>`, the same after a restart. */
  readonly url: string
  readonly port: number
  readonly storeDir: string
  /** The running process's id (a new one after a restart): the bench reads its CPU time. */
  readonly pid: number
  /** True from start until the process exits. */
  readonly running: boolean
  /** The server's last log lines (stderr), for a failing spec's message. */
  log(): string
  /** SIGTERM (a clean shutdown: JetStream flushes its store), then waits for the exit. */
  stop(): Promise<void>
  /** SIGKILL, as a crash: waits for the exit. */
  kill(): Promise<void>
  /** Stops it if it runs, then starts it again on the same port and store; resolves once it accepts. */
  restart(): Promise<void>
}

const alive = new Set<ChildProcess>()
// Prepended: it must run before temp-dir.ts removes the store of a server still writing to it.
process.prependListener('exit', () => {
  for (const child of alive) child.kill('SIGKILL')
})

export async function startNats({ storeDir, port }: NatsOptions = {}): Promise<NatsServer> {
  const base = tempDir('xmppd-nats-')
  const store = storeDir ?? path.join(base, 'store')
  mkdirSync(store, { recursive: true })
  let run = await launch(store, port ?? -1, base)
  const fixedPort = run.port
  return {
    url: `nats://127.0.0.1:${fixedPort}`,
    port: fixedPort,
    storeDir: store,
    get pid() {
      return run.child.pid!
    },
    get running() {
      return run.child.exitCode === null && run.child.signalCode === null
    },
    log: () => run.log.join(''),
    stop: () => end(run, 'SIGTERM'),
    kill: () => end(run, 'SIGKILL'),
    async restart() {
      await end(run, 'SIGTERM')
      run = await launch(store, fixedPort, base)
    },
  }
}

interface Run {
  child: ChildProcess
  port: number
  log: string[]
  exited: Promise<void>
}

async function launch(store: string, port: number, base: string): Promise<Run> {
  // A fresh folder per process: the ports file is named after the pid, and nothing else is in it.
  const portsDir = mkdtempSync(path.join(base, 'ports-'))
  const child = spawn(NATS_SERVER, ['-js', '-a', '127.0.0.1', '-p', String(port), '-sd', store, '--ports_file_dir', portsDir], {
    stdio: ['ignore', 'ignore', 'pipe'],
  })
  const log: string[] = []
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => {
    log.push(chunk)
    if (log.length > LOG_TAIL) log.shift()
  })
  let spawnError: Error | undefined
  const exited = new Promise<void>((resolve) => {
    child.once('error', (err) => {
      spawnError = err
      resolve()
    })
    child.once('exit', () => {
      alive.delete(child)
      resolve()
    })
  })
  alive.add(child)
  const gone = () => spawnError ?? (child.exitCode !== null || child.signalCode !== null ? new Error('nats-server exited at start') : undefined)
  const deadline = Date.now() + START_TIMEOUT_MS
  try {
    const actual = await portFromFile(portsDir, child.pid, gone, deadline)
    await accepting(actual, gone, deadline)
    return { child, port: actual, log, exited }
  } catch (err) {
    child.kill('SIGKILL')
    await exited
    throw new Error(`${(err as Error).message}; its log:\n${log.join('')}`, { cause: err })
  }
}

/** The client port the server wrote to `<exe>_<pid>.ports` once it listened. */
async function portFromFile(dir: string, pid: number | undefined, gone: () => Error | undefined, deadline: number): Promise<number> {
  for (;;) {
    const file = readdirSync(dir).find((name) => name.endsWith(`_${pid}.ports`))
    if (file) {
      try {
        const { nats } = JSON.parse(readFileSync(path.join(dir, file), 'utf8')) as { nats: string[] }
        return Number(new URL(nats[0]).port)
      } catch {
        // Read while it was being written: once more.
      }
    }
    const err = gone()
    if (err) throw err
    if (Date.now() > deadline) throw new Error(`nats-server wrote no ports file in ${START_TIMEOUT_MS} ms`)
    await sleep(20)
  }
}

/** Resolves once a client connection gets the server's INFO line (it is serving, JetStream included). */
async function accepting(port: number, gone: () => Error | undefined, deadline: number): Promise<void> {
  for (;;) {
    const ok = await new Promise<boolean>((resolve) => {
      const socket = net.connect(port, '127.0.0.1')
      socket.setEncoding('utf8')
      // A listener that never greets is not serving yet (or is not a nats-server).
      socket.setTimeout(1000, () => {
        socket.destroy()
        resolve(false)
      })
      socket.once('data', (line: string) => {
        socket.destroy()
        resolve(line.startsWith('INFO '))
      })
      socket.once('error', () => resolve(false))
    })
    if (ok) return
    const err = gone()
    if (err) throw err
    if (Date.now() > deadline) throw new Error(`nothing accepts connections on 127.0.0.1:${port}`)
    await sleep(20)
  }
}

async function end(run: Run, signal: 'SIGTERM' | 'SIGKILL'): Promise<void> {
  const { child } = run
  if (child.exitCode !== null || child.signalCode !== null) return
  child.kill(signal)
  const stuck = setTimeout(() => child.kill('SIGKILL'), STOP_TIMEOUT_MS)
  await run.exited
  clearTimeout(stuck)
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))
