// @ts-check
// One plugin on one vhost, in its vhost's card: state and toggle, totals, the chart, failures by
// reason, the seed's names, and while it runs its breakers and queues. Totals are read by role
// from the status's `metrics` (the server's registry), so they show while the plugin is disabled
// too; what only a running instance knows (handlers, pools, percentiles) comes from `detail`.
import { createChart } from './chart.js'
import { el, setText } from './dom.js'
import { int, ms, rate } from './format.js'

/** @typedef {import('./data.js').PluginStatus} PluginStatus */
/** @typedef {import('./data.js').StatusDetail} StatusDetail */
/** @typedef {import('./toggle.js').ToggleAction} ToggleAction */
/** @typedef {ReturnType<typeof createPluginView>} PluginView */

const PRIMARY = 'mod_event_pusher_http'

/** Test ids name the vhost; a plugin other than the primary one adds its id. @param {string} kind @param {string} host @param {string} id */
const tid = (kind, host, id) => (id === PRIMARY ? `${kind}-${host}` : `${kind}-${host}-${id}`)

/** @param {string} label @param {string} testid */
function tile(label, testid) {
  const value = el('span', { class: 'tile-value', 'data-testid': testid, text: '–' })
  const note = el('span', { class: 'tile-note' })
  return { node: el('div', { class: 'tile' }, el('span', { class: 'tile-label', text: label }), value, note), value, note }
}

/** @param {string} host @param {string} id @param {(action: ToggleAction) => void} onToggle */
export function createPluginView(host, id, onToggle) {
  const state = el('span', { class: 'badge', 'data-testid': tid('state', host, id) })
  const source = el('span', { class: 'source' })
  const toggle = el('button', { type: 'button', class: 'toggle', 'data-testid': tid('toggle', host, id) })
  const error = el('p', { class: 'error', role: 'alert', 'data-testid': tid('error', host, id), hidden: true })
  const sent = tile('sent', tid('sent', host, id))
  const failed = tile('failed', tid('failed', host, id))
  const retries = tile('retries', tid('retries', host, id))
  const latency = tile('response time (sent only)', tid('latency', host, id))
  latency.node.classList.add('tile-wide')
  const seed = el('dl', { class: 'seed', 'data-testid': tid('seed', host, id) })
  const legendSent = el('span', { class: 'key key-sent' })
  const legendFailed = el('span', { class: 'key key-failed' })
  const legendPeak = el('span', { class: 'key' })
  const legend = el('p', { class: 'legend', 'data-testid': tid('rates', host, id) }, legendSent, legendFailed, legendPeak)
  const chartBox = el('div', { class: 'chart', 'data-testid': tid('chart', host, id) })
  const reasons = el('p', { class: 'reasons', 'data-testid': tid('reasons', host, id) })
  const pools = el('ul', { class: 'rows', 'data-testid': tid('pools', host, id) })
  const handlers = el('ul', { class: 'rows', 'data-testid': tid('handlers', host, id) })
  const running = el('div', { class: 'running' }, el('h3', { text: 'Breakers' }), pools, el('h3', { text: 'Handlers (queue depth)' }), handlers)
  const stopped = el('p', { class: 'muted', text: 'Not running on this vhost: no queues, no breakers. Counters keep their totals.' })
  const node = el(
    'section',
    { class: 'plugin', 'data-plugin': id },
    el('div', { class: 'plugin-head' }, el('span', { class: 'plugin-name', text: id }), state, source, toggle),
    error,
    el('div', { class: 'tiles' }, sent.node, failed.node, retries.node, latency.node),
    el('h3', { text: 'Notifications per second' }),
    legend,
    chartBox,
    reasons,
    el('h3', { text: 'Seed metrics' }),
    seed,
    running,
    stopped,
  )
  const view = {
    node,
    state,
    source,
    toggle,
    error,
    sent,
    failed,
    retries,
    latency,
    seed,
    legendSent,
    legendFailed,
    legendPeak,
    chartBox,
    reasons,
    pools,
    handlers,
    running,
    stopped,
    chart: createChart(chartBox),
    /** @type {PluginStatus | null} */
    plugin: null,
    /** A toggle request is under way: the button keeps its "…ing" text. */
    busy: false,
  }
  toggle.addEventListener('click', () => {
    if (!view.plugin || view.busy) return
    onToggle({ id: view.plugin.id, host: view.plugin.host, action: view.plugin.enabled ? 'disable' : 'enable' })
  })
  return view
}

