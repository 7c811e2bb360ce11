// @ts-check
// Each vhost's latest dead letters and its "Replay failed" button, through the admin API routes
// the plugin declares: GET …/deliveries?state=failed&limit=10 and POST …/deliveries/replay
// { failed: true }. Both need the admin token (token.js), as toggles do: without one the list
// says so and the button asks for it. Bodies are cut short; headers are never in a delivery.
import { el, setText } from './dom.js'

/** @typedef {import('./token.js').TokenPanel} TokenPanel */
/** @typedef {import('./toggle.js').ToggleAction} ToggleAction */
/** @typedef {{ webhookId: string, handler: string, event: { from?: string, to?: string, body?: string }, failedAt?: string, lastAttemptAt?: string, reason?: string, status?: number, error?: string }} DeadLetter  as the plugin's `deliveries` answers it: times are ISO 8601 strings */
/** @typedef {{ node: HTMLElement, list: HTMLElement, note: HTMLElement, button: HTMLButtonElement, result: HTMLElement, busy: boolean, loading: boolean, running: boolean }} DeadView */

const PLUGIN = 'mod_event_pusher_http'
const LATEST = 10
const BODY_CHARS = 60

/** @param {string} host */
const base = (host) => `api/hosts/${encodeURIComponent(host)}/plugins/${PLUGIN}/deliveries`

/** @param {string | undefined} s */
const cut = (s) => (!s ? '' : s.length > BODY_CHARS ? `${s.slice(0, BODY_CHARS)}…` : s)

/** A listed time (ISO 8601) as a <time>: the browser's local time, the exact instant in `datetime`. @param {string | undefined} iso */
function when(iso) {
  const t = typeof iso === 'string' ? Date.parse(iso) : NaN
  if (Number.isNaN(t)) return el('span', { class: 'muted', 'data-testid': 'dead-letter-time', text: '–' })
  return el('time', { class: 'muted', 'data-testid': 'dead-letter-time', datetime: new Date(t).toISOString(), text: new Date(t).toLocaleString() })
}

/** @param {{ token: TokenPanel, refresh: () => Promise<void> }} deps */
export function createDeadLetters({ token, refresh }) {
  /** @type {Map<string, DeadView>} */
  const views = new Map()

  /** The vhost's section, made once and kept across polls. @param {string} host @returns {DeadView} */
  function viewFor(host) {
    let v = views.get(host)
    if (v) return v
    const list = el('ul', { class: 'rows dead-letters', 'data-testid': `dead-letters-${host}` })
    const note = el('p', { class: 'muted', 'data-testid': `dead-letters-note-${host}` })
    const button = el('button', { type: 'button', class: 'toggle primary', 'data-testid': `replay-${host}`, text: 'Replay failed' })
    button.setAttribute('aria-label', `Replay the failed notifications of ${host}`)
    const result = el('p', { class: 'muted', role: 'status', 'data-testid': `replay-result-${host}` })
    const node = el(
      'section',
      { class: 'plugin', 'data-testid': `dead-section-${host}` },
      el('h3', { text: 'Latest dead letters' }),
      note,
      list,
      button,
      result,
    )
    const view = { node, list, note, button, result, busy: false, loading: false, running: false }
    button.addEventListener('click', () => replay(host))
    views.set(host, view)
    return view
  }

  /** Re-reads the list; a poll while the last one runs is skipped. @param {string} host @param {boolean} running */
  async function update(host, running) {
    const v = viewFor(host)
    v.running = running
    if (!v.busy) v.button.disabled = !running
    if (!running) {
      v.list.replaceChildren()
      return setText(v.note, 'Shown while the plugin runs on this vhost.')
    }
    const secret = token.get()
    if (!secret) return setText(v.note, 'Listing them needs the admin token: "Replay failed" asks for it.')
    if (v.loading) return
    v.loading = true
    try {
      const res = await fetch(`${base(host)}?state=failed&limit=${LATEST}`, { cache: 'no-store', headers: { authorization: `Bearer ${secret}` } })
      if (!res.ok) return setText(v.note, `cannot list them: HTTP ${res.status}`)
      const { items } = /** @type {{ items: DeadLetter[] }} */ (await res.json())
      setText(v.note, items.length ? `the newest ${items.length}` : 'none')
      v.list.replaceChildren(...items.map(row))
    } catch (err) {
      setText(v.note, `cannot list them: ${err instanceof Error ? err.message : String(err)}`)
    } finally {
      v.loading = false
    }
  }

  /** @param {DeadLetter} d */
  function row(d) {
    const why = [d.reason, d.status ? `HTTP ${d.status}` : d.error].filter(Boolean).join(' · ')
    return el(
      'li',
      { 'data-testid': 'dead-letter' },
      when(d.failedAt ?? d.lastAttemptAt),
      el('span', { class: 'row-name', text: d.handler }),
      el('span', { text: `${d.event.from ?? '?'} → ${d.event.to ?? '?'}` }),
      el('span', { class: 'badge bad', text: why || 'failed' }),
      el('code', { class: 'url', text: cut(d.event.body) }),
    )
  }

  /** POSTs the replay of every failed notification of the vhost, with the token (asked for if missing). @param {string} host */
  async function replay(host) {
    const v = viewFor(host)
    if (v.busy || !v.running) return
    const secret = token.get()
    if (!secret) return token.ask({ id: PLUGIN, host, action: 'replay' }, `Enter the admin token to replay the failed notifications on ${host}.`)
    v.busy = true
    v.button.disabled = true
    setText(v.button, 'Replaying…')
    try {
      const res = await fetch(`${base(host)}/replay`, {
        method: 'POST',
        headers: { authorization: `Bearer ${secret}`, 'content-type': 'application/json' },
        body: JSON.stringify({ failed: true }),
      })
      if (res.status === 401) {
        token.forget()
        token.ask({ id: PLUGIN, host, action: 'replay' }, 'The admin token was refused (401 Unauthorized); it has been forgotten. Enter it again.')
      } else if (!res.ok) {
        const body = await res.json().catch(() => ({}))
        setText(v.result, `replay failed: ${body.message ?? `HTTP ${res.status}`}`)
      } else {
        const { replayed, noHandler = [] } = /** @type {{ replayed: number, noHandler?: Array<{ handler: string, count: number }> }} */ (await res.json())
        // Dead letters of a handler a reload removed stay: nothing could deliver them.
        const left = noHandler.map((n) => `${n.handler} ${n.count}`).join(', ')
        setText(v.result, `replayed ${replayed}${left ? `; left, no handler of that name runs: ${left}` : ''}`)
      }
    } catch (err) {
      setText(v.result, `replay failed: ${err instanceof Error ? err.message : String(err)}`)
    } finally {
      v.busy = false
      v.button.disabled = !v.running
      setText(v.button, 'Replay failed')
    }
    await refresh()
    await update(host, v.running)
  }

  return { viewFor, update, replay }
}

/** @typedef {ReturnType<typeof createDeadLetters>} DeadLetters */
