// xmppd dashboard: polls dashboard/data every 2 s and keeps one card per vhost up to date; the
// toggle goes through the admin API with the token kept in this tab's sessionStorage.
// Everything the server sends is put in the page as text (textContent), never as markup.

const POLL_MS = 2000
const TOKEN_KEY = 'xmppd.adminToken'
const PRIMARY = 'mod_event_pusher_http'
const SVG = 'http://www.w3.org/2000/svg'

const panel = document.querySelector('[data-testid="token-panel"]')
const form = document.querySelector('[data-testid="token-form"]')
const tokenInput = document.querySelector('[data-testid="token-input"]')
const tokenMessage = document.querySelector('[data-testid="token-message"]')
const forgetButton = document.querySelector('[data-testid="token-forget"]')
const statusLine = document.querySelector('[data-testid="refresh-status"]')
const hostsBox = document.querySelector('[data-testid="hosts"]')

/** host → { card, sessions, empty, plugins: Map<id, view> } */
const cards = new Map()
let last = null

// ---- DOM helpers -------------------------------------------------------------------------

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag)
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue
    if (k === 'text') node.textContent = v
    else if (k === 'class') node.className = v
    else node.setAttribute(k, v === true ? '' : String(v))
  }
  for (const c of children) if (c) node.append(c)
  return node
}

function svg(tag, attrs = {}) {
  const node = document.createElementNS(SVG, tag)
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, String(v))
  return node
}

const setText = (node, text) => {
  if (node.textContent !== text) node.textContent = text
}

// ---- formatting --------------------------------------------------------------------------

const int = (n) => (typeof n === 'number' && Number.isFinite(n) ? n.toLocaleString('en-US') : '–')

function ms(seconds) {
  if (typeof seconds !== 'number' || !Number.isFinite(seconds)) return '–'
  const v = seconds * 1000
  return `${v < 1 ? v.toFixed(2) : v < 100 ? v.toFixed(1) : Math.round(v)} ms`
}

function rate(perSecond) {
  if (perSecond === 0) return '0/s'
  return `${perSecond < 10 ? perSecond.toFixed(1) : Math.round(perSecond)}/s`
}

function ago(seconds) {
  if (seconds < 90) return `${Math.round(seconds)} s`
  return `${Math.round(seconds / 60)} min`
}

/** Test ids name the vhost; a plugin other than the primary one adds its id. */
const tid = (kind, host, id) => (id === PRIMARY ? `${kind}-${host}` : `${kind}-${host}-${id}`)

// ---- the data ----------------------------------------------------------------------------

/** The counter whose manifest name ends in _<word>_total: a total (summing labelled values). */
function counter(metrics, word) {
  const key = Object.keys(metrics ?? {}).find((k) => k.endsWith(`_${word}_total`))
  const v = key === undefined ? undefined : metrics[key]
  if (v === undefined) return { total: undefined, parts: {} }
  if (typeof v === 'number') return { total: v, parts: {} }
  return { total: Object.values(v).reduce((a, b) => a + b, 0), parts: v }
}

/** Per-second rates between consecutive cumulative samples. */
function rates(history) {
  const out = []
  for (let i = 1; i < history.length; i++) {
    const a = history[i - 1]
    const b = history[i]
    const dt = (b.t - a.t) / 1000
    if (dt <= 0) continue
    // Counters only grow; a drop (a registry reset) is shown as 0, not as a negative rate.
    out.push({ t: b.t, sent: Math.max(0, b.sent - a.sent) / dt, failed: Math.max(0, b.failed - a.failed) / dt })
  }
  return out
}

function niceMax(v) {
  if (v <= 1) return 1
  const p = 10 ** Math.floor(Math.log10(v))
  for (const m of [1, 2, 2.5, 5, 10]) if (v <= m * p) return m * p
  return 10 * p
}

// ---- the chart ---------------------------------------------------------------------------

