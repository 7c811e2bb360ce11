// The library's session events wired to the server's handlers (bound → stanza → closed; SASL is
// sasl.ts's), and what ends a session when its connection goes: with XEP-0198 resumption enabled and
// neither side having closed the stream, the session is detached instead (stream-management.ts).
// (Part of the transport layer: see ../transport.ts.)
import type { Logger } from '../../../contract.js'
import type { LtxElement } from '../transport.js'
import type { SessionState, XmppdSession } from './session.js'
import type { XmppdConnection } from './connection.js'
import type { SmRegistry } from './sm-registry.js'

/** Wires the library's events to the handlers; returns what ends the session for the server. */
export function wireSession(session: XmppdSession, state: SessionState, registry: SmRegistry, log: Logger): () => void {
  const { handlers } = state
  // Without a listener, an 'error' (bad XML, reset socket, TLS failure) would end the process.
  session.on('error', (err: Error) => log.debug({ err: err?.message }, 'stream error'))

  session.on('bind', (requested: string | null, cb: (err: unknown, resource?: string) => void) => {
    if (state.bound) return cb({ type: 'cancel', condition: 'not-allowed', text: 'a resource is already bound' })
    let resource: string
    try {
      resource = handlers.bind(state.raw, requested && requested.trim() ? requested : null)
    } catch (err) {
      // jid-malformed for a resource past RFC 7622's size; bad-request for any other refusal.
      return cb({ type: 'modify', condition: (err as { condition?: string }).condition ?? 'bad-request', text: (err as Error).message })
    }
    cb(null, resource) // sets session.jid's resource and sends the result
    state.bound = true
    handlers.bound(state.raw, String(session.jid))
  })

  session.on('stanza', (stanza: LtxElement) => {
    if (!state.bound) return state.raw.close('not-authorized', 'bind a resource first')
    handlers.stanza(state.raw, stanza)
  })

  const onGone = (): void => {
    if (state.closed) return
    state.closed = true
    const sm = state.sm
    if (!sm) return handlers.closed(state.raw)
    if (sm.link !== state.link) return // another connection resumed the session
    const clientClosed = (session.connection as XmppdConnection).clientClosedStream
    if (sm.id && !state.ending && !clientClosed) {
      registry.detach(sm)
      log.info({ unacked: sm.unacked }, 'connection lost: session detached, waiting for <resume/>')
      return handlers.detached(sm.raw)
    }
    handlers.closed(sm.raw, registry.end(sm))
  }
  // The client closed its stream: routing stops now (see XmppdConnection.startParser).
  session.connection.on('xmppd:stream-end', onGone)
  session.on('disconnect', onGone)
  session.on('close', onGone)
  session.on('end', onGone)
  return onGone
}
