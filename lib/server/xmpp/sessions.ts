// Who is connected: bound client sessions by bare JID and resource. Also answers the contract's
// sessions.isOnline for plugins.
import { jid as parseJid, type JID } from '@xmpp/jid'
import type { RawSession, LtxElement } from './transport.js'

export class ClientSession {
  /** True once the client sent its initial (available) presence. */
  available = false
  priority = 0
  /** True while a stream-management session waits to be resumed: bound, but nobody reads it. */
  detached = false
  /** The last broadcast presence, replayed to contacts who come online later. */
  presence: LtxElement | null = null

  constructor(
    readonly raw: RawSession,
    readonly jid: JID,
  ) {}

  get bare(): string {
    return `${this.jid.local}@${this.jid.domain}`
  }
  get host(): string {
    return this.jid.domain
  }
  send(stanza: LtxElement): void {
    this.raw.send(stanza)
  }
}

export class SessionRegistry {
  private readonly byBare = new Map<string, Map<string, ClientSession>>()
  private readonly byRaw = new Map<RawSession, ClientSession>()

  /** Adds a bound session; returns the session it replaces (same full JID), if any. */
  add(raw: RawSession, fullJid: string): { session: ClientSession; replaced?: ClientSession } {
    const session = new ClientSession(raw, parseJid(fullJid))
    let resources = this.byBare.get(session.bare)
    if (!resources) this.byBare.set(session.bare, (resources = new Map()))
    const replaced = resources.get(session.jid.resource)
    if (replaced) this.byRaw.delete(replaced.raw)
    resources.set(session.jid.resource, session)
    this.byRaw.set(raw, session)
    return { session, replaced }
  }

  /** Removes a stream's session; returns it when it was registered. */
  remove(raw: RawSession): ClientSession | undefined {
    const session = this.byRaw.get(raw)
    if (!session) return undefined
    this.byRaw.delete(raw)
    const resources = this.byBare.get(session.bare)
    if (resources?.get(session.jid.resource) === session) {
      resources.delete(session.jid.resource)
      if (resources.size === 0) this.byBare.delete(session.bare)
    }
    return session
  }

  of(raw: RawSession): ClientSession | undefined {
    return this.byRaw.get(raw)
  }

  /** Lower-case bare JID → its bound resources. */
  resources(bare: string): Iterable<ClientSession> {
    return this.byBare.get(bare)?.values() ?? []
  }

  full(bare: string, resource: string): ClientSession | undefined {
    return this.byBare.get(bare)?.get(resource)
  }

  /** The contract's isOnline: some resource of the account is available and attached. */
  isOnline(jid: JID): boolean {
    for (const s of this.resources(`${jid.local}@${jid.domain}`)) if (s.available && !s.detached) return true
    return false
  }

  /** Every session on one vhost. */
  *onHost(host: string): Iterable<ClientSession> {
    for (const session of this.byRaw.values()) if (session.host === host) yield session
  }

  all(): IterableIterator<ClientSession> {
    return this.byRaw.values()
  }

  get size(): number {
    return this.byRaw.size
  }
}
