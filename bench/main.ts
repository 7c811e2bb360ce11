// npm run bench: every figure measured side by side in one run, with the ratio that matters
// (subsets: hook routing dispatch whole memory recovery loss workers outbox limits offline sm).
// Writes bench/results/<time>-<commit>.json (machine, commit, figures) and prints a table.
import { execSync } from 'node:child_process'
import { cpus, loadavg, totalmem } from 'node:os'
import { writeFileSync } from 'node:fs'
import path from 'node:path'
import { deliveryWorkers } from './delivery-workers.js'
import { dispatch } from './dispatch.js'
import { hookPath } from './hook-path.js'
import { memory } from './memory.js'
import { outboxCost } from './outbox-cost.js'
import { offlineMemory } from './offline-memory.js'
import { limitsCost } from './limits.js'
import { smCost } from './sm-cost.js'
import { lossWindow } from './loss-window.js'
import { recovery } from './recovery.js'
import { latency, routing, wholeServer } from './routing.js'
import { CORES, pinSelf, root, startSinkProcess } from './support.js'

const only = new Set(process.argv.slice(2))
const want = (name: string) => only.size === 0 || only.has(name)

// The machines are shared: the load (1, 5, 15 min) at start and end says how shared this run was.
const loadAtStart = loadavg()
pinSelf(1) // clients, sinks and in-process measurements on core 1; spawned servers on core 0
const fast = await startSinkProcess(1)
const hanging = await startSinkProcess(1, { hang: true })
const results: Record<string, unknown> = {}
const log = (s: string) => process.stdout.write(`${s}\n`)
const f = (n: number, d = 0) => n.toLocaleString('en-US', { maximumFractionDigits: d, minimumFractionDigits: d })

