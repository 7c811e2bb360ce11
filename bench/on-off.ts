// An A/B of the whole server (items 10 and 12): one feature on against off, interleaved round by
// round and alternating which goes first, so neither always runs on a warmer (or busier) machine.
// Reports each side's median run, their ratios, and the ratio of each round with its median.
import type { WholeServerRun } from './routing.js'

export interface OnOffResult {
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

export async function onOff(rounds: number, run: (on: boolean) => Promise<WholeServerRun>): Promise<OnOffResult> {
  const on: WholeServerRun[] = []
  const off: WholeServerRun[] = []
  const round_ratios: number[] = []
  for (let round = 0; round < rounds; round++) {
    for (const isOn of round % 2 === 0 ? [true, false] : [false, true]) (isOn ? on : off).push(await run(isOn))
    round_ratios.push(on[round].messages_per_second / off[round].messages_per_second)
  }
  const rate = (r: WholeServerRun) => r.messages_per_second
  const cpu = (r: WholeServerRun) => r.server_cpu_us_per_message
  const onMedian = medianBy(on, rate)
  const offMedian = medianBy(off, rate)
  return {
    on: onMedian,
    off: offMedian,
    ratio: rate(onMedian) / rate(offMedian),
    cpu_ratio: cpu(medianBy(on, cpu)) / cpu(medianBy(off, cpu)),
    round_ratios,
    median_round_ratio: medianBy(round_ratios, (x) => x),
  }
}
