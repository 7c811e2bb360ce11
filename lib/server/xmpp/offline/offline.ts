// Offline storage (RFC 6121 §8.5.2, XEP-0160): what happens to a message for an existing account
// that has no resource to take it live. Chat and normal messages with a body are kept, up to
// general.max_offline_messages per account, and delivered on the account's next initial presence
// with an XEP-0203 delay stamp; keeping one fires offline_message on the recipient's vhost.
// Everything else bounces or is dropped as RFC 6121 says, and every outcome is counted.
import { jid as parseJid, type JID } from '@xmpp/jid'
import { parse as parseXml } from 'ltx'
import type { Logger } from '../../../contract.js'
import type { HookRegistry } from '../../plugins/hooks.js'
import type { ClientSession } from '../sessions.js'
import { errorReply, type LtxElement } from '../transport.js'
import type { OfflineMetrics } from './metrics.js'
import type { OfflineStore } from './store.js'

const NS_DELAY = 'urn:xmpp:delay'
/** Rows read per query while flushing: memory stays bounded whatever an account holds. */
const FLUSH_BATCH = 500

export type OfflineOutcome = 'kept' | 'bounced' | 'refused' | 'dropped'

export interface OfflineDeps {
  store: OfflineStore
  metrics: OfflineMetrics
  hooksOf(host: string): HookRegistry | undefined
  /** general.max_offline_messages of the running config (a reload may change it); 0 = storage off. */
  maxPerAccount(): number
  log: Logger
}

export interface Offline {
  /**
   * A message for `to` (an existing local account, bare or full as addressed) that no session
   * takes. `from` is its sender's session, or null when the server re-routes it (stream
   * management's unacknowledged messages): those are never bounced, and dropped (counted) when
   * they cannot be kept.
   */
  keepOrBounce(from: ClientSession | null, stanza: LtxElement, to: JID): OfflineOutcome
  /** Sends the account's kept messages to `session`, oldest first, and removes them. */
  flush(session: ClientSession): void
  /** Whether messages are kept at all (general.max_offline_messages > 0), for disco#info. */
  enabled(): boolean
  close(): void
}

export function createOffline({ store, metrics, hooksOf, maxPerAccount, log }: OfflineDeps): Offline {
  const refuse = (from: ClientSession | null, stanza: LtxElement, text?: string): void => {
    if (from && stanza.attrs.type !== 'error') from.send(errorReply(stanza, 'cancel', 'service-unavailable', text))
  }

  function senderJid(from: ClientSession | null, stanza: LtxElement, to: JID): JID {
    if (from) return from.jid
    try {
      return parseJid(String(stanza.attrs.from))
    } catch {
      return parseJid(to.domain)
    }
  }

  function keepOrBounce(from: ClientSession | null, stanza: LtxElement, to: JID): OfflineOutcome {
    const type = stanza.attrs.type ?? 'normal'
    const host = to.domain
    const account = `${to.local}@${to.domain}`
    // RFC 6121 §8.5.2.1.1: headline and error messages to an unavailable account are ignored.
    const keepable = (type === 'chat' || type === 'normal') && Boolean(stanza.getChildText('body'))
    const max = maxPerAccount()
    if (type === 'headline' || type === 'error' || (from === null && (!keepable || max === 0))) {
      metrics.dropped(host)
      return 'dropped'
    }
    // groupchat, body-less chat (chat states) and storage turned off: service-unavailable, as before.
    if (!keepable || max === 0) {
      refuse(from, stanza)
      return 'bounced'
    }
    if (store.count(account) >= max) {
      metrics.refused(host)
      refuse(from, stanza, `offline storage for ${account} is full`)
      return 'refused'
    }
    try {
      store.put(account, stanza.toString(), Date.now(), from?.jid.toString() ?? String(stanza.attrs.from ?? ''))
    } catch (err) {
      // A full disk or a broken file: the sender learns the message was not kept.
      log.error({ err, to: account }, 'offline storage failed to keep a message')
      if (from) refuse(from, stanza, 'offline storage failed')
      else metrics.dropped(host)
      return from ? 'bounced' : 'dropped'
    }
    metrics.stored(host)
    const hooks = hooksOf(host)
    if (hooks?.has('offline_message')) hooks.run('offline_message', stanza, senderJid(from, stanza, to), to)
    return 'kept'
  }

  function flush(session: ClientSession): void {
    const account = session.bare
    if (store.count(account) === 0) return
    let after = 0
    let sent = 0
    for (;;) {
      const rows = store.list(account, after, FLUSH_BATCH)
      if (rows.length === 0) break
      for (const row of rows) {
        after = row.id
        let stanza: LtxElement
        try {
          stanza = parseXml(row.stanza) as unknown as LtxElement
        } catch (err) {
          log.warn({ err, to: account, id: row.id }, 'unreadable offline message dropped')
          metrics.dropped(session.host)
          continue
        }
        stanza.c('delay', { xmlns: NS_DELAY, from: session.host, stamp: new Date(row.stamp).toISOString() })
        session.send(stanza)
        sent++
      }
      store.remove(account, after)
    }
    if (sent > 0) metrics.delivered(session.host, sent)
    log.debug({ jid: session.jid.toString(), delivered: sent }, 'offline messages delivered')
  }

  return { keepOrBounce, flush, enabled: () => maxPerAccount() > 0, close: () => store.close() }
}
