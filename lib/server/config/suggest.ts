// "Did you mean …" for names typed by hand (config keys, plugin ids, vhosts): the closest known
// name, offered only when it is close. Hand-written rather than a package: typos are mostly
// swapped letters ("paht"), which Levenshtein packages (leven, fastest-levenshtein) count as two
// edits; optimal string alignment counts them as one, in a dozen lines. The rule is commander.js's
// for unknown commands: at most two edits, and more than 40 % of the longer name left intact.

const MAX_EDITS = 2
const MIN_SIMILARITY = 0.4

/** Edits (insert, delete, substitute, swap two neighbours) that turn `a` into `b`. */
function editDistance(a: string, b: string): number {
  const d: number[][] = Array.from({ length: a.length + 1 }, (_, i) => [i, ...Array<number>(b.length).fill(0)])
  for (let j = 1; j <= b.length; j++) d[0][j] = j
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1
      d[i][j] = Math.min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost)
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) d[i][j] = Math.min(d[i][j], d[i - 2][j - 2] + 1)
    }
  }
  return d[a.length][b.length]
}

/** The known name closest to `name` (case aside), if one is close enough; the first on a tie. */
export function closest(name: string, known: Iterable<string>): string | undefined {
  let best: string | undefined
  let bestDistance = MAX_EDITS + 1
  for (const candidate of known) {
    if (candidate === name) continue
    const distance = editDistance(name.toLowerCase(), candidate.toLowerCase())
    const length = Math.max(name.length, candidate.length)
    if (distance < bestDistance && (length - distance) / length > MIN_SIMILARITY) {
      best = candidate
      bestDistance = distance
    }
  }
  return best
}

/** `; did you mean "x"?` when a known name is close, else ''. */
export function didYouMean(name: string, known: Iterable<string>): string {
  const hit = closest(name, known)
  return hit === undefined ? '' : `; did you mean ${JSON.stringify(hit)}?`
}
