// The C2S listener: with transport/connection.ts and transport/session.ts, the only modules that
// touch node-xmpp-server. It turns the library's callback/event API into a small typed one
// (authenticate → bound → stanza → closed) and contains
// its known defects by overriding methods on subclasses at load time (its files stay untouched):
// - an <auth> naming a mechanism we did not offer crashed the process (matchingMechs[0]);
// - max stanza size was never enforced (the number is passed where an options object is read);
// - multi-byte UTF-8 characters split across TCP reads were corrupted (per-chunk toString), and
//   invalid UTF-8 was accepted;
// - input pipelined after <starttls/> or <auth> was read by the old stream's parser in the same
//   write (plaintext processed before TLS; a pipelined new stream header lost);
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
import { ConnectionGuard, type GuardCounters, type GuardLimits, type Guarded } from './transport/guard.js'

export type { LtxElement }
export const Element = nxs.Element

const NS_STANZAS = 'urn:ietf:params:xml:ns:xmpp-stanzas'
/** A stream closed by the guard gets this long to take its stream error before the socket goes. */
const CLOSE_GRACE_MS = 5000

/** What the listener asks of the rest of the server. */
export interface C2SHandlers {
  isVhost(domain: string): boolean
  /** Checks a password; `local` and `domain` are lower case; `ip`: the client's, for throttling. */
  authenticate(local: string, domain: string, password: string, ip: string): Promise<boolean>
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
  limits: GuardLimits
  counters: GuardCounters
  /** listen.c2s.max_depth: element nesting allowed inside a stanza (the stanza is 1). */
  maxDepth: number
  /** The bench's A/B switch (XMPPD_BENCH_LIMITS=off): no pre-scan, guard, timeouts or caps. */
  limitsOff?: boolean
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
  declare xmppdGuard: ConnectionGuard
  declare xmppdLimitsOff: boolean

  override acceptConnection(socket: Socket): void {
    // Refused at once, before any byte is read: the cheapest answer to a flood (docs/server.md).
    const off = this.xmppdLimitsOff
    if (!off && this.xmppdGuard.admit(socket)) return void socket.destroy()
    socket.setNoDelay(true) // stanzas are small and latency-bound: no Nagle delay
    const connection = new XmppdConnection({ reconnect: false, streamAttrs: {} })
    if (off) connection.scanOff()
    else connection.setLimits(this.xmppdMaxBytes, this.xmppdMaxDepth, (reason) => this.xmppdGuard.closedFor(reason))
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
        send: (stanza) => {
          if (state.closed) return
          session.send(stanza)
          if (!off) guard.afterSend(guarded)
        },
        close: (condition, text) => {
          if (condition) connection.error(condition, text)
          else session.end()
        },
      },
    }
    session.xmppd = state
    const log = this.xmppdLog.child({ session: id, remote })
    const gone = wireSession(session, state, log, String(socket.remoteAddress))
    const guard = this.xmppdGuard
    let pings = 0
    const guarded: Guarded = {
      acceptedAt: Date.now(),
      lastInput: () => connection.lastInput,
      bound: () => state.bound,
      // After STARTTLS connection.socket is the TLS socket: count its queue and the TCP one's.
      buffered: () => {
        const outer = connection.socket as Socket | undefined
        return (outer?.writableLength ?? 0) + (outer && outer !== socket ? socket.writableLength : 0)
      },
      ping: () => {
        const iq = new nxs.Element('iq', { type: 'get', id: `xmppd-ping-${++pings}`, from: String(session.serverdomain), to: String(session.jid) })
        session.send(iq.c('ping', { xmlns: 'urn:xmpp:ping' }).up())
      },
      close: (condition, text) => {
        log.info({ condition, text }, 'closing the stream')
        connection.error(condition, text)
        gone() // routing stops now, not when the socket finally goes
        setTimeout(() => socket.destroy(), CLOSE_GRACE_MS).unref()
      },
    }
    if (!off) {
      guard.watch(guarded)
      socket.once('close', () => guard.forget(guarded))
    }
    ;(socket as Socket & { session?: unknown }).session = session
    this.emit('connection', session)
  }
}

/** Wires the library's events to the handlers; returns what ends the session for the server. */
function wireSession(session: XmppdSession, state: SessionState, log: Logger, ip: string): () => void {
  const { handlers, raw } = state
  // Without a listener, an 'error' (bad XML, reset socket, TLS failure) would end the process.
  session.on('error', (err: Error) => log.debug({ err: err?.message }, 'stream error'))

  session.on('authenticate', (user: { username?: string; password?: string }, cb: (err: unknown, user?: unknown) => void) => {
    const domain = String(session.serverdomain)
    const local = String(user.username ?? '').toLowerCase()
    // A malformed name is checked (and throttled) like any other: it fails the same way.
    const name = local && !/[@/\s]/.test(local) ? local : ''
    const check = handlers.authenticate(name, domain, String(user.password ?? ''), ip)
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
      // jid-malformed for a resource past RFC 7622's size; bad-request for any other refusal.
      return cb({ type: 'modify', condition: (err as { condition?: string }).condition ?? 'bad-request', text: (err as Error).message })
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
  // The client closed its stream: routing stops now (see XmppdConnection.startParser).
  session.connection.on('xmppd:stream-end', onGone)
  session.on('disconnect', onGone)
  session.on('close', onGone)
  session.on('end', onGone)
  return onGone
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
  server.xmppdGuard = new ConnectionGuard(opts.limits, opts.counters)
  server.xmppdLimitsOff = opts.limitsOff === true
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
    stopAccepting: () => {
      server.xmppdGuard.stop()
      server.server.close()
    },
    destroyAll: () => {
      server.xmppdGuard.stop()
      server.server.stop?.()
    },
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
