// @ts-check
// Numbers as the page shows them; '–' for a value the server did not give.

/** @param {number | null | undefined} n */
export const int = (n) => (typeof n === 'number' && Number.isFinite(n) ? n.toLocaleString('en-US') : '–')

/** @param {number | null | undefined} seconds */
export function ms(seconds) {
  if (typeof seconds !== 'number' || !Number.isFinite(seconds)) return '–'
  const v = seconds * 1000
  return `${v < 1 ? v.toFixed(2) : v < 100 ? v.toFixed(1) : Math.round(v)} ms`
}

/** @param {number} perSecond */
export function rate(perSecond) {
  if (perSecond === 0) return '0/s'
  return `${perSecond < 10 ? perSecond.toFixed(1) : Math.round(perSecond)}/s`
}

/** A duration as an operator reads it (as xmppctl writes it): 42 s, 12 min, 5 h, 3 d. @param {number} seconds */
export function ago(seconds) {
  if (seconds < 90) return `${Math.round(seconds)} s`
  if (seconds < 90 * 60) return `${Math.round(seconds / 60)} min`
  if (seconds < 36 * 3600) return `${Math.round(seconds / 3600)} h`
  return `${Math.round(seconds / 86400)} d`
}
