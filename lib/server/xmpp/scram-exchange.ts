// The server's side of one SCRAM exchange (RFC 5802 §5, §7), without channel binding:
//   client-first  gs2 header "n,," or "y,," (an authzid equal to the account is allowed; "p=" is
//                 refused: we offer no -PLUS mechanism), then n=<name>,r=<client nonce>
//   server-first  r=<client nonce + ours>,s=<salt b64>,i=<iterations>
//   client-final  c=<b64 of the gs2 header>,r=<the combined nonce>,p=<proof b64> (checked here)
//   server-final  v=<ServerSignature b64>, sent with <success/>
// A malformed message is a SaslFailure; a wrong proof is a plain `false` (it fails like a wrong
// password, after the throttle's delay).
import { randomBytes } from 'node:crypto'
import { serverSignature, verifyProof, type ScramHash, type ScramKeys } from './scram.js'

/** A SASL failure condition (RFC 6120 §6.5) with its text. */
export class SaslFailure extends Error {
  constructor(
    readonly condition: string,
    text: string,
  ) {
    super(text)
    this.name = 'SaslFailure'
  }
}

const malformed = (text: string) => new SaslFailure('malformed-request', text)
// printable ASCII except ',' (RFC 5802 §7 "printable")
const NONCE = /^[\x21-\x2b\x2d-\x7e]+$/

/** RFC 5802 saslname: "=2C" is ',', "=3D" is '='; any other '=' is malformed. */
function decodeSaslname(s: string): string {
  if (/=(?!2C|3D)/.test(s)) throw malformed('bad escape in the user name')
  return s.replace(/=2C/g, ',').replace(/=3D/g, '=')
}

export interface ClientFirst {
  /** As the client wrote it (not lower-cased). */
  username: string
  /** An authorization identity, when the client sent one. */
  authzid: string | null
}

export class ScramExchange {
  private gs2Header = ''
  private clientFirstBare = ''
  private serverFirst = ''
  private nonce = ''

  constructor(readonly hash: ScramHash) {}

  /** Reads client-first-message. */
  clientFirst(message: string): ClientFirst {
    const m = /^([^,]*),([^,]*),(.*)$/s.exec(message)
    if (!m) throw malformed('not a SCRAM client-first message')
    const [, flag, authz, bare] = m
    if (flag.startsWith('p=')) throw new SaslFailure('not-authorized', 'channel binding is not supported')
    if (flag !== 'n' && flag !== 'y') throw malformed('bad channel binding flag')
    if (authz && !authz.startsWith('a=')) throw malformed('bad authorization identity')
    const attrs = bare.split(',')
    if (attrs[0]?.startsWith('m=')) throw malformed('mandatory extensions are not supported')
    if (!attrs[0]?.startsWith('n=') || !attrs[1]?.startsWith('r=')) throw malformed('expected n=<name>,r=<nonce>')
    const username = decodeSaslname(attrs[0].slice(2))
    const clientNonce = attrs[1].slice(2)
    if (!username) throw malformed('empty user name')
    if (!NONCE.test(clientNonce)) throw malformed('bad nonce')
    this.gs2Header = `${flag},${authz},`
    this.clientFirstBare = bare
    this.nonce = clientNonce + randomBytes(18).toString('base64')
    return { username, authzid: authz ? decodeSaslname(authz.slice(2)) : null }
  }

  /** server-first-message for this account's salt and iteration count (a made-up one for an unknown name). */
  serverFirstMessage(salt: Buffer, iterations: number): string {
    this.serverFirst = `r=${this.nonce},s=${salt.toString('base64')},i=${iterations}`
    return this.serverFirst
  }

  /**
   * Reads client-final-message: throws SaslFailure when malformed; returns the AuthMessage and proof
   * for check(), once the channel binding and nonce matched.
   */
  clientFinal(message: string): { authMessage: string; proof: Buffer } {
    const at = message.lastIndexOf(',p=')
    if (at < 0) throw malformed('no proof')
    const withoutProof = message.slice(0, at)
    const attrs = withoutProof.split(',')
    if (attrs[0] !== `c=${Buffer.from(this.gs2Header).toString('base64')}`) throw malformed('channel binding data does not match the gs2 header')
    if (attrs[1] !== `r=${this.nonce}`) throw malformed('nonce mismatch')
    const proof = Buffer.from(message.slice(at + 3), 'base64')
    return { authMessage: `${this.clientFirstBare},${this.serverFirst},${withoutProof}`, proof }
  }

  /** Checks the proof; on success the server-final-message to send with <success/>. */
  check(keys: ScramKeys, final: { authMessage: string; proof: Buffer }): string | null {
    if (!verifyProof(this.hash, keys, final.authMessage, final.proof)) return null
    return `v=${serverSignature(this.hash, keys, final.authMessage).toString('base64')}`
  }
}
