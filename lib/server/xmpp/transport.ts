// The C2S listener: with the modules in transport/ (connection, session, wire, errors,
// stream-management), the only ones that touch node-xmpp-server. It turns the library's
// callback/event API into a small typed one (authenticate → bound → stanza → closed, and XEP-0198's
// detached → resumed) and contains
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
import type { ScramHash, ScramKeys } from './scram.js'
import { XmppdConnection } from './transport/connection.js'
import { XmppdSession, type SessionState } from './transport/session.js'
import { ConnectionGuard, type GuardCounters, type GuardLimits, type Guarded } from './transport/guard.js'
import { onSmElement, type SmCounters, type SmLink, type SmStream } from './transport/stream-management.js'
import { SmRegistry } from './transport/sm-registry.js'
import { wireSession } from './transport/wire.js'

export { errorReply } from './transport/errors.js'
export { NS_SM } from './transport/stream-management.js'

export type { LtxElement }
export const Element = nxs.Element

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
  /** The session ended (after bound or not); `unacked`: what XEP-0198 sent it that the client never acknowledged. */
  closed(session: RawSession, unacked?: LtxElement[]): void
  /** XEP-0198: the connection dropped; the session stays bound, waiting for a <resume/>. */
  detached(session: RawSession): void
  /** XEP-0198: a detached (or still attached) session was resumed on a new connection. */
  resumed(session: RawSession): void
}

/** What SASL asks beyond `authenticate` (scram-credentials.ts answers). */
export interface SaslHandlers {
  /** The SASL mechanisms a vhost offers, best first (SCRAM-SHA-256, SCRAM-SHA-1, PLAIN). */
  mechanisms(domain: string): readonly string[]
  /** SCRAM's salt and iteration count for a name (any name gets one: unknown ones too). */
  scramSalt(local: string, domain: string): { salt: Buffer; iterations: number }
  /** SCRAM's proof check, run with the account's keys; failures throttled like authenticate's. */
  authenticateScram(local: string, domain: string, hash: ScramHash, ip: string, check: (keys: ScramKeys) => boolean): Promise<boolean>
}

/** Everything the listener calls. */
export type ListenerHandlers = C2SHandlers & SaslHandlers

/** XEP-0198 settings and counters. */
export interface C2SStreamManagement {
  /** listen.c2s.resume_timeout, seconds. */
  resumeTimeout: number
  /** listen.c2s.max_unacked_stanzas. */
  maxUnacked: number
  counters: Omit<SmCounters, 'overflow'>
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
  sm: C2SStreamManagement
  log: Logger
  handlers: ListenerHandlers
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
  declare xmppdHandlers: ListenerHandlers
  declare xmppdMaxBytes: number
  declare xmppdMaxDepth: number
  declare xmppdLog: Logger
  declare xmppdNextId: number
  declare xmppdGuard: ConnectionGuard
  declare xmppdLimitsOff: boolean
  declare xmppdSm: SmRegistry
  /** Every stream still open, bound or not (for <system-shutdown/>). */
  declare xmppdOpen: Set<XmppdSession>

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
    const guard = this.xmppdGuard
    const registry = this.xmppdSm
    const handlers = this.xmppdHandlers
    const log = this.xmppdLog.child({ session: id, remote })
    const link: SmLink = {
      write: (el) => {
        if (state.closed) return
        session.writeRaw(el)
        if (!off) guard.afterSend(guarded)
      },
      end: (condition, text) => {
        state.ending = true
        if (condition) connection.error(condition, text)
        else session.end()
      },
      drop: () => {
        log.info({}, 'session resumed on another connection: this one is dropped')
        state.closed = true // the session lives on: nothing ends here
        socket.destroy()
      },
    }
    const state: SessionState = {
      handlers,
      ip: String(socket.remoteAddress),
      log,
      offered: [],
      authFailures: 0,
      bound: false,
      closed: false,
      ending: false,
      sm: null,
      link,
      raw: {
        id,
        remote,
        // With stream management: counted, queued, written to whichever connection carries the session.
        send: (stanza) => (state.sm ? state.sm.send(stanza) : link.write(stanza)),
        close: (condition, text) => (state.sm ? state.sm.close(condition, text) : link.end(condition, text)),
      },
      smElement: (el) => onSmElement(smStream, registry, el),
    }
    const smStream: SmStream = {
      get bound() {
        return state.bound
      },
      get sm() {
        return state.sm
      },
      get raw() {
        return state.raw
      },
      link,
      account: () => `${session.jid?.local}@${session.jid?.domain}`.toLowerCase(),
      jid: () => session.jid,
      enabled: (sm) => void (state.sm = sm),
      resumed: (sm) => {
        Object.assign(state, { sm, raw: sm.raw, bound: true })
        session.jid = sm.jid as typeof session.jid
      },
      afterResume: (sm) => {
        log.info({ jid: String(session.jid), resumed: sm.raw.id }, 'session resumed')
        handlers.resumed(sm.raw)
      },
    }
    session.xmppd = state
    const gone = wireSession(session, state, registry, log)
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
        // An unanswered ping detaches a resumable session (XEP-0198); any other close ends the session.
        if (condition !== 'connection-timeout' || !state.bound) state.ending = true
        connection.error(condition, text)
        gone() // routing stops now, not when the socket finally goes
        setTimeout(() => socket.destroy(), CLOSE_GRACE_MS).unref()
      },
    }
    if (!off) {
      guard.watch(guarded)
      socket.once('close', () => guard.forget(guarded))
    }
    this.xmppdOpen.add(session)
    socket.once('close', () => this.xmppdOpen.delete(session))
    ;(socket as Socket & { session?: unknown }).session = session
    this.emit('connection', session)
  }
}

export interface C2SListener {
  port: number
  /** Stops accepting connections (open streams go on). */
  stopAccepting(): void
  /** Ends the streams still open (those still negotiating too) with <system-shutdown/>, then destroys the sockets. */
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
  server.xmppdOpen = new Set()
  server.xmppdSm = new SmRegistry({
    resumeTimeout: opts.sm.resumeTimeout,
    maxUnacked: opts.sm.maxUnacked,
    counters: { ...opts.sm.counters, overflow: () => opts.counters.closed('slow_reader') },
    expired: (sm, unacked) => opts.handlers.closed(sm.raw, unacked),
  })
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
      server.xmppdSm.stop()
      server.server.close()
    },
    destroyAll: () => {
      server.xmppdGuard.stop()
      for (const session of server.xmppdOpen) {
        if (!session.xmppd.closed) session.connection.error('system-shutdown', 'the server is shutting down')
      }
      server.server.stop?.()
    },
  }
}
