// TLS credentials for STARTTLS: the configured certfile/keyfile, or a self-signed certificate
// covering every vhost, generated at start (RSA key by Node's crypto, certificate by selfsigned).
import { generateKeyPairSync, X509Certificate } from 'node:crypto'
import { readFileSync } from 'node:fs'
import selfsigned from 'selfsigned'

export interface TlsCredentials {
  key: string
  cert: string
  /** True when generated at start (clients must be told to trust it, or not to verify). */
  selfSigned: boolean
  /** SHA-256 fingerprint, for operators comparing what a client shows. */
  fingerprint: string
}

export function loadCredentials(certfile: string, keyfile: string): TlsCredentials {
  const cert = readFileSync(certfile, 'utf8')
  const key = readFileSync(keyfile, 'utf8')
  return { key, cert, selfSigned: false, fingerprint: new X509Certificate(cert).fingerprint256 }
}

export function generateCredentials(hosts: readonly string[]): TlsCredentials {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', {
    modulusLength: 2048,
    publicKeyEncoding: { type: 'spki', format: 'pem' },
    privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
  })
  const pems = selfsigned.generate([{ name: 'commonName', value: hosts[0] }], {
    keyPair: { privateKey, publicKey },
    days: 825,
    algorithm: 'sha256',
    extensions: [
      { name: 'basicConstraints', cA: false },
      { name: 'keyUsage', digitalSignature: true, keyEncipherment: true },
      { name: 'extKeyUsage', serverAuth: true },
      { name: 'subjectAltName', altNames: hosts.map((value) => ({ type: 2, value })) },
    ],
  })
  return { key: privateKey, cert: pems.cert, selfSigned: true, fingerprint: new X509Certificate(pems.cert).fingerprint256 }
}
