// Several xmppd nodes on one JetStream stream, each a process of its own (in one process they would
// share one connection and one outbox: open.ts shares it by servers and stream), each with its own
// config file and so its own data_dir (xmppd-data next to the file). The cluster's numbers are
// read from every node's /metrics: counters are summed (each node counts what it accepted and what
// it delivered), the pending gauge is the stream's, the same on every node, so it is counted once.
import { bodies, chatSender } from './chat-load.js'
import { ADMIN_TOKEN, configToml, DEFAULT_USERS, spawnBin, writeConfig, type Spawned } from './xmppd.js'
import { startXmppdProcess } from './xmppd-process.js'

export interface NodeOptions {
  /** The endpoint's base URL (the pool's server). */
  endpoint: string
  /** nats://… of the one nats-server. */
  nats: string
  /** More options of [plugins.mod_event_pusher_http] (TOML lines). */
  plugin?: string
  /** More options of its [jetstream] section (TOML lines). */
  jetstream?: string
  /** ms; below ack_wait (the checks want it so). */
  requestTimeout?: number
  /** s: small, so that what a killed node held comes back quickly. */
  ackWait?: number
}

/** One node's config: the shared stream, a short ack_wait, the default breaker (reset_timeout 1 s). */
export function nodeToml(o: NodeOptions): string {
  return configToml({
    users: DEFAULT_USERS,
    extra: `
[http_connections.http_pool]
server = "${o.endpoint}"
request_timeout = ${o.requestTimeout ?? 2000}

[plugins.mod_event_pusher_http]
pool_name = "http_pool"
path = "/n"
outbox = "jetstream"
${o.plugin ?? ''}

[plugins.mod_event_pusher_http.jetstream]
servers = ["${o.nats}"]
ack_wait = ${o.ackWait ?? 5}
${o.jetstream ?? ''}
`,
  })
}

/** A process of the cluster: an XMPP node or a delivery worker. */
export interface Member {
  name: string
  configFile: string
  run: Spawned
  httpPort: number
  metricsText(): Promise<string>
  /** Its log so far (JSON lines on stdout). */
  log(): string
  /** xmppctl against its HTTP listener; resolves with the exit code and output. */
  xmppctl(...args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }>
  /** Sends the signal and resolves with the exit code (null when the signal ended it). */
  stop(signal: NodeJS.Signals): Promise<number | null>
}

export interface ClusterNode extends Member {
  c2sPort: number
  /** `n` chat messages from `user` (password `<user>-pw`) to bob, tagged `tag`; resolves once written. */
  send(user: string, tag: string, n: number): Promise<string[]>
}

export interface ClusterCounts {
  accepted: number
  replayed: number
  sent: number
  failed: number
  failedBy: Record<string, number>
  /** The stream's pending count, read on every node: the largest reading (0 only when every node says 0). */
  pending: number
}

export interface Cluster {
  members: Member[]
  /** Starts `xmppd --config FILE` on a fresh config folder. */
  start(name: string, toml: string): Promise<ClusterNode>
  /** Starts `xmppd deliver --config FILE` (a delivery worker: no c2s listener) on a fresh config folder. */
  startWorker(name: string, toml: string): Promise<Member>
  /** Sums over the members given (default: every one started and still running). */
  counts(among?: Member[]): Promise<ClusterCounts>
  /** Polls counts() until `done` holds; throws with the last counts after timeoutMs. */
  countsWhen(done: (c: ClusterCounts) => boolean, timeoutMs?: number, among?: Member[]): Promise<ClusterCounts>
  /** SIGKILLs whatever still runs (members, senders). */
  close(): Promise<void>
}

