// @ts-check
// The admin token for toggles: asked for once, kept in this tab's sessionStorage (gone with the
// tab, never in a cookie), forgotten when the server refuses it. The panel remembers the toggle
// that asked for it and resumes that toggle once a token is entered.
import { byTestId, setText } from './dom.js'

/** @typedef {import('./toggle.js').ToggleAction} ToggleAction */

const TOKEN_KEY = 'xmppd.adminToken'

/** @param {(action: ToggleAction) => void} resume  runs the toggle that was waiting for the token */
export function createTokenPanel(resume) {
  const panel = byTestId('token-panel', HTMLElement)
  const form = byTestId('token-form', HTMLFormElement)
  const input = byTestId('token-input', HTMLInputElement)
  const message = byTestId('token-message', HTMLElement)
  const forgetButton = byTestId('token-forget', HTMLButtonElement)
  /** @type {ToggleAction | null} */
  let waiting = null

  const showForget = () => {
    forgetButton.hidden = !sessionStorage.getItem(TOKEN_KEY)
  }
  const hide = () => {
    panel.hidden = true
    waiting = null
  }

  form.addEventListener('submit', (event) => {
    event.preventDefault()
    const token = input.value.trim()
    if (!token) return
    sessionStorage.setItem(TOKEN_KEY, token)
    input.value = ''
    showForget()
    const action = waiting
    hide()
    if (action) resume(action)
  })
  byTestId('token-cancel', HTMLButtonElement).addEventListener('click', hide)
  forgetButton.addEventListener('click', () => {
    sessionStorage.removeItem(TOKEN_KEY)
    showForget()
  })
  showForget()

  return {
    /** @returns {string | null} */
    get: () => sessionStorage.getItem(TOKEN_KEY),
    /** Opens the panel for `action`, saying why. @param {ToggleAction} action @param {string} why */
    ask(action, why) {
      waiting = action
      setText(message, why)
      message.classList.toggle('bad', /refused/.test(why))
      panel.hidden = false
      input.value = ''
      input.focus()
    },
    /** After a 401: the kept token is wrong. */
    forget() {
      sessionStorage.removeItem(TOKEN_KEY)
      showForget()
    },
  }
}

/** @typedef {ReturnType<typeof createTokenPanel>} TokenPanel */
