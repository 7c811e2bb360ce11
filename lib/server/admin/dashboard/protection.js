// @ts-check
// The "Server protection" block above the vhost cards: what the c2s listener refused or closed
// to protect itself, and the logins it throttled (issue 14). Server-wide, as the series are (no
// host label): totals by reason, and how many in the last few minutes, so an attack under way
// stands out (the tile turns red) from one the totals only remember.
import { el, setText } from './dom.js'
import { int } from './format.js'

/** @typedef {import('./data.js').ProtectionData} ProtectionData */
/** @typedef {import('./data.js').ProtectionCounter} ProtectionCounter */
/** @typedef {'refused' | 'closed' | 'throttled'} Kind */

/** How a reason reads on the page; one the server adds later shows under its own name. @type {Record<string, string>} */
const LABELS = {
  max_connections: 'max_connections (server full)',
  max_connections_per_ip: 'max_connections_per_ip',
  limit: 'over an input limit',
  timeout: 'handshake or idle timeout',
  slow_reader: 'slow reader',
  forbidden_input: 'forbidden input',
}

/** @param {Kind} kind @param {string} label @param {string} hint */
function block(kind, label, hint) {
  const value = el('span', { class: 'tile-value', 'data-testid': `protection-${kind}`, text: '–' })
  const recent = el('span', { class: 'tile-note', 'data-testid': `protection-${kind}-recent` })
  const reasons = el('dl', { class: 'seed protection-reasons', 'data-testid': `protection-${kind}-reasons` })
  const node = el('div', { class: 'tile', title: hint }, el('span', { class: 'tile-label', text: label }), value, recent, reasons)
  return { node, value, recent, reasons, /** @type {Map<string, HTMLElement>} */ rows: new Map() }
}

/** @param {HTMLElement} box  the page's protection section */
export function createProtection(box) {
  const windowNote = el('span', { class: 'muted', 'data-testid': 'protection-window' })
  const blocks = {
    refused: block('refused', 'connections refused', 'TCP connections refused at accept (xmppd_connections_refused_total)'),
    closed: block('closed', 'streams closed', 'client streams the server closed to protect itself (xmppd_sessions_closed_total)'),
    throttled: block('throttled', 'logins throttled', 'failed logins answered after a delay grown by earlier failures (xmppd_auth_throttled_total)'),
  }
  box.append(
    el('header', { class: 'card-head' }, el('h2', { text: 'Server protection' }), windowNote),
    el('div', { class: 'protection-tiles' }, blocks.refused.node, blocks.closed.node, blocks.throttled.node),
  )

  /** @param {ProtectionData | null} data  null: no c2s listener here (a delivery worker) */
  function render(data) {
    box.hidden = !data
    if (!data) return
    const minutes = `${Math.round(data.window_s / 60)} min`
    setText(windowNote, `all since start · red: some in the last ${minutes}`)
    for (const kind of /** @type {Kind[]} */ (['refused', 'closed', 'throttled'])) update(blocks[kind], kind, data[kind], minutes)
  }

  /** @param {ReturnType<typeof block>} b @param {Kind} kind @param {ProtectionCounter} c @param {string} minutes */
  function update(b, kind, c, minutes) {
    setText(b.value, int(c.total))
    setText(b.recent, `${int(c.recent)} in the last ${minutes}`)
    b.node.classList.toggle('bad', c.recent > 0)
    for (const [reason, n] of Object.entries(c.by)) {
      let dd = b.rows.get(reason)
      if (!dd) {
        dd = el('dd', { 'data-testid': `protection-${kind}-${reason}` })
        b.reasons.append(el('div', { class: 'seed-row' }, el('dt', { text: LABELS[reason] ?? reason }), dd))
        b.rows.set(reason, dd)
      }
      setText(dd, int(n))
    }
    b.reasons.hidden = b.rows.size === 0
  }

  return { render }
}
