// The real xmppd as its own process (the built CLI), for specs about what outlives a process:
// kill -9, SIGTERM and a restart on the same config and data dir. Its numbers come from /metrics.
// Also a delivery worker, `xmppd deliver`, which has an HTTP port and no c2s port.
import { spawnBin, sample, type Spawned } from './xmppd.js'

export interface XmppdProcess {
  run: Spawned
  c2sPort: number
  httpPort: number
  metricsText(): Promise<string>
  /** The plugin's counts on one vhost, summed over handlers and reasons, from /metrics. */
  counts(host?: string): Promise<ProcessCounts>
  /** Sends the signal and resolves with the exit code (null when the signal ended it). */
  stop(signal: NodeJS.Signals): Promise<number | null>
}

export interface ProcessCounts {
  accepted: number
  recovered: number
  sent: number
  failed: number
  queueFull: number
  pending: number
}

/** Starts `xmppd --config FILE` (log level info: debug lines per stanza would cost CPU here). */
export async function startXmppdProcess(configFile: string): Promise<XmppdProcess> {
  const run = spawnBin('xmppd', ['--config', configFile, '--log-level', 'info'])
  let ports: [RegExpMatchArray, RegExpMatchArray]
  try {
    ports = await Promise.all([run.waitFor(/"port":(\d+),"hosts"/, 15_000), run.waitFor(/"port":(\d+),"token_source"/, 15_000)])
  } catch (err) {
    run.child.kill('SIGKILL')
    throw err
  }
  return { c2sPort: Number(ports[0][1]), ...overHttp(run, Number(ports[1][1])) }
}

export type DeliverProcess = Omit<XmppdProcess, 'c2sPort'>

/**
 * Starts `xmppd deliver --config FILE` (log level info); `spawnIt` runs another entry with the
 * same arguments (a spec's launcher that mounts a fixture plugin). Resolves once it serves HTTP.
 */
export async function startDeliverProcess(configFile: string, spawnIt = (args: string[]) => spawnBin('xmppd', ['deliver', ...args])): Promise<DeliverProcess> {
  const run = spawnIt(['--config', configFile, '--log-level', 'info'])
  let port: RegExpMatchArray
  try {
    ;[port] = await Promise.all([run.waitFor(/"port":(\d+),"token_source"/, 15_000), run.waitFor(/"msg":"delivery worker/, 15_000)])
  } catch (err) {
    run.child.kill('SIGKILL')
    throw err
  }
  return overHttp(run, Number(port[1]))
}

function overHttp(run: Spawned, httpPort: number): DeliverProcess {
  const metricsText = async () => (await fetch(`http://127.0.0.1:${httpPort}/metrics`)).text()
  return {
    run,
    httpPort,
    metricsText,
    async counts(host = 'localhost') {
      const text = await metricsText()
      return {
        accepted: sample(text, 'mod_http_notifications_accepted_total', { host }) ?? 0,
        recovered: sample(text, 'mod_http_notifications_recovered_total', { host }) ?? 0,
        sent: sample(text, 'mod_http_notifications_sent_total', { host }) ?? 0,
        failed: sum(text, 'mod_http_notifications_failed_total', host),
        queueFull: sample(text, 'mod_http_notifications_failed_total', { host, reason: 'queue_full' }) ?? 0,
        pending: sum(text, 'mod_http_notifications_pending', host),
      }
    },
    async stop(signal) {
      if (run.child.exitCode === null && run.child.signalCode === null) run.child.kill(signal)
      return run.exit
    },
  }
}

/** A series summed over every label but host. */
function sum(text: string, name: string, host: string): number {
  let n = 0
  for (const line of text.split('\n')) {
    const m = /^([a-zA-Z_:][\w:]*)\{([^}]*)\} (\S+)$/.exec(line)
    if (m && m[1] === name && m[2].includes(`host="${host}"`)) n += Number(m[3])
  }
  return n
}

/** Polls the process's counts until `done` holds; throws with the last counts after timeoutMs. */
export async function countsWhen(p: DeliverProcess, done: (c: ProcessCounts) => boolean, timeoutMs = 30_000): Promise<ProcessCounts> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const c = await p.counts()
    if (done(c)) return c
    if (Date.now() > deadline) throw new Error(`counts never reached the expected state: ${JSON.stringify(c)}`)
    await new Promise((r) => setTimeout(r, 50))
  }
}

/** accepted + recovered = sent + failed + pending, from one scrape. */
export function balanced(c: ProcessCounts): boolean {
  return c.accepted + c.recovered === c.sent + c.failed + c.pending
}
