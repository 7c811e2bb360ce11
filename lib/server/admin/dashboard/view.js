// @ts-check
// One plugin on one vhost, in its vhost's card: state and toggle, totals and what is pending, the
// chart, failures by reason, the seed's names, and while it runs its outbox, breakers and
// handlers. Totals are read by role from the status's `metrics` (the server's registry), so they
// show while the plugin is disabled too; what only a running instance knows (the outbox, handlers,
// pools, removed handlers' leftovers, percentiles) comes from `detail`.
import { createChart } from './chart.js'
import { el, setText } from './dom.js'
import { ago, int, ms, rate } from './format.js'

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
  const note = el('span', { class: 'tile-note', 'data-testid': `${testid}-note` })
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
  const pending = tile('pending', tid('pending', host, id))
  const dead = tile('dead letters', tid('dead', host, id))
  const latency = tile('response time (sent only)', tid('latency', host, id))
  latency.node.classList.add('tile-wide')
  const seed = el('dl', { class: 'seed', 'data-testid': tid('seed', host, id) })
  const legendSent = el('span', { class: 'key key-sent' })
  const legendFailed = el('span', { class: 'key key-failed' })
  const legendPending = el('span', { class: 'key key-pending' })
  const legendPeak = el('span', { class: 'key' })
  const legend = el('p', { class: 'legend', 'data-testid': tid('rates', host, id) }, legendSent, legendFailed, legendPending, legendPeak)
  const chartBox = el('div', { class: 'chart', 'data-testid': tid('chart', host, id) })
  const reasons = el('p', { class: 'reasons', 'data-testid': tid('reasons', host, id) })
  const pools = el('ul', { class: 'rows', 'data-testid': tid('pools', host, id) })
  const handlers = el('ul', { class: 'rows', 'data-testid': tid('handlers', host, id) })
  const outbox = el('p', { class: 'outbox', 'data-testid': tid('outbox', host, id) })
  const orphans = el('ul', { class: 'rows', 'data-testid': tid('orphans', host, id) })
  const orphansBox = el(
    'div',
    { hidden: true },
    el('h3', { text: 'Removed handlers with notifications left' }),
    el('p', {
      class: 'muted',
      text: 'Pending ones are delivered if a handler of that name returns, otherwise they expire (max_pending_age); dead letters can be replayed once it runs again.',
    }),
    orphans,
  )
  const running = el(
    'div',
    { class: 'running' },
    el('h3', { text: 'Outbox' }),
    outbox,
    el('h3', { text: 'Breakers' }),
    pools,
    el('h3', { text: 'Handlers (pending of max_queue, oldest pending, dead letters)' }),
    handlers,
    orphansBox,
  )
  const stopped = el('p', {
    class: 'muted',
    text: 'Not running on this vhost: nothing is sent; pending notifications wait in the outbox. Counters keep their totals.',
  })
  const node = el(
    'section',
    { class: 'plugin', 'data-plugin': id },
    el('div', { class: 'plugin-head' }, el('span', { class: 'plugin-name', text: id }), state, source, toggle),
    error,
    el('div', { class: 'tiles' }, sent.node, failed.node, retries.node, pending.node, dead.node, latency.node),
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
    pending,
    dead,
    latency,
    seed,
    legendSent,
    legendFailed,
    legendPending,
    legendPeak,
    chartBox,
    reasons,
    pools,
    handlers,
    outbox,
    orphans,
    orphansBox,
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
  const recovered = m.recovered?.total ?? 0
  setText(view.sent.note, accepted === undefined ? '' : `of ${int(accepted)} accepted${recovered ? ` + ${int(recovered)} recovered` : ''}`)
  const d = /** @type {StatusDetail | null} */ (p.detail)
  // Retry attempts (every attempt after a notification's first), kept while the plugin is disabled.
  const retries = m.retries?.total
  setText(view.retries.value, int(retries))
  setText(view.retries.note, retries === undefined ? '' : 'attempts after the first')
  // The server's figure: the pending series while it runs, what the counters leave while stopped.
  setText(view.pending.value, int(p.pending))
  const oldest = Math.max(0, ...Object.values(m.oldest_pending?.by ?? {}))
  const pendingNotes = []
  if (d && p.pending && oldest > 0) pendingNotes.push(`oldest ${ago(oldest)}`)
  if (!d && p.pending) pendingNotes.push('in the outbox until it runs again')
  if (recovered) pendingNotes.push(`${int(recovered)} recovered at start`)
  setText(view.pending.note, pendingNotes.join(' · '))
  // Dead letters are only known to a running instance (its outbox); failed counts them all along.
  setText(view.dead.value, int(d?.dead_letters))
  view.dead.node.classList.toggle('bad', (d?.dead_letters ?? 0) > 0)
  setText(view.dead.note, !d ? 'shown while running' : d.dead_letters ? 'failed, kept for replay' : '')
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
  setText(view.legendPending, `pending ${int(p.pending)}`)
  setText(view.legendPeak, `peak ${rate(now.peak)}`)

  view.running.hidden = !d
  view.stopped.hidden = Boolean(d) || p.enabled
  if (d) updateRunning(view, p.host, d, m.oldest_pending?.by ?? {})
}

