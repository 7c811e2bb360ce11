// Reads the plugin's series for one vhost out of a registry, and asserts the invariant
// accepted + recovered + replayed = sent + failed + pending (DESIGN.md's accounting, within one process).
import assert from 'node:assert/strict'
import type { Registry } from 'prom-client'

export interface HostCounts {
  accepted: number
  sent: number
  failed: Record<string, number>
  failedTotal: number
  recovered: number
  replayed: number
  /** Summed over the host's handlers (removed ones' leftovers included). */
  pending: number
  responseCount: number
}

async function values(registry: Registry, name: string) {
  const metric = registry.getSingleMetric(name)
  return metric ? (await metric.get()).values : []
}

export async function hostCounts(registry: Registry, host: string): Promise<HostCounts> {
  const one = async (name: string) => (await values(registry, name)).find((v) => v.labels.host === host)?.value ?? 0
  const failed: Record<string, number> = {}
  for (const v of await values(registry, 'mod_http_notifications_failed_total')) {
    if (v.labels.host === host) failed[String(v.labels.reason)] = v.value
  }
  const hist = await values(registry, 'mod_http_notifications_response_time_seconds')
  return {
    accepted: await one('mod_http_notifications_accepted_total'),
    sent: await one('mod_http_notifications_sent_total'),
    failed,
    failedTotal: Object.values(failed).reduce((a, b) => a + b, 0),
    recovered: await one('mod_http_notifications_recovered_total'),
    replayed: await one('mod_http_notifications_replayed_total'),
    pending: (await values(registry, 'mod_http_notifications_pending')).filter((v) => v.labels.host === host).reduce((n, v) => n + v.value, 0),
    responseCount:
      hist.find((v) => v.labels.host === host && (v as { metricName?: string }).metricName === 'mod_http_notifications_response_time_seconds_count')?.value ??
      0,
  }
}

/**
 * Waits (up to timeoutMs) for a quiet moment where nothing is pending any more, then asserts
 * accepted + recovered + replayed = sent + failed (+ pending, when `pending` says some may stay).
 */
export async function assertBalanced(registry: Registry, host: string, timeoutMs = 2000, { pending = false } = {}): Promise<HostCounts> {
  const deadline = Date.now() + timeoutMs
  const settled = (c: HostCounts) => c.accepted + c.recovered + c.replayed === c.sent + c.failedTotal + c.pending && (pending || c.pending === 0)
  let c = await hostCounts(registry, host)
  while (!settled(c) && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 10))
    c = await hostCounts(registry, host)
  }
  assert.equal(
    c.accepted + c.recovered + c.replayed,
    c.sent + c.failedTotal + c.pending,
    `${host}: accepted ${c.accepted} + recovered ${c.recovered} + replayed ${c.replayed} != sent ${c.sent} + failed ${c.failedTotal} ${JSON.stringify(c.failed)} + pending ${c.pending}`,
  )
  if (!pending) assert.equal(c.pending, 0, `${host}: ${c.pending} still pending`)
  assert.equal(c.responseCount, c.sent, `${host}: response_time observes sent requests only`)
  return c
}

/** Polls `read` until `check` holds (or throws the last assertion after timeoutMs). */
export async function eventually<T>(read: () => Promise<T> | T, check: (v: T) => void, timeoutMs = 2000): Promise<T> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const v = await read()
    try {
      check(v)
      return v
    } catch (err) {
      if (Date.now() >= deadline) throw err
      await new Promise((r) => setTimeout(r, 10))
    }
  }
}
