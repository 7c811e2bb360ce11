// XEP-0092 software version of the server: to the vhost's JID, name "xmppd" and this package's
// version. No <os/>: the XEP makes it optional and it tells an attacker more than a client needs.
// To an account's full JID the query is routed to the client (router.ts); to its bare JID the
// server does not answer for the account's software: service-unavailable (server-iq.ts's default),
// also without a `to`, which RFC 6120 §10.3.3 makes the sender's own bare JID.
import { readFileSync } from 'node:fs'
import type { JID } from '@xmpp/jid'
import type { ClientSession } from './sessions.js'
import type { IqExtension } from './server-iq.js'
import { Element, errorReply, type LtxElement } from './transport.js'

export const NS_VERSION = 'jabber:iq:version'

/** This package's version, from package.json (three folders up from lib/server/xmpp and dist/server/xmpp). */
export function serverVersion(): string {
  return (JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version: string }).version
}

export function createVersion({ version = serverVersion() }: { version?: string } = {}): IqExtension {
  return function softwareVersion(from: ClientSession, iq: LtxElement, payload: LtxElement, to: JID | null): boolean {
    if (payload.attrs.xmlns !== NS_VERSION || !to || to.local) return false
    if (iq.attrs.type !== 'get' || payload.name !== 'query')
      return (from.send(errorReply(iq, 'modify', 'bad-request', 'software version is read with an iq get')), true)
    const attrs: Record<string, string> = { type: 'result', id: iq.attrs.id, to: iq.attrs.from }
    if (iq.attrs.to) attrs.from = iq.attrs.to
    const reply = new Element('iq', attrs)
    const query = reply.c('query', { xmlns: NS_VERSION })
    query.c('name').t('xmppd')
    query.c('version').t(version)
    from.send(reply)
    return true
  }
}
