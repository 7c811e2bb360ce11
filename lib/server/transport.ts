// The C2S listener: the only module that touches node-xmpp-server. It turns the library's
// callback/event API into a small typed one (authenticate → bound → stanza → closed) and contains
// its known defects by overriding methods on subclasses at load time (its files stay untouched):
// - an <auth> naming a mechanism we did not offer crashed the process (matchingMechs[0]);
// - max stanza size was never enforced (the number is passed where an options object is read);
// - multi-byte UTF-8 characters split across TCP reads were corrupted (per-chunk toString);
// - an unknown entity (&foo;) threw out of the parser and ended the process; DTDs, comments and
//   processing instructions were accepted (RFC 6120 restricts them);
// - stanzas carry a stray xmlns:stream attribute;
// - stanzas before STARTTLS/auth were silently dropped or processed; in-band registration hung;
// - 'online' never fires for modern clients (we report a session once its resource is bound).
import { StringDecoder } from 'node:string_decoder'
import type { Socket } from 'node:net'
import nxs, { type LtxElement, type NxsConnection, type NxsSession, type NxsTCPServer } from 'node-xmpp-server'
import type { Logger } from '../contract.js'

export type { LtxElement }
export const Element = nxs.Element

const NS_TLS = 'urn:ietf:params:xml:ns:xmpp-tls'
const NS_SASL = 'urn:ietf:params:xml:ns:xmpp-sasl'
const NS_BIND = 'urn:ietf:params:xml:ns:xmpp-bind'
const NS_SESSION = 'urn:ietf:params:xml:ns:xmpp-session'
const NS_STREAMS = 'http://etherx.jabber.org/streams'
const NS_STANZAS = 'urn:ietf:params:xml:ns:xmpp-stanzas'
/** Parser input is fed in slices this long, so an oversized stanza is caught within one slice. */
const SLICE = 4096
/** Failed SASL attempts before the stream is closed. */
const MAX_AUTH_FAILURES = 3

/** What the listener asks of the rest of the server. */
export interface C2SHandlers {
  isVhost(domain: string): boolean
  /** Checks a password; `local` and `domain` are lower case. */
  authenticate(local: string, domain: string, password: string): Promise<boolean>
  /** A resource was requested for an authenticated stream: returns the one to bind. */
  bind(session: RawSession, requested: string | null): string
  /** Called once the resource is bound; `jid` is the full JID. */
  bound(session: RawSession, jid: string): void
  /** An authenticated, bound session sent a stanza (`from` already set by the server). */
  stanza(session: RawSession, stanza: LtxElement): void
  /** The stream is gone (after bound or not). */
  closed(session: RawSession): void
}

export interface C2SOptions {
  ip: string
  port: number
  maxStanzaSize: number
  tls: { key: string; cert: string }
  log: Logger
  handlers: C2SHandlers
}

/** One client stream as the rest of the server sees it. */
export interface RawSession {
  readonly id: number
  readonly remote: string
  send(stanza: LtxElement): void
  /** Ends the stream, with a stream error when a condition is given. */
  close(condition?: string, text?: string): void
}

type SessionInternals = NxsSession & {
  xmppd: SessionState
  onAuth(stanza: LtxElement): void
  onAuthStanza(stanza: LtxElement): void
  sendAuthError(error?: { message?: string; type?: string }): void
}

interface SessionState {
  raw: RawSession
  handlers: C2SHandlers
  authFailures: number
  bound: boolean
  closed: boolean
}

// ---- Connection: input decoding, stanza size, fail-once ----------------------------------------

const BaseConnection = nxs.Connection as unknown as new (opts: Record<string, unknown>) => NxsConnection

class XmppdConnection extends BaseConnection {
  maxBytes = Infinity
  failed = false
  private readonly decoder = new StringDecoder('utf8')
  private fed = 0
  private stanzaStart = -1
  private startedInSlice = false

  override startParser(): void {
    super.startParser()
    this.stanzaStart = -1
    this.parser?.on('startElement', () => {
      this.startedInSlice = true
    })
  }

