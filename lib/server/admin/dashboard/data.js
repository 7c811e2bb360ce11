// @ts-check
// What the page reads: GET dashboard/data. Its types are the server's own, imported from its
// TypeScript by JSDoc (types only: the browser never loads those files), and `npm run typecheck`
// checks these modules against them, so the page and the server cannot drift apart.

/** @typedef {import('../dashboard.js').DashboardData} DashboardData  { time, hosts: [{ host, sessions, plugins }], protection } */
/** @typedef {import('../../plugins/status.js').PluginStatus} PluginStatus  state, metrics by role, seed, detail, history */
/** @typedef {import('../../plugins/status.js').HistoryPoint} HistoryPoint  { t, sent, failed }: cumulative totals every 2 s */
/** @typedef {import('../../plugins/metric-reader.js').Reading} Reading  { name, type, total, by?, sum? } */
/** @typedef {import('../../observability/protection.js').ProtectionData} ProtectionData  server-wide: refused, closed, throttled */
/** @typedef {import('../../observability/protection.js').ProtectionCounter} ProtectionCounter  { total, recent, by } */
/** @typedef {import('../status-text.js').StatusDetail} StatusDetail  the running plugin's handlers, pools and percentiles */

/** @returns {Promise<DashboardData>} */
export async function fetchData() {
  const res = await fetch('dashboard/data', { cache: 'no-store', headers: { accept: 'application/json' } })
  if (!res.ok) throw new Error(`HTTP ${res.status}`)
  return res.json()
}
