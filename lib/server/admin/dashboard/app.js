// @ts-check
// The xmppd dashboard's entry module: polls dashboard/data every 2 s and keeps one card per vhost
// up to date (cards.js); a toggle goes through the admin API (toggle.js) with the token kept in
// this tab's sessionStorage (token.js); so do the dead letters' list and replay (deadletters.js).
// Above the cards, the server-wide protection counters (protection.js).
import { createCards } from './cards.js'
import { fetchData } from './data.js'
import { createDeadLetters } from './deadletters.js'
import { createProtection } from './protection.js'
import { byTestId, setText } from './dom.js'
import { createToggler } from './toggle.js'
import { createTokenPanel } from './token.js'

const POLL_MS = 2000

const statusLine = byTestId('refresh-status', HTMLElement)
// They refer to each other only in event handlers, which run after all of them exist. The token
// panel resumes what asked for the token: a toggle, or a replay of failed notifications.
const token = createTokenPanel((action) => (action.action === 'replay' ? deadLetters.replay(action.host) : toggler.request(action)))
const deadLetters = createDeadLetters({ token, refresh })
const cards = createCards(byTestId('hosts', HTMLElement), (action) => toggler.request(action), deadLetters)
const protection = createProtection(byTestId('protection', HTMLElement))
const toggler = createToggler({ token, viewOf: cards.viewOf, refresh })

/** @type {ReturnType<typeof setTimeout> | undefined} */
let timer
/** @type {Promise<void> | null} */
let inFlight = null

/** Polls now (or joins the poll under way), then again POLL_MS after it ends. */
function refresh() {
  if (inFlight) return inFlight
  clearTimeout(timer)
  inFlight = (async () => {
    try {
      const data = await fetchData()
      protection.render(data.protection)
      cards.render(data)
      setText(statusLine, `updated ${new Date().toLocaleTimeString()}`)
      statusLine.classList.remove('stale')
    } catch (err) {
      setText(statusLine, `cannot reach xmppd (${err instanceof Error ? err.message : String(err)}); retrying`)
      statusLine.classList.add('stale')
    } finally {
      inFlight = null
      timer = setTimeout(refresh, POLL_MS)
    }
  })()
  return inFlight
}

refresh()