export function cluster(host = 'localhost'): Cluster {
  const members: Member[] = []
  const closers: Array<() => unknown> = []
  const alive = (m: Member) => m.run.child.exitCode === null && m.run.child.signalCode === null

  const member = (name: string, configFile: string, run: Spawned, httpPort: number): Member => {
    const m: Member = {
      name,
      configFile,
      run,
      httpPort,
      metricsText: async () => (await fetch(`http://127.0.0.1:${httpPort}/metrics`)).text(),
      log: () => run.stdout(),
      async xmppctl(...args) {
        const ctl = spawnBin('xmppctl', ['--url', `http://127.0.0.1:${httpPort}`, '--token', ADMIN_TOKEN, ...args])
        const code = await ctl.exit
        return { code, stdout: ctl.stdout(), stderr: ctl.stderr() }
      },
      async stop(signal) {
        if (alive(m)) run.child.kill(signal)
        return run.exit
      },
    }
    closers.push(() => m.stop('SIGKILL'))
    members.push(m)
    return m
  }

  const self: Cluster = {
    members,
    async start(name, toml) {
      const configFile = writeConfig(toml)
      const p = await startXmppdProcess(configFile)
      return Object.assign(member(name, configFile, p.run, p.httpPort), {
        c2sPort: p.c2sPort,
        async send(user: string, tag: string, n: number) {
          const sender = await chatSender(p.c2sPort, user, `${user}-pw`)
          closers.push(() => sender.close())
          const messages = bodies(tag, n)
          await sender.send('bob@localhost', messages)
          return messages
        },
      })
    },
    async startWorker(name, toml) {
      const configFile = writeConfig(toml)
      const run = spawnBin('xmppd', ['deliver', '--config', configFile, '--log-level', 'info'])
      let m: RegExpMatchArray
      try {
        m = await run.waitFor(/"port":(\d+),"token_source"/, 15_000)
      } catch (err) {
        run.child.kill('SIGKILL')
        throw new Error(`${(err as Error).message}\nstderr:\n${run.stderr()}`, { cause: err })
      }
      return member(name, configFile, run, Number(m[1]))
    },
    async counts(among = members.filter(alive)) {
      const total: ClusterCounts = { accepted: 0, replayed: 0, sent: 0, failed: 0, failedBy: {}, pending: 0 }
      for (const n of among) {
        const text = await n.metricsText()
        total.accepted += series(text, 'mod_http_notifications_accepted_total', host)
        total.replayed += series(text, 'mod_http_notifications_replayed_total', host)
        total.sent += series(text, 'mod_http_notifications_sent_total', host)
        for (const [reason, v] of Object.entries(byLabel(text, 'mod_http_notifications_failed_total', host, 'reason'))) {
          total.failedBy[reason] = (total.failedBy[reason] ?? 0) + v
          total.failed += v
        }
        total.pending = Math.max(total.pending, series(text, 'mod_http_notifications_pending', host))
      }
      return total
    },
    async countsWhen(done, timeoutMs = 60_000, among) {
      const deadline = Date.now() + timeoutMs
      for (;;) {
        const c = await self.counts(among)
        if (done(c)) return c
        if (Date.now() > deadline) throw new Error(`cluster counts never reached the expected state: ${JSON.stringify(c)}`)
        await new Promise((r) => setTimeout(r, 100))
      }
    },
    async close() {
      for (const c of closers.splice(0).reverse()) await c()
    },
  }
  return self
}

/**
 * Σaccepted + Σreplayed = Σsent + Σfailed + pending, pending once: the cluster-wide invariant
 * (true at a quiet moment when no node was killed: a killed node's counters die with it).
 */
export const clusterBalanced = (c: ClusterCounts): boolean => c.accepted + c.replayed === c.sent + c.failed + c.pending

/** A series of one host summed over its other labels. */
export function series(text: string, name: string, host: string): number {
  return Object.values(byLabel(text, name, host, '')).reduce((a, b) => a + b, 0)
}

/** A series of one host, summed per value of `label` ('' when it has none). */
function byLabel(text: string, name: string, host: string, label: string): Record<string, number> {
  const out: Record<string, number> = {}
  for (const line of text.split('\n')) {
    const m = /^([a-zA-Z_:][\w:]*)\{([^}]*)\} (\S+)$/.exec(line)
    if (!m || m[1] !== name) continue
    const labels = Object.fromEntries([...m[2].matchAll(/(\w+)="([^"]*)"/g)].map((x) => [x[1], x[2]]))
    if (labels.host !== host) continue
    const k = labels[label] ?? ''
    out[k] = (out[k] ?? 0) + Number(m[3])
  }
  return out
}
