// @ts-check
// The chart of notifications sent and failed per second (rates between the server's cumulative
// 2 s samples) and of what is pending (a count, dashed, on its own right-hand axis: an outage shows
// as sent falling to 0 while pending climbs, the endpoint's return as pending draining), drawn as
// SVG in user units at its box's measured width. A ResizeObserver redraws it
// whenever that width changes (first layout, a window resize, a scrollbar coming or going), so it
// is never drawn at a guessed width waiting for a resize event.
import { svg } from './dom.js'
import { ago, rate } from './format.js'

/** @typedef {import('./data.js').HistoryPoint} HistoryPoint */
/** @typedef {{ t: number, sent: number, failed: number, pending: number }} Rate  sent and failed per second over the interval ending at t; pending at t */
/** @typedef {{ sent: number, failed: number, peak: number, pending: number | undefined }} Latest  the last interval's rates and the peak, per second; pending now */

const HEIGHT = 120
const MIN_WIDTH = 200
const PAD = { left: 34, right: 40, top: 8, bottom: 18 }

/**
 * Per-second rates between consecutive cumulative samples.
 * @param {HistoryPoint[]} history
 * @returns {Rate[]}
 */
function rates(history) {
  /** @type {Rate[]} */
  const out = []
  for (let i = 1; i < history.length; i++) {
    const a = history[i - 1]
    const b = history[i]
    const dt = (b.t - a.t) / 1000
    if (dt <= 0) continue
    // Counters only grow; a drop (a registry reset) is shown as 0, not as a negative rate.
    out.push({ t: b.t, sent: Math.max(0, b.sent - a.sent) / dt, failed: Math.max(0, b.failed - a.failed) / dt, pending: b.pending ?? 0 })
  }
  return out
}

/** @param {number} v */
function niceMax(v) {
  if (v <= 1) return 1
  const p = 10 ** Math.floor(Math.log10(v))
  for (const m of [1, 2, 2.5, 5, 10]) if (v <= m * p) return m * p
  return 10 * p
}

/**
 * @param {HTMLElement} box
 * @param {number} width
 * @param {HistoryPoint[]} history
 * @returns {Latest}
 */
function draw(box, width, history) {
  const points = rates(history)
  const root = svg('svg', { width, height: HEIGHT, viewBox: `0 0 ${width} ${HEIGHT}`, role: 'img', class: 'chart-svg' })
  const plotW = width - PAD.left - PAD.right
  const plotH = HEIGHT - PAD.top - PAD.bottom
  if (points.length < 2) {
    const t = svg('text', { x: width / 2, y: HEIGHT / 2, 'text-anchor': 'middle', class: 'chart-empty' })
    t.textContent = 'collecting samples…'
    root.append(t)
    root.setAttribute('aria-label', 'not enough samples yet')
    box.replaceChildren(root)
    return { sent: 0, failed: 0, peak: 0, pending: history[history.length - 1]?.pending }
  }
  const t0 = points[0].t
  const t1 = points[points.length - 1].t
  const span = Math.max(1, t1 - t0)
  const peak = Math.max(...points.map((p) => Math.max(p.sent, p.failed)))
  const top = niceMax(peak)
  /** @param {number} t */
  const x = (t) => PAD.left + ((t - t0) / span) * plotW
  /** @param {number} v */
  const y = (v) => PAD.top + plotH - (v / top) * plotH

  for (const v of [0, top / 2, top]) {
    root.append(svg('line', { x1: PAD.left, x2: width - PAD.right, y1: y(v), y2: y(v), class: 'chart-grid' }))
    const label = svg('text', { x: PAD.left - 4, y: y(v) + 3, 'text-anchor': 'end', class: 'chart-label' })
    label.textContent = Number.isInteger(v) ? String(v) : v.toFixed(1)
    root.append(label)
  }
  // Pending, when there was any: a count on its own scale, labelled on the right.
  const pendingPeak = Math.max(...points.map((p) => p.pending))
  const pendingTop = niceMax(Math.max(2, pendingPeak)) // a count: no half notifications on the axis of 1
  /** @param {number} v */
  const y2 = (v) => PAD.top + plotH - (v / pendingTop) * plotH
  if (pendingPeak > 0) {
    for (const v of [0, pendingTop / 2, pendingTop]) {
      const label = svg('text', { x: width - PAD.right + 4, y: y2(v) + 3, 'text-anchor': 'start', class: 'chart-label chart-label-pending' })
      label.textContent = compact(v)
      root.append(label)
    }
  }
  const left = svg('text', { x: PAD.left, y: HEIGHT - 4, class: 'chart-label' })
  left.textContent = `−${ago(span / 1000)}`
  const right = svg('text', { x: width - PAD.right, y: HEIGHT - 4, 'text-anchor': 'end', class: 'chart-label' })
  right.textContent = 'now'
  root.append(left, right)

  for (const series of /** @type {const} */ (['sent', 'failed'])) {
    const line = points.map((p) => `${x(p.t).toFixed(1)},${y(p[series]).toFixed(1)}`).join(' ')
    if (series === 'sent') {
      const area = `${x(t0).toFixed(1)},${y(0)} ${line} ${x(t1).toFixed(1)},${y(0)}`
      root.append(svg('polygon', { points: area, class: 'chart-area' }))
    }
    root.append(svg('polyline', { points: line, class: `chart-line chart-${series}`, 'data-series': series }))
  }
  if (pendingPeak > 0) {
    const line = points.map((p) => `${x(p.t).toFixed(1)},${y2(p.pending).toFixed(1)}`).join(' ')
    root.append(svg('polyline', { points: line, class: 'chart-line chart-pending', 'data-series': 'pending' }))
  }
  const now = points[points.length - 1]
  root.setAttribute(
    'aria-label',
    `notifications per second over the last ${ago(span / 1000)}: sent ${rate(now.sent)}, failed ${rate(now.failed)} now, peak ${rate(peak)}; ${now.pending} pending`,
  )
  box.replaceChildren(root)
  return { sent: now.sent, failed: now.failed, peak, pending: now.pending }
}

/** An axis label for a count: 950, 1.5k, 2M. @param {number} v */
function compact(v) {
  if (v < 1000) return Number.isInteger(v) ? String(v) : v.toFixed(1)
  if (v < 1e6) return `${+(v / 1000).toFixed(1)}k`
  return `${+(v / 1e6).toFixed(1)}M`
}

/**
 * The chart in `box`. `draw(history)` draws at the box's width now (the box must be in the page
 * for that: a detached box measures 0 and gets MIN_WIDTH until the observer sees it laid out).
 * @param {HTMLElement} box
 */
export function createChart(box) {
  /** @type {HistoryPoint[]} */
  let history = []
  let drawnWidth = 0
  const width = () => Math.max(MIN_WIDTH, Math.floor(box.clientWidth))
  const redraw = () => draw(box, (drawnWidth = width()), history)
  // Only a change of width redraws: the drawing sets the box's height, which the observer also reports.
  new ResizeObserver(() => {
    if (width() !== drawnWidth) redraw()
  }).observe(box)
  return {
    /** @param {HistoryPoint[]} next @returns {Latest} */
    draw(next) {
      history = next
      return redraw()
    },
  }
}
