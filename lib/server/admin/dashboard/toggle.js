// @ts-check
// Enabling and disabling a plugin on a vhost: POST /api/plugins/<id>/hosts/<host>/enable|disable
// with the admin token (token.js); the card shows the request while it runs and any error after.
// Whatever the answer, the page then refreshes, so it shows the server's state, not a guess.

import { setText } from './dom.js'

/** @typedef {{ id: string, host: string, action: 'enable' | 'disable' | 'replay' }} ToggleAction  'replay' waits for the token too (deadletters.js) */
/** @typedef {import('./token.js').TokenPanel} TokenPanel */
/** @typedef {import('./view.js').PluginView} PluginView */

/**
 * @param {{ token: TokenPanel, viewOf: (action: ToggleAction) => PluginView | undefined, refresh: () => Promise<void> }} deps
 */
export function createToggler({ token, viewOf, refresh }) {
  /** @param {ToggleAction} action @param {PluginView | undefined} [view] */
  async function request(action, view = viewOf(action)) {
    const secret = token.get()
    if (!secret) return token.ask(action, `Enter the admin token to ${action.action} ${action.id} on ${action.host}.`)
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
        headers: { authorization: `Bearer ${secret}` },
      })
      if (res.status === 401) {
        token.forget()
        token.ask(action, 'The admin token was refused (401 Unauthorized); it has been forgotten. Enter it again.')
      } else if (!res.ok && res.status !== 409) {
        // 409: already in that state (someone else toggled it); the refresh below shows it.
        const body = await res.json().catch(() => ({}))
        problem = `${action.action} failed: ${body.message ?? `HTTP ${res.status}`}`
      }
    } catch (err) {
      problem = `${action.action} failed: ${err instanceof Error ? err.message : String(err)}`
    } finally {
      if (view) view.busy = false
    }
    if (view && problem) {
      setText(view.error, problem)
      view.error.hidden = false
    }
    await refresh()
  }
  return { request }
}
