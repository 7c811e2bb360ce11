// A byte-level XMPP client for specs: writes exactly what a spec says (bad XML, wrong SASL, huge
// stanzas) and reads what the server answers. STARTTLS verifies the server's certificate.
import net from 'node:net'
import tls from 'node:tls'
import { readFileSync } from 'node:fs'
import { fixtureCert } from './xmppd.js'

const STREAM = (to: string) =>
  `<?xml version='1.0'?><stream:stream to='${to}' xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' version='1.0'>`

export class RawXmpp {
  received = ''
  closed = false
  /** Whether received text is kept (off once a listener takes it, for long benchmark runs). */
  private keep = true
  private listeners: Array<(text: string) => void> = []
  private socket: net.Socket | tls.TLSSocket
  private waiters: Array<() => void> = []

  private constructor(
    socket: net.Socket,
    readonly domain: string,
  ) {
    this.socket = socket
    this.attach(socket)
  }

  /** `localAddress`: another loopback address (127.0.0.2 …) to look like another client IP. */
  static async connect(port: number, domain = 'localhost', localAddress?: string): Promise<RawXmpp> {
    const socket = net.connect({ port, host: '127.0.0.1', localAddress })
    socket.setNoDelay(true)
    await new Promise<void>((resolve, reject) => socket.once('connect', resolve).once('error', reject))
    return new RawXmpp(socket, domain)
  }

  private attach(socket: net.Socket | tls.TLSSocket): void {
    socket.on('data', (d) => {
      const text = d.toString('utf8')
      if (this.keep) this.received += text
      for (const l of this.listeners) l(text)
      for (const w of this.waiters) w()
    })
    socket.on('close', () => {
      this.closed = true
      for (const w of this.waiters) w()
    })
    socket.on('error', () => undefined)
  }

  /** When set, every send() is cut into these pieces, written one event-loop turn apart. */
  chunker?: (bytes: Buffer) => Buffer[]
  private queue = Promise.resolve()

  send(text: string): void {
    const chunker = this.chunker
    if (!chunker) return void this.socket.write(text)
    this.queue = this.queue.then(async () => {
      for (const piece of chunker(Buffer.from(text))) {
        if (this.closed) return
        this.socket.write(piece)
        await new Promise((r) => setImmediate(r))
      }
    })
  }

  /** Writes raw bytes (a UTF-8 character may be cut between two calls). */
  sendBytes(bytes: Buffer): void {
    this.socket.write(bytes)
  }

  /** Writes; false when the socket's buffer is full (wait for drained()). */
  write(text: string): boolean {
    return this.socket.write(text)
  }

  /** Stops reading (a client that never reads: the server's queue towards it grows). */
  pause(): void {
    this.socket.pause()
  }

  resume(): void {
    this.socket.resume()
  }

  drained(): Promise<void> {
    return new Promise((resolve) => this.socket.once('drain', () => resolve()))
  }

  /** Hands every received chunk to `listener` and stops keeping `received`. */
  onText(listener: (text: string) => void): void {
    this.keep = false
    this.received = ''
    this.listeners.push(listener)
  }

  openStream(): Promise<RegExpMatchArray> {
    this.received = ''
    this.send(STREAM(this.domain))
    return this.waitFor(/<\/stream:features>/)
  }

  /** Waits until what was received (since the last reset) matches. */
  waitFor(re: RegExp, timeoutMs = 5000): Promise<RegExpMatchArray> {
    return new Promise((resolve, reject) => {
      const check = () => {
        const m = this.received.match(re)
        if (m) {
          done()
          resolve(m)
        } else if (this.closed) {
          done()
          reject(new Error(`stream closed before ${re}; received: ${this.received}`))
        }
      }
      const timer = setTimeout(() => {
        done()
        reject(new Error(`timed out waiting for ${re}; received: ${this.received}`))
      }, timeoutMs)
      const done = () => {
        clearTimeout(timer)
        this.waiters = this.waiters.filter((w) => w !== check)
      }
      this.waiters.push(check)
      check()
    })
  }

  waitClosed(timeoutMs = 5000): Promise<void> {
    return new Promise((resolve, reject) => {
      if (this.closed) return resolve()
      const timer = setTimeout(() => reject(new Error(`stream not closed; received: ${this.received}`)), timeoutMs)
      this.socket.once('close', () => (clearTimeout(timer), resolve()))
    })
  }

  /** `pipelined`: plaintext written in the same write right after `<starttls/>` (an injection attempt). */
  async starttls(ca = readFileSync(fixtureCert, 'utf8'), pipelined = ''): Promise<tls.TLSSocket> {
    this.send(`<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>${pipelined}`)
    await this.waitFor(/<proceed/)
    const secure = tls.connect({ socket: this.socket as net.Socket, servername: this.domain, ca })
    await new Promise<void>((resolve, reject) => secure.once('secureConnect', resolve).once('error', reject))
    this.socket = secure
    this.attach(secure)
    await this.openStream()
    return secure
  }

  async auth(user: string, password: string, mechanism = 'PLAIN'): Promise<string> {
    const payload = Buffer.from(`\0${user}\0${password}`).toString('base64')
    this.received = ''
    this.send(`<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='${mechanism}'>${payload}</auth>`)
    const m = await this.waitFor(/<success[^>]*\/>|<success[^>]*>.*?<\/success>|<failure[\s\S]*?<\/failure>/)
    return m[0]
  }

  /** STARTTLS, PLAIN login, stream restart and bind; returns the bound full JID. */
  async login(user: string, password: string, resource = 'raw'): Promise<string> {
    await this.openStream()
    await this.starttls()
    const result = await this.auth(user, password)
    if (!result.startsWith('<success')) throw new Error(`login failed: ${result}`)
    await this.openStream()
    this.send(`<iq type='set' id='bind1'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'><resource>${resource}</resource></bind></iq>`)
    const m = await this.waitFor(/<jid>([^<]+)<\/jid>/)
    this.received = ''
    return m[1]
  }

  /** Keeps our side of the socket open when the server ends its side (a client that lingers). */
  halfOpen(): void {
    ;(this.socket as net.Socket).allowHalfOpen = true
  }

  close(): void {
    this.socket.destroy()
  }
}
