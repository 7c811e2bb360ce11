// 12. What offline storage and XEP-0198 stream management cost (issue 15): the whole server of
//     item 4 (sqlite outbox, 20 pairs, 20,000 messages, each notified) with offline storage on
//     (the default) and every client enabling stream management (the server counts and queues
//     each stanza until acknowledged, asks <r/> after 5, answers the senders' <r/> after each
//     batch of 50) against general.max_offline_messages = 0 and clients without it, interleaved.
//     The target: at least 0.9x the throughput with both off, in one run.
import { onOff, type OnOffResult } from './on-off.js'
import { wholeRun } from './routing.js'
import type { SinkProcess } from './support.js'

const ROUNDS = Number(process.env.BENCH_SM_ROUNDS ?? 5)

export const smCost = (fastSink: SinkProcess): Promise<OnOffResult> =>
  onOff(ROUNDS, (sm) => wholeRun('sqlite', fastSink, {}, sm ? { sm } : { sm, general: { max_offline_messages: 0 } }))
