// A throwaway self-signed certificate for 127.0.0.1, for https endpoints in specs.
import { generateKeyPairSync } from 'node:crypto'
import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import selfsigned from 'selfsigned'

export interface TestCert {
  key: string
  cert: string
  /** The certificate written to a file, as tls.cacertfile wants it. */
  certFile: string
}

export function testCert(): TestCert {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', {
    modulusLength: 2048,
    privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
    publicKeyEncoding: { type: 'spki', format: 'pem' },
  })
  const pems = selfsigned.generate([{ name: 'commonName', value: '127.0.0.1' }], {
    keyPair: { privateKey, publicKey },
    days: 1,
    algorithm: 'sha256',
    extensions: [{ name: 'subjectAltName', altNames: [{ type: 7, ip: '127.0.0.1' }] }],
  })
  const certFile = path.join(mkdtempSync(path.join(tmpdir(), 'push-tls-')), 'ca.pem')
  writeFileSync(certFile, pems.cert)
  return { key: privateKey, cert: pems.cert, certFile }
}
