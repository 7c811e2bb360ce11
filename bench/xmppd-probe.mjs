// The bench's xmppd with a probe on the sqlite outbox, for the loss window on kill -9: how long
// after the hook's outbox.add() a notification is in a committed transaction (in the WAL file,
// which a killed process leaves behind). It wraps SqliteOutbox's add and its WriteBatch's flush
// (every write goes through it: at the turn's end, when the accepting task ends, before a read) on
// the prototypes (the real methods still do the work) before the server loads the plugin from the same dist/
// module, and serves what it saw on its own port (printed as {"probe_port":N}): GET / answers the
// count and quantiles in ms since the last GET, and starts afresh.
import http from 'node:http'
import { WriteBatch } from '../dist/plugin/outbox/sqlite-batch.js'
import { SqliteOutbox } from '../dist/plugin/outbox/sqlite.js'

const { add } = SqliteOutbox.prototype
const { flush } = WriteBatch.prototype
/** performance.now() of each add not yet committed, in order. */
let waiting = []
let samples = []
/** How long each flush that wrote something took (ms): the event loop waits on it. */
let flushes = []

SqliteOutbox.prototype.add = function (...args) {
  const refusal = add.apply(this, args) // undefined: recorded
  if (refusal === undefined) waiting.push(performance.now())
  return refusal
}
WriteBatch.prototype.flush = function () {
  const writes = this.ops.length
  const t0 = performance.now()
  flush.call(this)
  if (writes > 0) flushes.push(performance.now() - t0)
  // A failed write keeps its batch (ops not empty): those adds are not on disk yet.
  if (this.ops.length !== 0 || waiting.length === 0) return
  const now = performance.now()
  for (const t of waiting) samples.push(now - t)
  waiting = []
}

const q = (sorted, p) => (sorted.length ? sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))] : NaN)
const stats = (list) => {
  const s = Float64Array.from(list).sort()
  return { count: s.length, p50: q(s, 0.5), p90: q(s, 0.9), p99: q(s, 0.99), p999: q(s, 0.999), max: s.length ? s[s.length - 1] : NaN }
}
const probe = http.createServer((_req, res) => {
  const body = JSON.stringify({ ...stats(samples), flush: stats(flushes) })
  samples = []
  flushes = []
  res.writeHead(200, { 'content-type': 'application/json' })
  res.end(body)
})
await new Promise((resolve) => probe.listen(0, '127.0.0.1', resolve))
probe.unref()
process.stdout.write(`${JSON.stringify({ probe_port: probe.address().port })}\n`)
await import('./xmppd-gc.mjs')
