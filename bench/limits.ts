// 10. What the hostile-client limits cost (issue 14): the whole server of item 4 (sqlite outbox,
//     20 pairs, 20,000 messages, each notified) with the limits on (the defaults: pre-scan of
//     every byte, stanza/header/depth bounds, forbidden characters, send-buffer check, timeouts,
//     connection caps) against the same server started with XMPPD_BENCH_LIMITS=off, interleaved.
//     The target: at least 0.95x the throughput with them off, in one run.
import { onOff, type OnOffResult } from './on-off.js'
import { wholeRun } from './routing.js'
import type { SinkProcess } from './support.js'

const ROUNDS = Number(process.env.BENCH_LIMITS_ROUNDS ?? 5)

export const limitsCost = (fastSink: SinkProcess): Promise<OnOffResult> =>
  onOff(ROUNDS, (on) => wholeRun('sqlite', fastSink, on ? {} : { XMPPD_BENCH_LIMITS: 'off' }))