  override onData(data: Buffer | string): void {
    if (!this.parser || this.failed) return
    const text = typeof data === 'string' ? data : this.decoder.write(data)
    for (let i = 0; i < text.length; i += SLICE) {
      const slice = text.length <= SLICE ? text : text.slice(i, i + SLICE)
      if (hasRestrictedMarkup(slice)) {
        this.error('restricted-xml', 'comments, processing instructions and DTDs are not allowed')
        return
      }
      this.startedInSlice = false
      try {
        this.parser.write(slice)
      } catch (err) {
        // ltx throws (rather than emits) on an unknown entity such as &foo;
        this.error('xml-not-well-formed', (err as Error).message)
        return
      }
      if (!this.parser || this.failed) return
      this.fed += Buffer.byteLength(slice)
      if (this.startedInSlice) this.stanzaStart = this.fed
      // A lower bound of the open stanza's size: never rejects a stanza within the limit.
      if (this.parser.element && this.stanzaStart >= 0 && this.fed - this.stanzaStart > this.maxBytes) {
        this.error('policy-violation', `stanza larger than max_stanza_size (${this.maxBytes} bytes)`)
        return
      }
    }
  }

  override error(condition: string, message?: string): void {
    if (this.failed) return
    this.failed = true
    super.error(condition, message)
    this.stopParser()
  }
}

/** RFC 6120 §11.1: no comments, PIs (but the XML declaration), DTDs or entity declarations. */
function hasRestrictedMarkup(text: string): boolean {
  for (let i = text.indexOf('<!'); i !== -1; i = text.indexOf('<!', i + 2)) {
    if (!text.startsWith('<![CDATA[', i)) return true
  }
  for (let i = text.indexOf('<?'); i !== -1; i = text.indexOf('<?', i + 2)) {
    if (!text.startsWith('<?xml ', i) && !text.startsWith('<?xml?', i)) return true
  }
  return false
}

// ---- Session: features, ordering rules, SASL containment --------------------------------------

const BaseSession = nxs.C2S._Session as unknown as new (opts: Record<string, unknown>) => SessionInternals

class XmppdSession extends BaseSession {
  declare xmppd: SessionState

  startStream(): void {
    const domain = String(this.serverdomain ?? '').toLowerCase()
    if (!this.server || !(this.server as XmppdTCPServer).xmppdHandlers.isVhost(domain)) {
      this.connection.error('host-unknown', `this server does not serve '${domain}'`)
      return
    }
    this.serverdomain = domain
    this.connection.streamAttrs.from = domain
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
      this.send(features)
    } else {
      ;(BaseSession.prototype as unknown as { sendFeatures(this: unknown): void }).sendFeatures.call(this)
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
    this.onAuthStanza(stanza)
  }

  private onSasl(stanza: LtxElement): void {
    if (this.authenticated) return this.connection.error('policy-violation', 'already authenticated')
    if (stanza.is('abort', NS_SASL)) {
      this.mechanism = undefined
      return this.sendAuthError({ type: 'aborted', message: 'aborted' })
    }
    if (!this.mechanism) {
      const offered = (this.mechanisms ?? []).some((m) => m.prototype.name === stanza.attrs.mechanism)
      if (!stanza.is('auth', NS_SASL) || !offered) {
        this.send(new nxs.Element('failure', { xmlns: NS_SASL }).c('invalid-mechanism').up())
        return
      }
    }
    this.onAuth(stanza)
  }

  override sendAuthError(error?: { message?: string; type?: string }): void {
    ;(BaseSession.prototype as unknown as { sendAuthError(this: unknown, e: unknown): void }).sendAuthError.call(this, error)
    this.mechanism = undefined // the next <auth> may choose again
    if (++this.xmppd.authFailures >= MAX_AUTH_FAILURES) {
      this.connection.error('policy-violation', 'too many failed authentication attempts')
    }
  }
}

// ---- TCP server: our connection and session classes, our handlers -----------------------------

const BaseTCPServer = nxs.C2S.TCPServer as unknown as new (opts: Record<string, unknown>) => NxsTCPServer

class XmppdTCPServer extends BaseTCPServer {
  declare xmppdHandlers: C2SHandlers
  declare xmppdMaxBytes: number
  declare xmppdLog: Logger
  declare xmppdNextId: number

  override acceptConnection(socket: Socket): void {
    socket.setNoDelay(true) // stanzas are small and latency-bound: no Nagle delay
    const connection = new XmppdConnection({ reconnect: false, streamAttrs: {} })
    connection.maxBytes = this.xmppdMaxBytes
    const session = new XmppdSession({ socket, server: this, connection }) as XmppdSession
    const id = ++this.xmppdNextId
    const remote = `${socket.remoteAddress}:${socket.remotePort}`
    const state: SessionState = {
      handlers: this.xmppdHandlers,
      authFailures: 0,
      bound: false,
      closed: false,
      raw: {
        id,
        remote,
        send: (stanza) => session.send(stanza),
        close: (condition, text) => {
          if (condition) connection.error(condition, text)
          else session.end()
        },
      },
    }
    session.xmppd = state
    wireSession(session, state, this.xmppdLog.child({ session: id, remote }))
    ;(socket as Socket & { session?: unknown }).session = session
    this.emit('connection', session)
  }
}

