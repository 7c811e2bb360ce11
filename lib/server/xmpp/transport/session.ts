// The stream's XMPP side, on node-xmpp-server's C2S Session: features (STARTTLS required first),
// the order of negotiation, SASL (sasl.ts: the vhost's mechanisms, no crash on an unoffered one),
// and a new stream id on every stream header (RFC 6120 §4.7.3). (Part of the transport layer: see
// ../transport.ts.)
import { randomBytes } from 'node:crypto'
import nxs, { type LtxElement, type NxsSession } from 'node-xmpp-server'
import type { Logger } from '../../../contract.js'
import type { ListenerHandlers, RawSession } from '../transport.js'
import type { XmppdConnection } from './connection.js'
import { isSaslMechanism, startSasl, type SaslRun } from './sasl.js'
import { isStanza, NS_SM, type SmLink, type SmSession } from './stream-management.js'

const NS_TLS = 'urn:ietf:params:xml:ns:xmpp-tls'
const NS_SASL = 'urn:ietf:params:xml:ns:xmpp-sasl'
const NS_BIND = 'urn:ietf:params:xml:ns:xmpp-bind'
const NS_SESSION = 'urn:ietf:params:xml:ns:xmpp-session'
const NS_STREAMS = 'http://etherx.jabber.org/streams'
/** Failed SASL attempts before the stream is closed. */
const MAX_AUTH_FAILURES = 3

export type SessionInternals = NxsSession & {
  xmppd: SessionState
  onAuthStanza(stanza: LtxElement): void
  sendAuthError(error?: { message?: string; type?: string }): void
}

export interface SessionState {
  /** The session the server knows; after a resumption, the resumed one's. */
  raw: RawSession
  handlers: ListenerHandlers
  /** The client's address (the login throttle's key) and this stream's log. */
  ip: string
  log: Logger
  /** The SASL mechanisms offered in this stream's features. */
  offered: readonly string[]
  authFailures: number
  bound: boolean
  closed: boolean
  /** The server closes this stream (the session ends with it: no detach). */
  ending: boolean
  /** XEP-0198 once enabled or resumed here (stream-management.ts). */
  sm: SmSession | null
  /** This connection, as stream management writes to it. */
  link: SmLink
  /** An element in urn:xmpp:sm:3 after authentication; false when it is none of ours. */
  smElement(el: LtxElement): boolean
}

const BaseSession = nxs.C2S._Session as unknown as new (opts: Record<string, unknown>) => SessionInternals

export class XmppdSession extends BaseSession {
  declare xmppd: SessionState

  /** Stanzas go through stream management once enabled (counted, kept until acked). */
  override send(el: LtxElement | string): void {
    const sm = this.xmppd?.sm
    if (sm && isStanza(el)) sm.send(el)
    else this.writeRaw(el)
  }

  /** Writes to this connection as is. */
  writeRaw(el: LtxElement | string): void {
    ;(BaseSession.prototype as unknown as { send(this: unknown, s: unknown): void }).send.call(this, el)
  }

  startStream(): void {
    const domain = String(this.serverdomain ?? '').toLowerCase()
    if (!this.server || !(this.server as { xmppdHandlers: ListenerHandlers }).xmppdHandlers.isVhost(domain)) {
      this.connection.error('host-unknown', `this server does not serve '${domain}'`)
      return
    }
    this.serverdomain = domain
    this.connection.streamAttrs.from = domain
    // A new id for every header we send: at connection, after STARTTLS, after SASL.
    this.connection.streamAttrs.id = randomBytes(12).toString('base64url')
    // The base method opens the stream and sends features.
    ;(BaseSession.prototype as unknown as { startStream(this: unknown): void }).startStream.call(this)
  }

  sendFeatures(): void {
    if (!this.authenticated && !this.connection.isSecure) {
      // STARTTLS is required: offer nothing else before it.
      const features = new nxs.Element('stream:features', { 'xmlns:stream': NS_STREAMS })
      features.c('starttls', { xmlns: NS_TLS }).c('required')
      this.send(features)
    } else if (this.authenticated) {
      const features = new nxs.Element('stream:features', { 'xmlns:stream': NS_STREAMS })
      features.c('bind', { xmlns: NS_BIND })
      features.c('session', { xmlns: NS_SESSION }).c('optional')
      features.c('sm', { xmlns: NS_SM })
      this.send(features)
    } else {
      const features = new nxs.Element('stream:features', { 'xmlns:stream': NS_STREAMS })
      const mechanisms = features.c('mechanisms', { xmlns: NS_SASL })
      this.xmppd.offered = this.xmppd.handlers.mechanisms(String(this.serverdomain)).filter(isSaslMechanism)
      for (const name of this.xmppd.offered) mechanisms.c('mechanism').t(name)
      this.send(features)
    }
  }

  onStanza(stanza: LtxElement): void {
    const conn = this.connection as XmppdConnection
    if (conn.failed || this.xmppd?.closed) return
    delete stanza.attrs['xmlns:stream']
    // The server sets `from`; whatever the client wrote is replaced.
    if (this.jid) stanza.attrs.from = this.jid.toString()
    else delete stanza.attrs.from

    if (stanza.is('starttls', NS_TLS)) {
      if (conn.isSecure) return conn.error('policy-violation', 'TLS is already established')
      return (BaseSession.prototype as unknown as { onStanza(this: unknown, s: LtxElement): void }).onStanza.call(this, stanza)
    }
    if (!conn.isSecure) return conn.error('policy-violation', 'STARTTLS is required first')
    if (stanza.is('auth', NS_SASL) || stanza.is('response', NS_SASL) || stanza.is('abort', NS_SASL)) {
      return this.onSasl(stanza)
    }
    if (!this.authenticated) return conn.error('not-authorized', 'authenticate first')
    if (stanza.attrs.xmlns === NS_SM && this.xmppd.smElement(stanza)) return
    if (this.xmppd.sm && isStanza(stanza)) this.xmppd.sm.handled()
    this.onAuthStanza(stanza)
  }

  private onSasl(stanza: LtxElement): void {
    if (this.authenticated) return this.connection.error('policy-violation', 'already authenticated')
    if (stanza.is('abort', NS_SASL)) {
      this.mechanism = undefined
      return this.sendAuthError({ type: 'aborted', message: 'aborted' })
    }
    if (!this.mechanism) {
      const name = String(stanza.attrs.mechanism)
      if (!stanza.is('auth', NS_SASL) || !this.xmppd.offered.includes(name)) {
        this.send(new nxs.Element('failure', { xmlns: NS_SASL }).c('invalid-mechanism').up())
        return
      }
      this.mechanism = startSasl(this, name, this.xmppd.log)
    }
    // Input after <auth> or <response> waits for the outcome: it may belong to the restarted stream.
    ;(this.connection as XmppdConnection).hold()
    ;(this.mechanism as SaslRun).step(stanza)
  }

  override sendAuthError(error?: { message?: string; type?: string }): void {
    ;(BaseSession.prototype as unknown as { sendAuthError(this: unknown, e: unknown): void }).sendAuthError.call(this, error)
    this.mechanism = undefined // the next <auth> may choose again
    if (++this.xmppd.authFailures >= MAX_AUTH_FAILURES) {
      this.connection.error('policy-violation', 'too many failed authentication attempts')
    }
    // The stream goes on: input held since <auth> is read by it now.
    ;(this.connection as XmppdConnection).release()
  }
}
