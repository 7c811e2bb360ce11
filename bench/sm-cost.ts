// 12. What offline storage and XEP-0198 stream management cost (issue 15): the whole server of
//     item 4 (sqlite outbox, 20 pairs, 20,000 messages, each notified) with offline storage on
//     (the default) and every client enabling stream management (the server counts and queues
//     each stanza until acknowledged, asks <r/> after 5, answers the senders' <r/> after each
//     batch of 50) against general.max_offline_messages = 0 and clients without it, interleaved.
//     The target: at least 0.9x the throughput with both off, in one run.
import { wholeRun, type WholeServerRun } from './routing.js'
import type { SinkProcess } from './support.js'

const ROUNDS = Number(process.env.BENCH_SM_ROUNDS ?? 5)

export interface SmCostResult {
  on: WholeServerRun
  off: WholeServerRun
  /** messages/s, on / off (medians). */
  ratio: number
  /** Server CPU per message, on / off (medians). */
  cpu_ratio: number
  round_ratios: number[]
  median_round_ratio: number
}

const medianBy = <T>(xs: T[], key: (x: T) => number): T => [...xs].sort((a, b) => key(a) - key(b))[Math.floor(xs.length / 2)]

export async function smCost(fastSink: SinkProcess): Promise<SmCostResult> {
  const on: WholeServerRun[] = []
  const off: WholeServerRun[] = []
  const round_ratios: number[] = []
  for (let round = 0; round < ROUNDS; round++) {
    // Alternating which goes first, so neither always runs on a warmer (or busier) machine.
    const pair = async (sm: boolean) => (sm ? on : off).push(await wholeRun('sqlite', fastSink, {}, sm ? { sm } : { sm, general: { max_offline_messages: 0 } }))
    for (const sm of round % 2 === 0 ? [true, false] : [false, true]) await pair(sm)
    round_ratios.push(on[round].messages_per_second / off[round].messages_per_second)
  }
  const rate = (r: WholeServerRun) => r.messages_per_second
  const cpu = (r: WholeServerRun) => r.server_cpu_us_per_message
  const onMedian = medianBy(on, rate)
  const offMedian = medianBy(off, rate)
  return {
    on: onMedian,
    off: offMedian,
    ratio: onMedian.messages_per_second / offMedian.messages_per_second,
    cpu_ratio: cpu(medianBy(on, cpu)) / cpu(medianBy(off, cpu)),
    round_ratios,
    median_round_ratio: medianBy(round_ratios, (x) => x),
  }
}
