// SASL on our side of node-xmpp-server (its Session.onAuth is replaced): PLAIN, and SCRAM-SHA-1 /
// SCRAM-SHA-256 in several steps (scram-exchange.ts), with <success/> carrying SCRAM's
// server-final message (RFC 6120 §6.3.10). The offered mechanisms are the vhost's
// (SaslHandlers.mechanisms). Failures go through the session's sendAuthError (counted: three close
// the stream); wrong credentials are answered after the throttle's delay (auth-throttle.ts).
// (Part of the transport layer: see ../transport.ts.)
import nxs, { type LtxElement } from 'node-xmpp-server'
import type { Logger } from '../../../contract.js'
import { SaslFailure, ScramExchange, type ClientFirst } from '../scram-exchange.js'
import type { ScramHash } from '../scram.js'
import type { XmppdConnection } from './connection.js'
import type { SessionInternals } from './session.js'

const NS_SASL = 'urn:ietf:params:xml:ns:xmpp-sasl'
const HASHES: Record<string, ScramHash> = { 'SCRAM-SHA-1': 'sha1', 'SCRAM-SHA-256': 'sha256' }
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/

/** One mechanism's run on one stream: fed each <auth>/<response> of the exchange. */
export interface SaslRun {
  step(stanza: LtxElement): void
}

/** The mechanisms a run can start with (what a vhost may offer). */
export const isSaslMechanism = (name: string): boolean => name === 'PLAIN' || name in HASHES

/** Lower case; a name no account can have ('@', '/', spaces, controls) becomes '' and fails like an unknown one. */
function accountName(username: string): string {
  const local = username.toLowerCase()
  // eslint-disable-next-line no-control-regex
  return local && !/[@/\s\u0000-\u001f\u007f]/.test(local) ? local : ''
}

export function startSasl(session: SessionInternals, mechanism: string, log: Logger): SaslRun {
  const state = session.xmppd
  const domain = String(session.serverdomain)
  const conn = session.connection as XmppdConnection

  const payload = (stanza: LtxElement): string => {
    const text = stanza.getText().trim()
    if (text !== '=' && !BASE64.test(text)) throw new SaslFailure('incorrect-encoding', 'not base64')
    return Buffer.from(text === '=' ? '' : text, 'base64').toString('utf8')
  }
  const fail = (condition: string, text: string) => {
    if (!state.closed) session.sendAuthError({ type: condition, message: text })
  }
  const succeed = (local: string, additional?: string) => {
    if (state.closed) return
    log.info({ jid: `${local}@${domain}`, mechanism }, 'authenticated')
    session.jid = new nxs.JID(local, domain)
    session.authenticated = true
    const success = new nxs.Element('success', { xmlns: NS_SASL })
    if (additional) success.t(Buffer.from(additional).toString('base64'))
    session.send(success)
    // The client restarts the stream: what it pipelined after this is the new stream's.
    conn.startParser()
  }
  const outcome = (local: string, check: Promise<boolean>, additional: () => string | undefined) =>
    check.then(
      (ok) => {
        if (ok) return succeed(local, additional())
        log.info({ user: `${local}@${domain}`, mechanism }, 'authentication failed')
        fail('not-authorized', 'wrong username or password')
      },
      (err) => {
        log.error({ err }, 'authentication error')
        fail('temporary-auth-failure', 'temporary failure')
      },
    )
  const guarded = (run: (stanza: LtxElement) => void) => (stanza: LtxElement) => {
    try {
      run(stanza)
    } catch (err) {
      if (!(err instanceof SaslFailure)) throw err
      fail(err.condition, err.message)
    }
  }
  const authzOk = (authzid: string | null, username: string) => !authzid || authzid.toLowerCase() === `${username.toLowerCase()}@${domain}`

  const hash = HASHES[mechanism]
  if (!hash) {
    // PLAIN (RFC 4616): [authzid] NUL authcid NUL passwd, in the initial response.
    return {
      step: guarded((stanza) => {
        if (!stanza.is('auth', NS_SASL)) throw new SaslFailure('malformed-request', 'PLAIN takes no response')
        const [authzid, username = '', password = ''] = payload(stanza).split('\0')
        if (!authzOk(authzid || null, username)) throw new SaslFailure('invalid-authzid', 'acting as another identity is not supported')
        const local = accountName(username)
        void outcome(local, state.handlers.authenticate(local, domain, password, state.ip), () => undefined)
      }),
    }
  }

  const exchange = new ScramExchange(hash)
  let first: (ClientFirst & { local: string }) | null = null
  let serverFinal: string | undefined
  return {
    step: guarded((stanza) => {
      if (!first) {
        if (!stanza.is('auth', NS_SASL)) throw new SaslFailure('malformed-request', 'expected <auth/>')
        const cf = exchange.clientFirst(payload(stanza))
        if (!authzOk(cf.authzid, cf.username)) throw new SaslFailure('invalid-authzid', 'acting as another identity is not supported')
        first = { ...cf, local: accountName(cf.username) }
        const { salt, iterations } = state.handlers.scramSalt(first.local, domain)
        const challenge = Buffer.from(exchange.serverFirstMessage(salt, iterations)).toString('base64')
        session.send(new nxs.Element('challenge', { xmlns: NS_SASL }).t(challenge))
        conn.release() // the client's <response/> is read now
        return
      }
      if (!stanza.is('response', NS_SASL)) throw new SaslFailure('malformed-request', 'expected <response/>')
      const final = exchange.clientFinal(payload(stanza))
      const check = state.handlers.authenticateScram(first.local, domain, hash, state.ip, (keys) => {
        serverFinal = exchange.check(keys, final) ?? undefined
        return serverFinal !== undefined
      })
      void outcome(first.local, check, () => serverFinal)
    }),
  }
}