/** @param {PluginView} view @param {string} host @param {StatusDetail} d @param {Record<string, number>} oldest  seconds, by handler */
function updateRunning(view, host, d, oldest) {
  const engine = d.outbox?.engine
    ? d.outbox.engine.reachable
      ? ' · reachable'
      : ` · unreachable${d.outbox.engine.error ? `: ${d.outbox.engine.error}` : ''}`
    : ''
  const role = d.role === 'deliver' ? ' · delivery worker' : d.delivering === false ? ' · publishes only' : ''
  setText(view.outbox, d.outbox ? `${d.outbox.backend} · ${d.outbox.location}${engine}${role}` : '–')
  view.outbox.classList.toggle('bad', d.outbox?.engine?.reachable === false)
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
    ...(d.handlers ?? []).map((h) => {
      // max_queue bounds what is pending (in flight included); past it the newest fails (queue_full).
      const pending = h.pending ?? h.queue_depth
      // The age of its oldest pending notification (the oldest_pending series), while any is pending.
      const age = pending > 0 && oldest[h.name] > 0 ? `oldest ${ago(oldest[h.name])}` : ''
      return el(
        'li',
        { class: 'handler' },
        el('span', { class: 'row-name', text: h.name }),
        el('span', { class: 'queue', 'data-testid': `pending-${host}-${h.name}`, text: `${int(pending)} / ${int(h.max_queue)} pending` }),
        el('meter', { min: 0, max: h.max_queue || 1, value: pending, title: `${pending} of ${h.max_queue} (max_queue) pending` }),
        el('span', { class: 'muted', 'data-testid': `queue-${host}-${h.name}`, text: `${int(h.queue_depth)} queued · ${int(h.in_flight)} in flight` }),
        el('span', { class: 'muted', 'data-testid': `oldest-${host}-${h.name}`, hidden: !age, text: age }),
        el('span', { class: h.dead_letters ? 'queue bad' : 'queue', 'data-testid': `dead-${host}-${h.name}`, text: `${int(h.dead_letters)} dead` }),
        el('code', { class: 'url', text: h.url }),
      )
    }),
  )
  const orphans = d.orphans ?? []
  view.orphansBox.hidden = orphans.length === 0
  view.orphans.replaceChildren(
    ...orphans.map((o) =>
      el(
        'li',
        {},
        el('span', { class: 'row-name', text: o.name }),
        el('span', { class: 'queue', 'data-testid': `orphan-${host}-${o.name}`, text: orphanText(o) }),
      ),
    ),
  )
}

/** What a removed handler still has: pending ones, dead letters, or both. @param {{ pending: number, dead_letters?: number }} o */
function orphanText(o) {
  const parts = []
  if (o.pending > 0 || !o.dead_letters) parts.push(`${int(o.pending)} pending`)
  if (o.dead_letters) parts.push(`${int(o.dead_letters)} dead ${o.dead_letters === 1 ? 'letter' : 'letters'}`)
  return parts.join(' · ')
}
