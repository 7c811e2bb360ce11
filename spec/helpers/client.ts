// A real @xmpp/client session (STARTTLS + SASL, trusting the fixture certificate through
// NODE_EXTRA_CA_CERTS, which spec/run.mjs sets), collecting what it receives.
import { client, xml } from '@xmpp/client'

export { xml }

export interface TestClient {
  jid: string
  received: any[]
  send(el: any): Promise<void>
  chat(to: string, body: string): Promise<void>
  /** Resolves with the first received stanza matching. */
  next(match: (s: any) => boolean, timeoutMs?: number): Promise<any>
  /** Sends an iq and resolves with the response. */
  iq(el: any): Promise<any>
  stop(): Promise<void>
  /** The @xmpp/client entity itself (its streamManagement, socket, reconnect). */
  xmpp: any
}

let ids = 0

export async function connectClient(port: number, jid: string, password: string, opts: { resource?: string; presence?: boolean } = {}): Promise<TestClient> {
  const [username, domain] = jid.split('@')
  const c = client({ service: `xmpp://127.0.0.1:${port}`, domain, username, password, resource: opts.resource ?? 'spec' })
  c.reconnect?.stop()
  const received: any[] = []
  let waiters: Array<() => void> = []
  c.on('error', () => undefined)
  c.on('stanza', (s: any) => {
    received.push(s)
    for (const w of waiters) w()
  })
  const address = await c.start()
  if (opts.presence !== false) {
    await c.send(xml('presence'))
    // The server handles one stream's stanzas in order: once this ping is answered, the initial
    // presence was processed, and the client is available to what other clients send next. Not
    // through c.iqCaller: a result it takes never reaches @xmpp/client's XEP-0198 count, so its h
    // would miss one and the server would keep (and route again) the next stanza it sends.
    const id = `sync${++ids}`
    const answered = new Promise<void>((resolve) => {
      const check = (s: any) => s.is('iq') && s.attrs.id === id && (c.off('stanza', check), resolve())
      c.on('stanza', check)
    })
    await c.send(xml('iq', { type: 'get', to: domain, id }, xml('ping', { xmlns: 'urn:xmpp:ping' })))
    await answered
  }
  const next = (match: (s: any) => boolean, timeoutMs = 5000) =>
    new Promise<any>((resolve, reject) => {
      const check = () => {
        const s = received.find(match)
        if (s) {
          done()
          resolve(s)
        }
      }
      const timer = setTimeout(() => {
        done()
        reject(new Error(`${jid}: no matching stanza in ${timeoutMs} ms; got ${received.map(String).join('\n')}`))
      }, timeoutMs)
      const done = () => {
        clearTimeout(timer)
        waiters = waiters.filter((w) => w !== check)
      }
      waiters.push(check)
      check()
    })
  return {
    jid: String(address),
    received,
    send: (el) => c.send(el),
    chat: (to, body) => c.send(xml('message', { to, type: 'chat', id: `m${++ids}` }, xml('body', {}, body))),
    next,
    async iq(el) {
      const id = `iq${++ids}`
      el.attrs.id = id
      await c.send(el)
      return next((s) => s.is('iq') && s.attrs.id === id)
    },
    async stop() {
      await c.stop().catch(() => undefined)
    },
    xmpp: c,
  }
}