function drawChart(box, history) {
  const width = Math.max(200, Math.floor(box.clientWidth || 300))
  const height = 120
  const pad = { left: 34, right: 6, top: 8, bottom: 18 }
  const points = rates(history)
  const root = svg('svg', { width, height, viewBox: `0 0 ${width} ${height}`, role: 'img', class: 'chart-svg' })
  const plotW = width - pad.left - pad.right
  const plotH = height - pad.top - pad.bottom
  if (points.length < 2) {
    const t = svg('text', { x: width / 2, y: height / 2, 'text-anchor': 'middle', class: 'chart-empty' })
    t.textContent = 'collecting samples…'
    root.append(t)
    root.setAttribute('aria-label', 'not enough samples yet')
    box.replaceChildren(root)
    return { sent: 0, failed: 0, peak: 0 }
  }
  const t0 = points[0].t
  const t1 = points[points.length - 1].t
  const span = Math.max(1, t1 - t0)
  const peak = Math.max(...points.map((p) => Math.max(p.sent, p.failed)))
  const top = niceMax(peak)
  const x = (t) => pad.left + ((t - t0) / span) * plotW
  const y = (v) => pad.top + plotH - (v / top) * plotH

  for (const v of [0, top / 2, top]) {
    root.append(svg('line', { x1: pad.left, x2: width - pad.right, y1: y(v), y2: y(v), class: 'chart-grid' }))
    const label = svg('text', { x: pad.left - 4, y: y(v) + 3, 'text-anchor': 'end', class: 'chart-label' })
    label.textContent = Number.isInteger(v) ? String(v) : v.toFixed(1)
    root.append(label)
  }
  const left = svg('text', { x: pad.left, y: height - 4, class: 'chart-label' })
  left.textContent = `−${ago(span / 1000)}`
  const right = svg('text', { x: width - pad.right, y: height - 4, 'text-anchor': 'end', class: 'chart-label' })
  right.textContent = 'now'
  root.append(left, right)

  for (const series of ['sent', 'failed']) {
    const line = points.map((p) => `${x(p.t).toFixed(1)},${y(p[series]).toFixed(1)}`).join(' ')
    if (series === 'sent') {
      const area = `${x(t0).toFixed(1)},${y(0)} ${line} ${x(t1).toFixed(1)},${y(0)}`
      root.append(svg('polygon', { points: area, class: 'chart-area' }))
    }
    root.append(svg('polyline', { points: line, class: `chart-line chart-${series}`, 'data-series': series }))
  }
  const now = points[points.length - 1]
  root.setAttribute('aria-label', `notifications per second over the last ${ago(span / 1000)}: sent ${rate(now.sent)}, failed ${rate(now.failed)} now, peak ${rate(peak)}`)
  box.replaceChildren(root)
  return { sent: now.sent, failed: now.failed, peak }
}

// ---- cards -------------------------------------------------------------------------------

function tile(label, testid) {
  const value = el('span', { class: 'tile-value', 'data-testid': testid, text: '–' })
  const note = el('span', { class: 'tile-note' })
  return { node: el('div', { class: 'tile' }, el('span', { class: 'tile-label', text: label }), value, note), value, note }
}

function createPluginView(host, id) {
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
  const chart = el('div', { class: 'chart', 'data-testid': tid('chart', host, id) })
  const reasons = el('p', { class: 'reasons', 'data-testid': tid('reasons', host, id) })
  const pools = el('ul', { class: 'rows', 'data-testid': tid('pools', host, id) })
  const handlers = el('ul', { class: 'rows', 'data-testid': tid('handlers', host, id) })
  const running = el(
    'div',
    { class: 'running' },
    el('h3', { text: 'Breakers' }),
    pools,
    el('h3', { text: 'Handlers (queue depth)' }),
    handlers,
  )
  const stopped = el('p', { class: 'muted', text: 'Not running on this vhost: no queues, no breakers. Counters keep their totals.' })
  const node = el(
    'section',
    { class: 'plugin', 'data-plugin': id },
    el('div', { class: 'plugin-head' }, el('span', { class: 'plugin-name', text: id }), state, source, toggle),
    error,
    el('div', { class: 'tiles' }, sent.node, failed.node, retries.node, latency.node),
    el('h3', { text: 'Notifications per second' }),
    legend,
    chart,
    reasons,
    el('h3', { text: 'Seed metrics' }),
    seed,
    running,
    stopped,
  )
  const view = { node, state, source, toggle, error, sent, failed, retries, latency, seed, legendSent, legendFailed, legendPeak, chart, reasons, pools, handlers, running, stopped, plugin: null, busy: false }
  toggle.addEventListener('click', () => {
    if (!view.plugin || view.busy) return
    requestToggle({ id: view.plugin.id, host: view.plugin.host, action: view.plugin.enabled ? 'disable' : 'enable' }, view)
  })
  return view
}

