// What becomes of the stanzas an XEP-0198 session sent and never had acknowledged, once the session
// ends (resume_timeout passed while detached, stream closed, replaced, max_unacked_stanzas): each
// message is routed again with no sender session, router.message(null, …): to the account's other
// available resources, and where there are none to offline storage (issue 15; without it the router
// drops it, since a null sender is never bounced to). A message sent to the bare JID is skipped when
// another resource is available: that resource had it too. An iq request gets service-unavailable
// back to its sender; presence is state of a session that is gone, and is not routed again.
import { jid as parseJid, type JID } from '@xmpp/jid'
import type { SmMetrics } from '../observability/sm-metrics.js'
import type { Router } from './router.js'
import type { SessionRegistry } from './sessions.js'
import { errorReply, type LtxElement } from './transport.js'

export interface UnackedDeps {
  router: Pick<Router, 'message'>
  sessions: SessionRegistry
  metrics: Pick<SmMetrics, 'rerouted'>
}

function parse(value: unknown): JID | null {
  if (typeof value !== 'string' || value === '') return null
  try {
    return parseJid(value)
  } catch {
    return null
  }
}

/** Returns what hands an ended session's unacked stanzas back; `owner`: the session's full JID. */
export function createUnacked({ router, sessions, metrics }: UnackedDeps) {
  const availableElsewhere = (bare: string) => {
    for (const s of sessions.resources(bare)) if (s.available && !s.detached) return true
    return false
  }

  return function reroute(unacked: LtxElement[], owner: JID | undefined): void {
    let n = 0
    for (const stanza of unacked) {
      if (stanza.name === 'iq') {
        const type = stanza.attrs.type
        const from = parse(stanza.attrs.from)
        const sender = from?.local && from.resource ? sessions.full(`${from.local}@${from.domain}`, from.resource) : undefined
        if (sender && (type === 'get' || type === 'set')) sender.send(errorReply(stanza, 'cancel', 'service-unavailable'))
        continue
      }
      if (stanza.name !== 'message') continue
      const to = parse(stanza.attrs.to) ?? owner?.bare() ?? null
      if (!to?.local) continue
      if (!to.resource && availableElsewhere(`${to.local}@${to.domain}`)) continue
      router.message(null, stanza, to)
      n++
    }
    if (n > 0) metrics.rerouted(n)
  }
}

export type Reroute = ReturnType<typeof createUnacked>
