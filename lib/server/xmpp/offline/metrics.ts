// Offline storage's series, registered once in the server's registry with every vhost at 0 from
// start: what was kept, delivered, refused past the per-account bound, dropped, and what is held.
import { Counter, Gauge, type Registry } from 'prom-client'

export interface OfflineMetrics {
  stored(host: string): void
  delivered(host: string, n: number): void
  refused(host: string): void
  dropped(host: string): void
}

export function createOfflineMetrics(registry: Registry, hosts: readonly string[], held: (host: string) => number): OfflineMetrics {
  new Gauge({
    name: 'xmppd_offline_messages',
    help: 'Messages held in offline storage for accounts with no available resource',
    labelNames: ['host'],
    registers: [registry],
    collect() {
      for (const host of hosts) this.set({ host }, held(host))
    },
  })
  const counter = (name: string, help: string) => {
    const c = new Counter({ name, help, labelNames: ['host'], registers: [registry] })
    const byHost = new Map(hosts.map((host) => [host, c.labels({ host })]))
    for (const child of byHost.values()) child.inc(0)
    return (host: string, n = 1) => byHost.get(host)?.inc(n)
  }
  const stored = counter('xmppd_offline_messages_stored_total', 'Messages kept in offline storage (offline_message fired for each)')
  const delivered = counter('xmppd_offline_messages_delivered_total', "Messages delivered from offline storage on the account's initial presence")
  const refused = counter(
    'xmppd_offline_messages_refused_total',
    "Messages refused because the account's offline storage was full (general.max_offline_messages); the sender got service-unavailable",
  )
  const dropped = counter(
    'xmppd_offline_messages_dropped_total',
    'Messages re-routed by the server (unacknowledged by a stream-management session) that could be neither delivered nor kept, or unreadable stored rows',
  )
  return {
    stored: (host) => stored(host),
    delivered: (host, n) => delivered(host, n),
    refused: (host) => refused(host),
    dropped: (host) => dropped(host),
  }
}
