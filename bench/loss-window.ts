// 7. The loss window on kill -9, with the sqlite outbox (the default), measured two ways.
// a. How long after the hook's outbox.add() a notification is in a committed transaction (in the
//    WAL file, which survives the process's death): bench/xmppd-probe.mjs times every add to the
//    end of the flush that wrote it, at a steady 2,000 messages/s and then under a burst at full
//    speed (10 pairs x 2,000).
// b. kill -9 under load: 10 pairs send 2,000 messages/s in all, each body carrying a unique key, to
//    a live sink; after a random 1–2 s the server gets SIGKILL. What the receivers got before it
//    died was routed, so its hook ran: accepted. The server restarts on the same data dir, delivers
//    what it finds, and the sink's tally says what never arrived (lost, with how long before the
//    kill its receiver had it) and what arrived twice (at least once: in flight at the kill).
// Messages from one sender to one receiver are routed in order, so a receiver's count is the
// prefix of that pair's keys that were accepted.
import { writeConfig, configToml } from '../spec/helpers/xmppd.js'
import { blast, chatStanza, connectPairs, pairUsers, sampleSum, startServerFile, waitUntil, type Pair, type SinkProcess } from './support.js'

const PAIRS = 10
const RATE = 2000
const KILLS = 3
const KEY_SPAN = 1_000_000 // key = pair * KEY_SPAN + n

export interface Quantiles {
  count: number
  p50: number
  p90: number
  p99: number
  p999: number
  max: number
}

/** add → committed (ms), and how long the flushes took (ms). */
export interface CommitLatency extends Quantiles {
  flush: Quantiles
}

export interface KillRun {
  /** Seen by receivers before the kill. */
  accepted: number
  lost: number
  /** How long before the kill the receiver had the oldest lost one (ms); null when none was lost. */
  lost_oldest_ms: number | null
  /** Delivered more than once (in flight at the kill, sent again after the restart). */
  duplicates: number
  /** Pending found in the file by the restarted server (mod_http_notifications_recovered_total). */
  recovered: number
  /** Accepted notifications that arrived before the kill, and after the restart. */
  delivered_before_kill: number
}

export interface LossWindowResult {
  rate_per_second: number
  commit_ms_steady: CommitLatency
  commit_ms_burst: CommitLatency
  kills: KillRun[]
  accepted_total: number
  lost_total: number
  duplicates_total: number
}

const config = (sink: SinkProcess) =>
  writeConfig(
    configToml({
      users: pairUsers(PAIRS),
      extra: `
[http_connections.http_pool]
server = "${sink.url}"

[plugins.mod_event_pusher_http]
pool_name = "http_pool"
path = "/n"
`,
    }).replace('loglevel = "debug"', 'loglevel = "warn"'),
  )

/** Sends at `rate` messages/s in all until `stop()` says so; returns how many each pair sent. */
async function paced(pairs: Pair[], rate: number, stop: () => boolean, body: (pair: number, n: number) => string): Promise<number[]> {
  const sent = pairs.map(() => 0)
  const t0 = performance.now()
  while (!stop()) {
    const due = Math.floor(((performance.now() - t0) * rate) / 1000 / pairs.length)
    for (let i = 0; i < pairs.length; i++) {
      let batch = ''
      while (sent[i] < due) batch += chatStanza(`r${i}@localhost`, body(i, sent[i]++))
      if (batch) pairs[i].sender.write(batch)
    }
    await new Promise((r) => setTimeout(r, 2))
  }
  return sent
}

const close = (pairs: Pair[]) => pairs.forEach((p) => (p.sender.close(), p.receiver.close()))

async function commitLatency(sink: SinkProcess): Promise<{ steady: CommitLatency; burst: CommitLatency }> {
  const server = await startServerFile(0, config(sink), { probe: true })
  const stats = async () => (await (await fetch(`http://127.0.0.1:${server.probePort}/`)).json()) as CommitLatency
  try {
    const pairs = await connectPairs(server.c2sPort, PAIRS)
    await blast(pairs, 100) // warm-up
    await stats()
    const until = performance.now() + 3000
    await paced(
      pairs,
      RATE,
      () => performance.now() >= until,
      () => 'steady',
    )
    await waitUntil(async () => sampleSum(await server.metrics(), 'mod_http_notifications_pending', { host: 'localhost' }) === 0, 30_000)
    const steady = await stats()
    await blast(pairs, 2000)
    await waitUntil(async () => sampleSum(await server.metrics(), 'mod_http_notifications_pending', { host: 'localhost' }) === 0, 60_000)
    const burst = await stats()
    close(pairs)
    return { steady, burst }
  } finally {
    await server.stop()
  }
}

async function killRun(sink: SinkProcess): Promise<KillRun> {
  await sink.reset()
  const server = await startServerFile(0, config(sink))
  const pairs = await connectPairs(server.c2sPort, PAIRS, { times: true })
  const killAt = performance.now() + 1000 + Math.random() * 1000
  await paced(
    pairs,
    RATE,
    () => performance.now() >= killAt,
    (i, n) => `k=${i * KEY_SPAN + n}`,
  )
  const killedAt = performance.now()
  await server.kill()
  await new Promise((r) => setTimeout(r, 200)) // what was already in the receivers' sockets
  const before = await sink.keys()
  const accepted = pairs.map((p) => p.times.slice(0, p.received()))
  close(pairs)

  const again = await startServerFile(0, server.configFile)
  let recovered = 0
  try {
    await waitUntil(async () => {
      const text = await again.metrics()
      recovered = sampleSum(text, 'mod_http_notifications_recovered_total', { host: 'localhost' })
      return sampleSum(text, 'mod_http_notifications_pending', { host: 'localhost' }) === 0
    }, 60_000)
  } finally {
    await again.stop()
  }
  const after = await sink.keys()
  let lost = 0
  let oldest: number | null = null
  let duplicates = 0
  let deliveredBefore = 0
  accepted.forEach((times, i) =>
    times.forEach((t, n) => {
      const key = i * KEY_SPAN + n
      const got = after.get(key) ?? 0
      if (before.has(key)) deliveredBefore++
      if (got > 1) duplicates += got - 1
      if (got > 0) return
      lost++
      oldest = Math.max(oldest ?? -Infinity, killedAt - t)
    }),
  )
  return { accepted: accepted.reduce((n, t) => n + t.length, 0), lost, lost_oldest_ms: oldest, duplicates, recovered, delivered_before_kill: deliveredBefore }
}

export async function lossWindow(sink: SinkProcess): Promise<LossWindowResult> {
  const { steady, burst } = await commitLatency(sink)
  const kills: KillRun[] = []
  for (let i = 0; i < KILLS; i++) kills.push(await killRun(sink))
  const sum = (k: keyof KillRun) => kills.reduce((n, r) => n + Number(r[k] ?? 0), 0)
  return {
    rate_per_second: RATE,
    commit_ms_steady: steady,
    commit_ms_burst: burst,
    kills,
    accepted_total: sum('accepted'),
    lost_total: sum('lost'),
    duplicates_total: sum('duplicates'),
  }
}