/** Brings the view up to date; it must be in the page already, for the chart to measure its width. @param {PluginView} view @param {PluginStatus} p */
export function updatePluginView(view, p) {
  view.plugin = p
  setText(view.state, p.enabled ? 'enabled' : 'disabled')
  view.state.className = `badge ${p.enabled ? 'ok' : 'off'}`
  setText(view.source, p.source === 'runtime' ? 'set at runtime' : 'from config')
  if (!view.busy) {
    setText(view.toggle, p.enabled ? 'Disable' : 'Enable')
    view.toggle.disabled = false
  }
  view.toggle.setAttribute('aria-label', `${p.enabled ? 'Disable' : 'Enable'} ${p.id} on ${p.host}`)
  view.toggle.className = `toggle ${p.enabled ? 'danger' : 'primary'}`

  const m = p.metrics
  const sent = m.sent?.total
  const failed = m.failed?.total
  const accepted = m.accepted?.total
  setText(view.sent.value, int(sent))
  setText(view.failed.value, int(failed))
  view.failed.node.classList.toggle('bad', (failed ?? 0) > 0)
  const pending = accepted === undefined || sent === undefined ? undefined : accepted - sent - (failed ?? 0)
  setText(view.sent.note, accepted === undefined ? '' : `of ${int(accepted)} accepted${pending ? `, ${int(pending)} pending` : ''}`)
  const d = /** @type {StatusDetail | null} */ (p.detail)
  // Retry attempts (every attempt after a notification's first), kept while the plugin is disabled.
  const retries = m.retries?.total
  setText(view.retries.value, int(retries))
  const handlerList = d?.handlers ?? []
  const retrying = handlerList.some((h) => typeof h.retrying === 'number') ? handlerList.reduce((a, h) => a + (h.retrying ?? 0), 0) : undefined
  setText(view.retries.note, retrying ? `${int(retrying)} waiting to retry` : retries === undefined ? '' : 'attempts after the first')
  const rt = d?.response_time
  const anyLatency = rt && [rt.p50, rt.p95, rt.p99].some((v) => typeof v === 'number')
  setText(view.latency.value, rt && anyLatency ? `p50 ${ms(rt.p50)} · p95 ${ms(rt.p95)} · p99 ${ms(rt.p99)}` : '–')
  setText(view.latency.note, !d ? 'shown while running' : anyLatency ? 'over the recent sent requests' : 'no request sent since it started')

  const reasons = Object.entries(m.failed?.by ?? {}).filter(([, n]) => n > 0)
  setText(view.reasons, reasons.length ? `failed by reason: ${reasons.map(([r, n]) => `${r} ${int(n)}`).join(', ')}` : 'no failures')
  setText(view.failed.note, reasons.map(([r]) => r).join(', '))

  const seedRows = (p.seed ?? []).map((s) => {
    const value = s.mean_ms === undefined ? int(s.value) : `${int(s.value)} (mean ${s.mean_ms === null ? '–' : `${s.mean_ms.toFixed(1)} ms`})`
    return el('div', { class: 'seed-row' }, el('dt', { text: s.name }), el('dd', { text: value }))
  })
  view.seed.replaceChildren(...seedRows)

  const now = view.chart.draw(p.history ?? [])
  view.chartBox.dataset.points = String((p.history ?? []).length)
  setText(view.legendSent, `sent ${rate(now.sent)}`)
  setText(view.legendFailed, `failed ${rate(now.failed)}`)
  setText(view.legendPeak, `peak ${rate(now.peak)}`)

  view.running.hidden = !d
  view.stopped.hidden = Boolean(d) || p.enabled
  if (d) updateRunning(view, p.host, d)
}

/** @param {PluginView} view @param {string} host @param {StatusDetail} d */
function updateRunning(view, host, d) {
  view.pools.replaceChildren(
    ...(d.pools ?? []).map((pool) =>
      el(
        'li',
        {},
        el('span', { class: 'row-name', text: pool.name }),
        el('span', {
          class: `badge ${pool.breaker === 'closed' ? 'ok' : pool.breaker === 'open' ? 'bad' : 'warn'}`,
          'data-testid': `breaker-${host}-${pool.name}`,
          text: pool.breaker,
        }),
        el('span', { class: 'muted', text: `${int(pool.in_flight)} / ${int(pool.pool_size)} in flight` }),
      ),
    ),
  )
  view.handlers.replaceChildren(
    ...(d.handlers ?? []).map((h) =>
      el(
        'li',
        { class: 'handler' },
        el('span', { class: 'row-name', text: h.name }),
        el('span', { class: 'queue', 'data-testid': `queue-${host}-${h.name}`, text: `${int(h.queue_depth)} / ${int(h.max_queue)}` }),
        el('meter', { min: 0, max: h.max_queue || 1, value: h.queue_depth, title: `${h.queue_depth} of ${h.max_queue} queued` }),
        el('span', { class: 'muted', text: `${int(h.in_flight)} in flight` }),
        typeof h.retrying === 'number'
          ? el('span', { class: h.retrying > 0 ? 'retrying' : 'muted', 'data-testid': `retrying-${host}-${h.name}`, text: `${int(h.retrying)} retrying` })
          : null,
        el('code', { class: 'url', text: h.url }),
      ),
    ),
  )
}
