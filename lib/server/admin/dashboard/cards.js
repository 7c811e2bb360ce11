// @ts-check
// One card per vhost, in the server's order, each with one view per plugin (view.js). Cards and
// views are kept across polls and updated in place; those the data no longer has are removed.
import { el, setText } from './dom.js'
import { int } from './format.js'
import { createPluginView, updatePluginView } from './view.js'

/** @typedef {import('./data.js').DashboardData} DashboardData */
/** @typedef {import('./view.js').PluginView} PluginView */
/** @typedef {import('./toggle.js').ToggleAction} ToggleAction */
/** @typedef {{ card: HTMLElement, sessions: HTMLElement, empty: HTMLElement, dead: HTMLElement, plugins: Map<string, PluginView> }} Card */

/** @typedef {import('./deadletters.js').DeadLetters} DeadLetters */

/** @param {HTMLElement} box  the page's list of cards @param {(action: ToggleAction) => void} onToggle @param {DeadLetters} deadLetters */
export function createCards(box, onToggle, deadLetters) {
  /** @type {Map<string, Card>} by vhost */
  const cards = new Map()

  /** @param {string} host @returns {Card} */
  function cardFor(host) {
    let c = cards.get(host)
    if (c) return c
    const sessions = el('span', { class: 'sessions', 'data-testid': `sessions-${host}` })
    const empty = el('p', { class: 'muted', text: 'No plugin configured on this vhost.', hidden: true })
    const card = el(
      'article',
      { class: 'card', 'data-testid': `vhost-${host}` },
      el('header', { class: 'card-head' }, el('h2', { text: host }), sessions),
      empty,
    )
    // The dead letters come last; plugin views go before them.
    const dead = deadLetters.viewFor(host).node
    card.append(dead)
    c = { card, sessions, empty, dead, plugins: new Map() }
    cards.set(host, c)
    return c
  }

  /** @param {DashboardData} data */
  function render(data) {
    const seen = new Set(data.hosts.map((h) => h.host))
    for (const [host, c] of cards) {
      if (seen.has(host)) continue
      c.card.remove()
      cards.delete(host)
    }
    data.hosts.forEach((h, i) => {
      const c = cardFor(h.host)
      // In the page, in the server's order, before anything in it is drawn: the chart measures
      // its box, and a box outside the page has no width.
      if (box.children[i] !== c.card) box.insertBefore(c.card, box.children[i] ?? null)
      setText(c.sessions, `${int(h.sessions)} session${h.sessions === 1 ? '' : 's'}`)
      c.empty.hidden = h.plugins.length > 0
      const ids = new Set(h.plugins.map((p) => p.id))
      for (const [id, view] of c.plugins) {
        if (ids.has(id)) continue
        view.node.remove()
        c.plugins.delete(id)
      }
      for (const p of h.plugins) {
        let view = c.plugins.get(p.id)
        if (!view) {
          view = createPluginView(h.host, p.id, onToggle)
          c.plugins.set(p.id, view)
          c.card.insertBefore(view.node, c.dead)
        }
        updatePluginView(view, p)
      }
      // The deliveries routes are mod_event_pusher_http's: shown only where it is configured.
      const primary = h.plugins.find((p) => p.id === 'mod_event_pusher_http')
      c.dead.hidden = !primary
      // Only a running instance answers them (404 otherwise): while stopped the section says so.
      if (primary) deadLetters.update(h.host, Boolean(primary.detail))
    })
  }

  /** @param {{ id: string, host: string }} key */
  const viewOf = (key) => cards.get(key.host)?.plugins.get(key.id)

  return { render, viewOf }
}