function updatePluginView(view, p) {
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

  const sent = counter(p.metrics, 'sent')
  const failed = counter(p.metrics, 'failed')
  const accepted = counter(p.metrics, 'accepted')
  setText(view.sent.value, int(sent.total))
  setText(view.failed.value, int(failed.total))
  view.failed.node.classList.toggle('bad', (failed.total ?? 0) > 0)
  const pending = accepted.total === undefined || sent.total === undefined ? undefined : accepted.total - sent.total - (failed.total ?? 0)
  setText(view.sent.note, accepted.total === undefined ? '' : `of ${int(accepted.total)} accepted${pending ? `, ${int(pending)} pending` : ''}`)
  const d = p.detail
  // Retry attempts (every attempt after a notification's first): the registry's counter, which
  // keeps its total while the plugin is disabled, else the running instance's own count.
  const retries = counter(p.metrics, 'retries').total ?? (d && typeof d.retries === 'number' ? d.retries : undefined)
  setText(view.retries.value, int(retries))
  const handlerList = (d && d.handlers) ?? []
  const retrying = handlerList.some((h) => typeof h.retrying === 'number') ? handlerList.reduce((a, h) => a + (h.retrying ?? 0), 0) : undefined
  setText(view.retries.note, retrying ? `${int(retrying)} waiting to retry` : retries === undefined ? '' : 'attempts after the first')
  const rt = d && d.response_time
  const anyLatency = rt && [rt.p50, rt.p95, rt.p99].some((v) => typeof v === 'number')
  setText(view.latency.value, anyLatency ? `p50 ${ms(rt.p50)} · p95 ${ms(rt.p95)} · p99 ${ms(rt.p99)}` : '–')
  setText(view.latency.note, !d ? 'shown while running' : anyLatency ? 'over the recent sent requests' : 'no request sent since it started')

  const reasons = Object.entries(failed.parts).filter(([, n]) => n > 0)
  setText(view.reasons, reasons.length ? `failed by reason: ${reasons.map(([r, n]) => `${r} ${int(n)}`).join(', ')}` : 'no failures')
  view.failed.note.textContent = reasons.length ? reasons.map(([r]) => r).join(', ') : ''

  const seedRows = []
  for (const s of p.seed ?? []) {
    const value = s.mean_ms === undefined ? int(s.value) : `${int(s.value)} (mean ${s.mean_ms === null ? '–' : `${s.mean_ms.toFixed(1)} ms`})`
    seedRows.push(el('div', { class: 'seed-row' }, el('dt', { text: s.name }), el('dd', { text: value })))
  }
  view.seed.replaceChildren(...seedRows)

  const now = drawChart(view.chart, p.history ?? [])
  view.chart.dataset.points = String((p.history ?? []).length)
  setText(view.legendSent, `sent ${rate(now.sent)}`)
  setText(view.legendFailed, `failed ${rate(now.failed)}`)
  setText(view.legendPeak, `peak ${rate(now.peak)}`)

  view.running.hidden = !d
  view.stopped.hidden = Boolean(d) || !!p.enabled
  if (d) {
    view.pools.replaceChildren(
      ...(d.pools ?? []).map((pool) =>
        el(
          'li',
          {},
          el('span', { class: 'row-name', text: pool.name }),
          el('span', { class: `badge ${pool.breaker === 'closed' ? 'ok' : pool.breaker === 'open' ? 'bad' : 'warn'}`, 'data-testid': `breaker-${p.host}-${pool.name}`, text: pool.breaker }),
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
          el('span', { class: 'queue', 'data-testid': `queue-${p.host}-${h.name}`, text: `${int(h.queue_depth)} / ${int(h.max_queue)}` }),
          el('meter', { min: 0, max: h.max_queue || 1, value: h.queue_depth, title: `${h.queue_depth} of ${h.max_queue} queued` }),
          el('span', { class: 'muted', text: `${int(h.in_flight)} in flight` }),
          typeof h.retrying === 'number' ? el('span', { class: h.retrying > 0 ? 'retrying' : 'muted', 'data-testid': `retrying-${p.host}-${h.name}`, text: `${int(h.retrying)} retrying` }) : null,
          el('code', { class: 'url', text: h.url }),
        ),
      ),
    )
  }
}

function cardFor(host) {
  let c = cards.get(host)
  if (c) return c
  const sessions = el('span', { class: 'sessions', 'data-testid': `sessions-${host}` })
  const empty = el('p', { class: 'muted', text: 'No plugin configured on this vhost.', hidden: true })
  const card = el('article', { class: 'card', 'data-testid': `vhost-${host}` }, el('header', { class: 'card-head' }, el('h2', { text: host }), sessions), empty)
  c = { card, sessions, empty, plugins: new Map() }
  cards.set(host, c)
  return c
}

