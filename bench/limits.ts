// 10. What the hostile-client limits cost (issue 14): the whole server of item 4 (sqlite outbox,
//     20 pairs, 20,000 messages, each notified) with the limits on (the defaults: pre-scan of
//     every byte, stanza/header/depth bounds, forbidden characters, send-buffer check, timeouts,
//     connection caps) against the same server started with XMPPD_BENCH_LIMITS=off, interleaved.
//     The target: at least 0.95x the throughput with them off, in one run.
import { wholeRun, type WholeServerRun } from './routing.js'
import type { SinkProcess } from './support.js'

const ROUNDS = Number(process.env.BENCH_LIMITS_ROUNDS ?? 5)

export interface LimitsResult {
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

export async function limitsCost(fastSink: SinkProcess): Promise<LimitsResult> {
  const on: WholeServerRun[] = []
  const off: WholeServerRun[] = []
  const round_ratios: number[] = []
  for (let round = 0; round < ROUNDS; round++) {
    // Alternating which goes first, so neither always runs on a warmer (or busier) machine.
    const pair = async (limitsOff: boolean) => (limitsOff ? off : on).push(await wholeRun('sqlite', fastSink, limitsOff ? { XMPPD_BENCH_LIMITS: 'off' } : {}))
    if (round % 2 === 0) {
      await pair(false)
      await pair(true)
    } else {
      await pair(true)
      await pair(false)
    }
    round_ratios.push(on[round].messages_per_second / off[round].messages_per_second)
  }
  const rate = (r: WholeServerRun) => r.messages_per_second
  const onMedian = medianBy(on, rate)
  const offMedian = medianBy(off, rate)
  return {
    on: onMedian,
    off: offMedian,
    ratio: onMedian.messages_per_second / offMedian.messages_per_second,
    cpu_ratio:
      medianBy(on, (r) => r.server_cpu_us_per_message).server_cpu_us_per_message / medianBy(off, (r) => r.server_cpu_us_per_message).server_cpu_us_per_message,
    round_ratios,
    median_round_ratio: medianBy(round_ratios, (x) => x),
  }
}