function wireSession(session: XmppdSession, state: SessionState, log: Logger): void {
  const { handlers, raw } = state
  // Without a listener, an 'error' (bad XML, reset socket, TLS failure) would end the process.
  session.on('error', (err: Error) => log.debug({ err: err?.message }, 'stream error'))

  session.on('authenticate', (user: { username?: string; password?: string }, cb: (err: unknown, user?: unknown) => void) => {
    const domain = String(session.serverdomain)
    const local = String(user.username ?? '').toLowerCase()
    const check = local && !/[@/\s]/.test(local) ? handlers.authenticate(local, domain, String(user.password ?? '')) : Promise.resolve(false)
    check.then(
      (ok) => {
        if (state.closed) return
        if (ok) {
          log.info({ jid: `${local}@${domain}` }, 'authenticated')
          cb(null, user)
        } else {
          log.info({ user: `${local}@${domain}` }, 'authentication failed')
          cb(Object.assign(new Error('wrong username or password'), { type: 'not-authorized' }))
        }
      },
      (err) => {
        log.error({ err }, 'authentication error')
        cb(Object.assign(new Error('temporary failure'), { type: 'temporary-auth-failure' }))
      },
    )
  })

  session.on('bind', (requested: string | null, cb: (err: unknown, resource?: string) => void) => {
    if (state.bound) return cb({ type: 'cancel', condition: 'not-allowed', text: 'a resource is already bound' })
    let resource: string
    try {
      resource = handlers.bind(raw, requested && requested.trim() ? requested : null)
    } catch (err) {
      return cb({ type: 'modify', condition: 'bad-request', text: (err as Error).message })
    }
    cb(null, resource) // sets session.jid's resource and sends the result
    state.bound = true
    handlers.bound(raw, String(session.jid))
  })

  session.on('stanza', (stanza: LtxElement) => {
    if (!state.bound) return raw.close('not-authorized', 'bind a resource first')
    handlers.stanza(raw, stanza)
  })

  const onGone = (): void => {
    if (state.closed) return
    state.closed = true
    handlers.closed(raw)
  }
  session.on('disconnect', onGone)
  session.on('close', onGone)
  session.on('end', onGone)
}

export interface C2SListener {
  port: number
  /** Stops accepting connections (open streams go on). */
  stopAccepting(): void
  /** Destroys whatever sockets are still open. */
  destroyAll(): void
}

/** Starts listening; resolves once bound (port 0 gets a free port). */
export async function listenC2S(opts: C2SOptions): Promise<C2SListener> {
  const server = new XmppdTCPServer({
    port: opts.port,
    host: opts.ip,
    autostart: false,
    tls: { key: opts.tls.key, cert: opts.tls.cert },
  })
  server.xmppdHandlers = opts.handlers
  server.xmppdMaxBytes = opts.maxStanzaSize
  server.xmppdLog = opts.log
  server.xmppdNextId = 0
  server.Session = XmppdSession
  server.on('error', (err: Error) => opts.log.error({ err }, 'c2s listener error'))
  await new Promise<void>((resolve, reject) => {
    server.server.once('error', reject)
    server.server.listen(opts.port, opts.ip, () => {
      server.server.off('error', reject)
      resolve()
    })
  })
  const address = server.server.address()
  const port = typeof address === 'object' && address ? address.port : opts.port
  return {
    port,
    stopAccepting: () => server.server.close(),
    destroyAll: () => server.server.stop?.(),
  }
}

/** An iq/message/presence error reply to `stanza` (RFC 6120 §8.3), addressed back to its sender. */
export function errorReply(stanza: LtxElement, type: string, condition: string, text?: string): LtxElement {
  const attrs: Record<string, string> = { type: 'error' }
  if (stanza.attrs.id) attrs.id = stanza.attrs.id
  if (stanza.attrs.to) attrs.from = stanza.attrs.to
  if (stanza.attrs.from) attrs.to = stanza.attrs.from
  const reply = new nxs.Element(stanza.name, attrs)
  const error = reply.c('error', { type })
  error.c(condition, { xmlns: NS_STANZAS })
  if (text) error.c('text', { xmlns: NS_STANZAS }).t(text)
  return reply
}
