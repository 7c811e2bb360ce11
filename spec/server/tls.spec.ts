// STARTTLS with the certificate generated at start, on a two-vhost config: each vhost's stream
// verifies against it by name, then logs in.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { X509Certificate } from 'node:crypto'
import { RawXmpp } from '../helpers/raw-xmpp.js'
import { startTestServer } from '../helpers/xmppd.js'

test('the generated certificate covers every vhost and verifies by name', async () => {
  const server = await startTestServer({
    generatedCert: true,
    hosts: ['one.test', 'two.test'],
    users: { 'ann@one.test': 'pw1', 'ben@two.test': 'pw2' },
  })
  try {
    assert.equal(server.tls.selfSigned, true)
    const cert = new X509Certificate(server.tls.cert)
    assert.equal(cert.checkHost('one.test'), 'one.test')
    assert.equal(cert.checkHost('two.test'), 'two.test')
    assert.ok(server.logs.some((l) => l.msg?.toString().includes('self-signed') && l.fingerprint === server.tls.fingerprint))
    for (const [domain, user, pw] of [
      ['one.test', 'ann', 'pw1'],
      ['two.test', 'ben', 'pw2'],
    ]) {
      const raw = await RawXmpp.connect(server.c2sPort, domain)
      await raw.openStream()
      assert.match(raw.received, /<starttls xmlns="urn:ietf:params:xml:ns:xmpp-tls"><required\/><\/starttls>/)
      assert.doesNotMatch(raw.received, /<mechanisms/, 'no SASL before TLS')
      const secure = await raw.starttls(server.tls.cert) // rejects unless the name verifies
      assert.equal(secure.authorized, true)
      assert.match(await raw.auth(user, pw), /^<success/)
      raw.close()
    }
    // A name the certificate does not cover fails verification.
    const raw = await RawXmpp.connect(server.c2sPort, 'one.test')
    await raw.openStream()
    await assert.rejects(
      (async () => {
        raw.send(`<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>`)
        await raw.waitFor(/<proceed/)
        const tls = await import('node:tls')
        const s = tls.connect({ socket: (raw as any).socket, servername: 'three.test', ca: server.tls.cert })
        await new Promise((resolve, reject) => s.once('secureConnect', resolve).once('error', reject))
      })(),
      /altnames/,
    )
    raw.close()
  } finally {
    await server.stop()
  }
})