try {
  // Latency first, while this process (which shares its core with the sink) has little garbage:
  // a long GC here stalls the sink and shows up as a latency tail that is not the server's.
  const l = want('dispatch') ? await latency(fast) : undefined
  if (l) results.latency = l
  if (want('hook')) {
    const r = await hookPath(fast)
    results.hook_path = r
    log(`\n1. Hook path (ns per packet, in-process)`)
    log(
      `   no-op hook ${f(r.noop_ns)} | eligible, sqlite outbox ${f(r.eligible_ns)} (x${f(r.eligible_ratio, 1)}) + deferred flush ${f(r.flush_ns)} | eligible, memory outbox ${f(r.eligible_memory_ns)} | ineligible ${f(r.ineligible_ns)} (x${f(r.ineligible_ratio, 1)})`,
    )
    log(
      `   parts alone: webhook-id ${f(r.parts.webhook_id_ns)} | stored event ${f(r.parts.stored_event_ns)} | sqlite add ${f(r.parts.sqlite_add_ns)} + flush ${f(r.parts.sqlite_flush_ns)} | target: eligible under 5,000 ns (sqlite) ${r.eligible_ns < 5000 ? 'met' : 'NOT met'}`,
    )
  }
  if (want('routing')) {
    const r = await routing(hanging)
    results.routing = r
    log(`\n2. Routing, 20 pairs x 3000 messages (server on one core; median of 3 interleaved runs)`)
    log(
      `   plugin disabled ${f(r.disabled.messages_per_second)}/s | endpoint hanging ${f(r.hanging.messages_per_second)}/s (ratio ${f(r.hanging_ratio, 2)}) | breaker open ${f(r.breaker_open.messages_per_second)}/s (ratio ${f(r.breaker_open_ratio, 2)})`,
    )
  }
  if (want('dispatch')) {
    const r = await dispatch(fast)
    results.dispatch = r
    log(`\n3. Dispatch to a fast sink, concurrency 50 (client process on one core)`)
    log(
      `   plugin ${f(r.plugin.per_second)}/s, ${f(r.plugin.cpu_us)} us CPU each | bare got (promise) ${f(r.bare_got.per_second)}/s, ${f(r.bare_got.cpu_us)} us | bare got (stream) ${f(r.bare_got_stream.per_second)}/s, ${f(r.bare_got_stream.cpu_us)} us | bare node:http ${f(r.bare_http.per_second)}/s, ${f(r.bare_http.cpu_us)} us`,
    )
    log(
      `   plugin / bare got promise ${f(r.plugin_vs_got, 2)} | plugin / bare got stream ${f(r.plugin_vs_got_stream, 2)} | plugin / bare node:http ${f(r.plugin_vs_http, 2)}`,
    )
    if (l)
      log(
        `   send -> sink arrival at ${l.rate_per_second}/s (real server, one client): p50 ${f(l.p50_ms, 2)} ms, p99 ${f(l.p99_ms, 2)} ms (${l.samples} samples)`,
      )
  }
  if (want('whole')) {
    const r = await wholeServer(fast)
    results.whole_server = r
    log(`\n4. Whole server on one core, 20 pairs, 20,000 messages, each notified to a sink on the other core (median of 5, interleaved)`)
    for (const b of ['sqlite', 'memory', 'jetstream'] as const) {
      const engine = r[b].engine_cpu_us_per_message
      const nats = engine === undefined ? '' : ` + ${f(engine)} us nats-server (on core 1) = ${f(r[b].server_cpu_us_per_message + engine)} us`
      log(
        `   outbox ${b}: ${f(r[b].messages_per_second)} messages/s, ${f(r[b].server_cpu_us_per_message)} us server CPU per message${nats}; server core busy ${f(r[b].server_core_busy * 100)}%`,
      )
    }
    log(
      `   sqlite / memory: ${f(r.ratio, 2)} messages/s (each round: ${r.round_ratios.map((x) => f(x, 2)).join(', ')}; median ${f(r.median_round_ratio, 2)}), ${f(r.cpu_ratio, 2)} CPU per message | target >= 0.85: ${r.ratio >= 0.85 ? 'met' : 'NOT met'}`,
    )
    const j = r.jetstream_ratios
    log(
      `   jetstream / sqlite: ${f(j.vs_sqlite, 2)} messages/s (each round: ${j.round_vs_sqlite.map((x) => f(x, 2)).join(', ')}; median ${f(j.median_round_vs_sqlite, 2)}); jetstream / memory ${f(j.vs_memory, 2)} | server CPU per message ${f(j.server_cpu_vs_sqlite, 2)} of sqlite's, with nats-server's ${f(j.total_cpu_vs_sqlite, 2)} | target >= 0.7: ${j.vs_sqlite >= 0.7 ? 'met' : 'NOT met'}`,
    )
  }
  if (want('memory')) {
    const r = await memory()
    results.memory = r
    log(`\n5. Memory through an outage: endpoint refusing, 100k eligible packets, all pending`)
    for (const m of [r.sqlite, r.memory]) {
      log(
        `   outbox ${m.outbox} (max_queue ${f(m.max_queue)}): live heap after a full GC ${f(m.live_heap_start_mb, 1)} MB at start, ${f(m.live_heap_after_50k_mb, 1)} after 50k, ${f(m.live_heap_after_100k_mb, 1)} after 100k; RSS ${f(m.rss_start_mb, 1)} -> peak ${f(m.rss_peak_mb, 1)} MB; pending ${f(m.pending)}, failed ${f(m.failed)}${m.file_mb === undefined ? '' : `; file ${f(m.file_mb, 1)} MB`}`,
      )
    }
    log(
      `   live heap growth from 50k to 100k pending: sqlite ${f(r.sqlite_growth_50k_mb, 1)} MB (${f(r.sqlite_bytes_per_pending)} bytes per notification), memory ${f(r.memory_growth_50k_mb, 1)} MB (${f(r.memory_bytes_per_pending)} bytes) | target flat (sqlite, under 2 MB): ${Math.abs(r.sqlite_growth_50k_mb) < 2 ? 'met' : 'NOT met'}`,
    )
  }
  if (want('recovery')) {
    const r = await recovery()
    results.recovery = r
    log(`\n6. After an outage: ${f(r.backlog)} pending behind a refusing endpoint, then it comes back (defaults; 3 runs each)`)
    for (const b of ['sqlite', 'memory'] as const) {
      const runs = r[b].map((x) => `${f(x.first_delivery_ms)} / ${f(x.drained_ms)}`).join(', ')
      log(`   outbox ${b}: first delivery / backlog drained, ms after the return: ${runs}; failed ${f(r[b].reduce((n, x) => n + x.failed, 0))}`)
    }
    log(
      `   sqlite, worst run: first delivery ${f(r.first_delivery_max_ms)} ms (target about 2,000: ${r.first_delivery_max_ms <= 2500 ? 'met' : 'NOT met'}), drained ${f(r.drained_max_ms)} ms (target within 10,000: ${r.drained_max_ms <= 10_000 ? 'met' : 'NOT met'})`,
    )
  }
  if (want('loss')) {
    const r = await lossWindow(fast)
    results.loss_window = r
    const q = (x: typeof r.commit_ms_steady.flush) => `p50 ${f(x.p50, 2)}, p99 ${f(x.p99, 2)}, p99.9 ${f(x.p999, 2)}, max ${f(x.max, 2)} ms (${f(x.count)})`
    const c = (x: typeof r.commit_ms_steady) => `${q(x)}; the flushes: ${q(x.flush)}`
    log(`\n7. Loss window on kill -9, sqlite outbox`)
    log(`   outbox.add -> committed, at ${f(r.rate_per_second)} messages/s: ${c(r.commit_ms_steady)}`)
    log(`   outbox.add -> committed, burst at full speed: ${c(r.commit_ms_burst)}`)
    for (const k of r.kills)
      log(
        `   kill -9 at ${f(r.rate_per_second)}/s: accepted ${f(k.accepted)}, lost ${f(k.lost)}${k.lost_oldest_ms === null ? '' : ` (oldest received ${f(k.lost_oldest_ms, 1)} ms before the kill)`}, sent twice ${f(k.duplicates)}, recovered at restart ${f(k.recovered)}`,
      )
  }
  if (want('workers')) {
    const r = await deliveryWorkers()
    results.delivery_workers = r
    log(
      `\n8. JetStream delivery, 1 delivery worker (xmppd deliver) against 2 (2 cores, nothing pinned): ${f(r.one.notifications)} in the stream, then delivered (median of 3)`,
    )
    for (const w of [r.one, r.two])
      log(
        `   ${w.workers} worker${w.workers > 1 ? 's' : ''}: ${f(w.per_second)}/s (10%-90%), all in ${f(w.drained_ms)} ms from spawn; CPU per notification: delivering ${f(w.workers_cpu_us)} us, nats-server ${f(w.nats_cpu_us)}, sink ${f(w.sink_cpu_us)}; cores busy ${f(w.cores_busy, 2)} of 2 (other processes ${f(w.cores_busy_others, 2)}); sent ${w.sent_by_worker.map((x) => f(x)).join(' + ')}, requests ${f(w.requests)}`,
      )
    log(`   two / one: ${f(r.ratio, 2)} (each round: ${r.round_ratios.map((x) => f(x, 2)).join(', ')})`)
    const p = r.one.publish_only
    log(`   the publishing node (deliver = false, 10 clients): ${f(p.node_cpu_us)} us CPU per message routed and published, nats-server ${f(p.nats_cpu_us)} us`)
  }
  if (want('outbox')) {
    const r = await outboxCost()
    results.outbox_cost = r
    log(`\n9. The outbox alone, CPU per notification: ${f(20_000)} added in bursts of 1,000, then leased 64 at a time and settled (in-process; median of 3)`)
    for (const b of ['sqlite', 'memory', 'jetstream'] as const) {
      const c = r[b]
      const engine = c.engine_add_us === undefined ? '' : `; nats-server ${f(c.engine_add_us)} + ${f(c.engine_deliver_us!)} us`
      log(`   ${b}: add ${f(c.add_us, 1)} us, lease + settle ${f(c.deliver_us, 1)} us${engine}; in all ${f(c.total_us, 1)} us`)
    }
    log(`   jetstream / sqlite: ${f(r.jetstream_vs_sqlite, 2)} with nats-server, ${f(r.jetstream_process_vs_sqlite, 2)} the process alone`)
  }
  if (want('limits')) {
    const r = await limitsCost(fast)
    results.limits = r
    log(
      `\n10. Hostile-client limits on (defaults) against off (XMPPD_BENCH_LIMITS=off): the whole server of item 4, sqlite outbox (median of ${r.round_ratios.length}, interleaved)`,
    )
    for (const [name, x] of [
      ['on', r.on],
      ['off', r.off],
    ] as const)
      log(
        `   limits ${name}: ${f(x.messages_per_second)} messages/s, ${f(x.server_cpu_us_per_message)} us server CPU per message; server core busy ${f(x.server_core_busy * 100)}%`,
      )
    log(
      `   on / off: ${f(r.ratio, 2)} messages/s (each round: ${r.round_ratios.map((x) => f(x, 2)).join(', ')}; median ${f(r.median_round_ratio, 2)}), ${f(r.cpu_ratio, 2)} CPU per message | target >= 0.95: ${r.ratio >= 0.95 ? 'met' : 'NOT met'}`,
    )
  }
  if (want('offline')) {
    const r = await offlineMemory()
    results.offline_memory = r
    log(`\n11. Offline storage: 100 accounts that never log in get 1,000 messages each from 10 senders (no plugin)`)
    log(
      `   kept ${f(r.kept)} (refused ${f(r.refused)}) in ${f(r.keep_seconds, 1)} s, ${f(r.kept_per_second)}/s; file ${f(r.file_mb, 1)} MB; delivered at login ${f(r.delivered)}`,
    )
    log(
      `   live heap after a full GC ${f(r.live_heap_start_mb, 1)} MB at start, ${f(r.live_heap_after_50k_mb, 1)} after 50k, ${f(r.live_heap_after_100k_mb, 1)} after 100k, ${f(r.live_heap_after_delivery_mb, 1)} after delivery; RSS ${f(r.rss_start_mb, 1)} -> ${f(r.rss_end_mb, 1)} MB`,
    )
    log(
      `   growth from 50k to 100k kept: ${f(r.growth_50k_mb, 2)} MB (${f(r.bytes_per_kept)} bytes per message) | target flat (under 2 MB): ${Math.abs(r.growth_50k_mb) < 2 ? 'met' : 'NOT met'}`,
    )
  }
  if (want('sm')) {
    const r = await smCost(fast)
    results.sm = r
    log(
      `\n12. Offline storage and XEP-0198 stream management on (every client enables it) against both off: the whole server of item 4, sqlite outbox (median of ${r.round_ratios.length}, interleaved)`,
    )
    for (const [name, x] of [
      ['on', r.on],
      ['off', r.off],
    ] as const)
      log(
        `   offline + sm ${name}: ${f(x.messages_per_second)} messages/s, ${f(x.server_cpu_us_per_message)} us server CPU per message; server core busy ${f(x.server_core_busy * 100)}%`,
      )
    log(
      `   on / off: ${f(r.ratio, 2)} messages/s (each round: ${r.round_ratios.map((x) => f(x, 2)).join(', ')}; median ${f(r.median_round_ratio, 2)}), ${f(r.cpu_ratio, 2)} CPU per message | target >= 0.9: ${r.ratio >= 0.9 ? 'met' : 'NOT met'}`,
    )
  }
} finally {
  fast.stop()
  hanging.stop()
}

const commit = execSync('git rev-parse --short HEAD', { cwd: root }).toString().trim()
const dirty = execSync("git status --porcelain -- lib bench ':!bench/results'", { cwd: root }).toString().trim() !== ''
const load = { start: loadAtStart.map((x) => Number(x.toFixed(2))), end: loadavg().map((x) => Number(x.toFixed(2))) }
const machine = { cpu: cpus()[0]?.model, cores: CORES, memory_gb: Math.round(totalmem() / 2 ** 30), node: process.version, load }
const file = path.join(root, 'bench/results', `${new Date().toISOString().replace(/[:.]/g, '-')}-${commit}${dirty ? '-dirty' : ''}.json`)
writeFileSync(file, `${JSON.stringify({ commit, dirty, date: new Date().toISOString(), machine, results }, null, 2)}\n`)
log(`\nload average (1, 5, 15 min): ${load.start.join(', ')} at start, ${load.end.join(', ')} at the end`)
log(`results: ${path.relative(root, file)}`)