function render(data) {
  last = data
  const seen = new Set()
  const order = []
  for (const h of data.hosts) {
    seen.add(h.host)
    const c = cardFor(h.host)
    setText(c.sessions, `${int(h.sessions)} session${h.sessions === 1 ? '' : 's'}`)
    c.empty.hidden = h.plugins.length > 0
    const ids = new Set(h.plugins.map((p) => p.id))
    for (const [id, view] of c.plugins) if (!ids.has(id)) (view.node.remove(), c.plugins.delete(id))
    for (const p of h.plugins) {
      let view = c.plugins.get(p.id)
      if (!view) {
        view = createPluginView(h.host, p.id)
        c.plugins.set(p.id, view)
        c.card.append(view.node)
      }
      updatePluginView(view, p)
    }
    order.push(c.card)
  }
  for (const [host, c] of cards) if (!seen.has(host)) (c.card.remove(), cards.delete(host))
  // Keep the server's order; append() moves nodes that are already there.
  order.forEach((card, i) => {
    if (hostsBox.children[i] !== card) hostsBox.insertBefore(card, hostsBox.children[i] ?? null)
  })
}

// ---- polling -----------------------------------------------------------------------------

let timer = null
let inFlight = null

async function refresh() {
  if (inFlight) return inFlight
  clearTimeout(timer)
  inFlight = (async () => {
    try {
      const res = await fetch('dashboard/data', { cache: 'no-store', headers: { accept: 'application/json' } })
      if (!res.ok) throw new Error(`HTTP ${res.status}`)
      render(await res.json())
      setText(statusLine, `updated ${new Date().toLocaleTimeString()}`)
      statusLine.classList.remove('stale')
    } catch (err) {
      setText(statusLine, `cannot reach xmppd (${err.message}); retrying`)
      statusLine.classList.add('stale')
    } finally {
      inFlight = null
      timer = setTimeout(refresh, POLL_MS)
    }
  })()
  return inFlight
}

// ---- toggling, and the token -------------------------------------------------------------

let pendingToggle = null

function askToken(action, message) {
  pendingToggle = action
  setText(tokenMessage, message)
  tokenMessage.classList.toggle('bad', /refused/.test(message))
  panel.hidden = false
  tokenInput.value = ''
  tokenInput.focus()
}

function hideToken() {
  panel.hidden = true
  pendingToggle = null
}

function showForget() {
  forgetButton.hidden = !sessionStorage.getItem(TOKEN_KEY)
}

function viewOf(action) {
  return cards.get(action.host)?.plugins.get(action.id)
}

async function requestToggle(action, view = viewOf(action)) {
  const token = sessionStorage.getItem(TOKEN_KEY)
  if (!token) return askToken(action, `Enter the admin token to ${action.action} ${action.id} on ${action.host}.`)
  if (view) {
    view.busy = true
    view.toggle.disabled = true
    setText(view.toggle, action.action === 'disable' ? 'Disabling…' : 'Enabling…')
    view.error.hidden = true
  }
  let problem = null
  try {
    const res = await fetch(`api/plugins/${encodeURIComponent(action.id)}/hosts/${encodeURIComponent(action.host)}/${action.action}`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}` },
    })
    if (res.status === 401) {
      sessionStorage.removeItem(TOKEN_KEY)
      showForget()
      askToken(action, 'The admin token was refused (401 Unauthorized); it has been forgotten. Enter it again.')
    } else if (!res.ok && res.status !== 409) {
      // 409: already in that state (someone else toggled it); the refresh below shows it.
      const body = await res.json().catch(() => ({}))
      problem = `${action.action} failed: ${body.message ?? `HTTP ${res.status}`}`
    }
  } catch (err) {
    problem = `${action.action} failed: ${err.message}`
  } finally {
    if (view) view.busy = false
  }
  if (view && problem) {
    setText(view.error, problem)
    view.error.hidden = false
  }
  await refresh()
}

form.addEventListener('submit', (event) => {
  event.preventDefault()
  const token = tokenInput.value.trim()
  if (!token) return
  sessionStorage.setItem(TOKEN_KEY, token)
  tokenInput.value = ''
  showForget()
  const action = pendingToggle
  hideToken()
  if (action) requestToggle(action)
})

document.querySelector('[data-testid="token-cancel"]').addEventListener('click', hideToken)

forgetButton.addEventListener('click', () => {
  sessionStorage.removeItem(TOKEN_KEY)
  showForget()
})

let resizeTimer = null
window.addEventListener('resize', () => {
  clearTimeout(resizeTimer)
  resizeTimer = setTimeout(() => last && render(last), 150)
})

showForget()
refresh()
