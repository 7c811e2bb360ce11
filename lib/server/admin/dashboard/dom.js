// @ts-check
// DOM helpers. Everything the server sends goes into the page as text (textContent), never as
// markup: the token lives in this tab, so nothing in the data may run as code.

const SVG = 'http://www.w3.org/2000/svg'

/** @typedef {Record<string, string | number | boolean | null | undefined>} Attrs  `text` sets the text, `class` the class; false/null/undefined leave it out */

/**
 * @template {keyof HTMLElementTagNameMap} K
 * @param {K} tag
 * @param {Attrs} [attrs]
 * @param {...(Node | null | undefined)} children
 * @returns {HTMLElementTagNameMap[K]}
 */
export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag)
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue
    if (k === 'text') node.textContent = String(v)
    else if (k === 'class') node.className = String(v)
    else node.setAttribute(k, v === true ? '' : String(v))
  }
  for (const c of children) if (c) node.append(c)
  return node
}

/**
 * @template {keyof SVGElementTagNameMap} K
 * @param {K} tag
 * @param {Record<string, string | number>} [attrs]
 * @returns {SVGElementTagNameMap[K]}
 */
export function svg(tag, attrs = {}) {
  const node = document.createElementNS(SVG, tag)
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, String(v))
  return node
}

/** Writes only on change, so a poll that changes nothing leaves the page (and selections) alone. @param {Node} node @param {string} text */
export function setText(node, text) {
  if (node.textContent !== text) node.textContent = text
}

/**
 * The page's element with this data-testid; the page ships with the script, so a missing one is a bug.
 * @template {Element} T
 * @param {string} testid
 * @param {{ new (): T }} type
 * @returns {T}
 */
export function byTestId(testid, type) {
  const node = document.querySelector(`[data-testid="${testid}"]`)
  if (!(node instanceof type)) throw new Error(`the page has no ${type.name} with data-testid="${testid}"`)
  return node
}
