// What happens to a client stream once node-xmpp-server has parsed it: authentication against
// the accounts, resource binding (a new session replaces an old one with the same full JID),
// and for every stanza: `to` parsed, a message for a local account stamped with its XEP-0359
// stanza-id, user_send_packet fired on the sender's vhost, then routing.
import { randomBytes } from 'node:crypto'
import { jid as parseJid, type JID } from '@xmpp/jid'
import type { Accounts } from './accounts.js'
import type { AuthThrottle } from './auth-throttle.js'
import { createJidCache, MAX_JID_PART } from './jid-cache.js'
import type { HookRegistry } from '../plugins/hooks.js'
import type { ServerMetrics } from '../observability/metrics.js'
import type { Router } from './router.js'
import type { ClientSession, SessionRegistry } from './sessions.js'
import { stampStanzaId } from './stanza-id.js'
import type { C2SHandlers, LtxElement } from './transport.js'
import type { Reroute } from './unacked.js'
import type { Logger } from '../../contract.js'

export interface C2SDeps {
  isVhost(domain: string): boolean
  accounts: Accounts
  sessions: SessionRegistry
  hooksOf(host: string): HookRegistry | undefined
  router: Router
  presence: { presence(from: ClientSession, stanza: LtxElement, to: JID | null): void; goUnavailable(session: ClientSession): void }
  /** XEP-0191: true when a block list stopped the stanza (answered or dropped; blocking/blocking.ts). */
  blocked?(from: ClientSession, stanza: LtxElement, to: JID | null): boolean
  /** XEP-0198: an ended session's unacknowledged stanzas (unacked.ts). */
  reroute: Reroute
  /** Delivers what offline storage kept for the session's account (offline/offline.ts). */
  flushOffline(session: ClientSession): void
  metrics: ServerMetrics
  /** Failed logins answered late (auth-throttle.ts). */
  throttle: AuthThrottle
  log: Logger
}

// eslint-disable-next-line no-control-regex
const BAD_RESOURCE = /[\u0000-\u001f\u007f]/

export function createC2SHandlers(deps: C2SDeps): C2SHandlers {
  const { isVhost, accounts, sessions, hooksOf, router, presence, metrics, throttle, log, reroute, flushOffline, blocked } = deps
  const vhostJids = new Map<string, JID>()
  const parseTo = createJidCache()
  const vhostJid = (host: string): JID => {
    let j = vhostJids.get(host)
    if (!j) vhostJids.set(host, (j = parseJid(host)))
    return j
  }

  return {
    isVhost,
    authenticate: (local, domain, password, ip) =>
      throttle.attempt(ip, `${local}@${domain}`, (suspect) => (local ? accounts.verify(`${local}@${domain}`, password, suspect) : Promise.resolve(false))),

    bind(_raw, requested) {
      if (requested === null) return randomBytes(6).toString('hex')
      if (Buffer.byteLength(requested) > MAX_JID_PART)
        throw Object.assign(new Error(`resource longer than ${MAX_JID_PART} bytes`), { condition: 'jid-malformed' })
      if (BAD_RESOURCE.test(requested)) throw new Error('invalid resource')
      return requested
    },

    bound(raw, fullJid) {
      const { replaced } = sessions.add(raw, fullJid)
      if (replaced) {
        presence.goUnavailable(replaced)
        replaced.raw.close('conflict', 'replaced by a new session for the same resource')
      }
      log.info({ jid: fullJid, session: raw.id }, 'session bound')
    },

    stanza(raw, stanza) {
      const session = sessions.of(raw)
      if (!session) return
      const kind = stanza.name
      if (kind !== 'message' && kind !== 'presence' && kind !== 'iq') {
        return raw.close('unsupported-stanza-type', `<${kind}/> is not a stanza`)
      }
      let to: JID | null = null
      if (stanza.attrs.to !== undefined) {
        try {
          to = parseTo(String(stanza.attrs.to))
        } catch {
          return router.bounce(session, stanza, 'jid-malformed', 'modify')
        }
      }
      metrics.stanza(session.host, kind)
      // Before the stanza-id and user_send_packet: a blocked stanza is neither notified nor kept.
      if (blocked?.(session, stanza, to)) return
      if (kind === 'message') {
        // A message without `to` is for the sender's own account (RFC 6120 §8.1.1.1).
        const bare = to ? (to.local && isVhost(to.domain) ? `${to.local}@${to.domain}` : null) : session.bare
        if (bare && accounts.exists(bare)) stampStanzaId(stanza, bare)
      }
      const hooks = hooksOf(session.host)
      if (hooks?.has('user_send_packet')) hooks.run('user_send_packet', stanza, session.jid, to ?? vhostJid(session.host))
      if (kind === 'message') router.message(session, stanza, to)
      else if (kind === 'iq') router.iq(session, stanza, to)
      else presence.presence(session, stanza, to)
    },

    closed(raw, unacked) {
      const session = sessions.remove(raw)
      if (session) {
        presence.goUnavailable(session)
        log.info({ jid: session.jid.toString(), session: raw.id, unacked: unacked?.length }, 'session closed')
      }
      // After the removal: the messages must not come back to the session that is gone.
      if (unacked?.length) reroute(unacked, session?.jid)
    },

    detached(raw) {
      const session = sessions.of(raw)
      if (session) session.detached = true
    },

    resumed(raw) {
      const session = sessions.of(raw)
      if (!session) return
      session.detached = false
      // What offline storage kept while it was detached (messages to the bare JID skip detached
      // sessions), after the retransmitted ones, to a resource able to take messages.
      if (session.available && session.priority >= 0) flushOffline(session)
    },
  }
}
