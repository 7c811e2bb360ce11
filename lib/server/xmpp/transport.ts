// The C2S listener: with transport/connection.ts and transport/session.ts, the only modules that
// touch node-xmpp-server. It turns the library's callback/event API into a small typed one
// (authenticate → bound → stanza → closed) and contains
// its known defects by overriding methods on subclasses at load time (its files stay untouched):
// - an <auth> naming a mechanism we did not offer crashed the process (matchingMechs[0]);
// - max stanza size was never enforced (the number is passed where an options object is read);
// - multi-byte UTF-8 characters split across TCP reads were corrupted (per-chunk toString);
// - an unknown entity (&foo;) threw out of the parser and ended the process; DTDs, comments and
//   processing instructions were accepted (RFC 6120 restricts them);
// - stanzas carry a stray xmlns:stream attribute;
// - stanzas before STARTTLS/auth were silently dropped or processed; in-band registration hung;
// - 'online' never fires for modern clients (we report a session once its resource is bound).
import type { Socket } from 'node:net'
import nxs, { type LtxElement, type NxsTCPServer } from 'node-xmpp-server'
import type { Logger } from '../../contract.js'
import { XmppdConnection } from './transport/connection.js'
import { XmppdSession, type SessionState } from './transport/session.js'

export type { LtxElement }
export const Element = nxs.Element

const NS_STANZAS = 'urn:ietf:params:xml:ns:xmpp-stanzas'

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
  /** listen.c2s.max_depth: element nesting allowed inside a stanza (the stanza is 1). */
  maxDepth: number
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

// ---- TCP server: our connection and session classes, our handlers -----------------------------

const BaseTCPServer = nxs.C2S.TCPServer as unknown as new (opts: Record<string, unknown>) => NxsTCPServer

class XmppdTCPServer extends BaseTCPServer {
  declare xmppdHandlers: C2SHandlers
  declare xmppdMaxBytes: number
  declare xmppdMaxDepth: number
  declare xmppdLog: Logger
  declare xmppdNextId: number

  override acceptConnection(socket: Socket): void {
    socket.setNoDelay(true) // stanzas are small and latency-bound: no Nagle delay
    const connection = new XmppdConnection({ reconnect: false, streamAttrs: {} })
    connection.setLimits(this.xmppdMaxBytes, this.xmppdMaxDepth)
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
  server.xmppdMaxDepth = opts.maxDepth
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
