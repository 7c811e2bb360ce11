// npm run bench: every figure measured side by side in one run, with the ratio that matters.
// Writes bench/results/<time>-<commit>.json (machine, commit, figures) and prints a table.
import { execSync } from 'node:child_process'
import { cpus, totalmem } from 'node:os'
import { writeFileSync } from 'node:fs'
import path from 'node:path'
import { dispatch } from './dispatch.js'
import { hookPath } from './hook-path.js'
import { memory } from './memory.js'
import { latency, routing, wholeServer } from './routing.js'
import { CORES, pinSelf, root, startSinkProcess } from './support.js'

const only = new Set(process.argv.slice(2))
const want = (name: string) => only.size === 0 || only.has(name)

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
      `   no-op hook ${f(r.noop_ns)} | plugin, eligible ${f(r.eligible_ns)} (x${f(r.eligible_ratio, 1)}) | plugin, ineligible ${f(r.ineligible_ns)} (x${f(r.ineligible_ratio, 1)})`,
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
    log(`\n4. Whole server on one core, 20 pairs, 20,000 messages, each notified to a sink on the other core (median of 3)`)
    log(
      `   ${f(r.messages_per_second)} messages/s, ${f(r.server_cpu_us_per_message)} us server CPU per message (reference: 3,000/s at 330 us; 4,000/s at 240 us warm)`,
    )
  }
  if (want('memory')) {
    const r = await memory(hanging)
    results.memory = r
    log(`\n5. Memory, endpoint hanging, max_queue ${f(r.max_queue)}`)
    log(
      `   live heap after a full GC: start ${f(r.live_heap_start_mb, 1)} MB, after 50k ${f(r.live_heap_after_50k_mb, 1)} MB, after 100k ${f(r.live_heap_after_100k_mb, 1)} MB`,
    )
    log(
      `   RSS start ${f(r.rss_start_mb, 1)} MB, peak ${f(r.rss_peak_mb, 1)} MB, end ${f(r.rss_end_mb, 1)} MB; queue depth ${f(r.queue_depth)} (max_queue ${f(r.max_queue)}); queue_full ${f(r.queue_full)}`,
    )
  }
} finally {
  fast.stop()
  hanging.stop()
}

const commit = execSync('git rev-parse --short HEAD', { cwd: root }).toString().trim()
const dirty = execSync("git status --porcelain -- lib bench ':!bench/results'", { cwd: root }).toString().trim() !== ''
const machine = { cpu: cpus()[0]?.model, cores: CORES, memory_gb: Math.round(totalmem() / 2 ** 30), node: process.version }
const file = path.join(root, 'bench/results', `${new Date().toISOString().replace(/[:.]/g, '-')}-${commit}${dirty ? '-dirty' : ''}.json`)
writeFileSync(file, `${JSON.stringify({ commit, dirty, date: new Date().toISOString(), machine, results }, null, 2)}\n`)
log(`\nresults: ${path.relative(root, file)}`)
