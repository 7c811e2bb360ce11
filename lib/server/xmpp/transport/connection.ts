// The stream's byte side, on node-xmpp-core's Connection: input decoded as UTF-8 across reads
// (invalid UTF-8 refused, utf8-input.ts), the input limits and RFC 6120's restricted XML enforced
// by a linear pre-scan (input-scan.ts) before the parser sees a byte, parser exceptions contained,
// one stream error at most, and nothing pipelined past a stream restart read by the old stream.
// (Part of the transport layer: see ../transport.ts.)
import nxs, { type NxsConnection } from 'node-xmpp-server'
import { InputScanner, MAX_HEADER_SIZE } from './input-scan.js'
import { Utf8Input } from './utf8-input.js'

const BaseConnection = nxs.Connection as unknown as new (opts: Record<string, unknown>) => NxsConnection

export class XmppdConnection extends BaseConnection {
  failed = false
  /** When input last arrived: the idle timeout's clock (see guard.ts). */
  lastInput = Date.now()
  private utf8 = new Utf8Input()
  /** The bench's limits-off run only (scanOff). */
  private unscanned = false
  private scanner = new InputScanner({ maxStanzaSize: Infinity, maxHeaderSize: MAX_HEADER_SIZE, maxDepth: Infinity })
  /** Input held while a SASL exchange is undecided (see hold()); null when not holding. */
  private held: string[] | null = null
  /** Set by setSecure(): the rest of the read in which `<starttls/>` came is plaintext to drop. */
  private tlsStarted = false

  /** Counts a stream closed for its input (xmppd_sessions_closed_total). */
  private onRefusedInput: (reason: 'limit' | 'forbidden_input') => void = () => undefined

  /** Sets listen.c2s.max_stanza_size and max_depth (before any input), and what counts a close for them. */
  setLimits(maxStanzaSize: number, maxDepth: number, counted?: (reason: 'limit' | 'forbidden_input') => void): void {
    this.scanner = new InputScanner({ maxStanzaSize, maxHeaderSize: MAX_HEADER_SIZE, maxDepth })
    // Until SASL succeeds, any element may restart the stream: the parser gets one at a time.
    this.scanner.stopAfterStanza = true
    if (counted) this.onRefusedInput = counted
  }

  /** The bench's limits-off run (XMPPD_BENCH_LIMITS=off): decoded input goes to the parser unscanned. */
  scanOff(): void {
    this.unscanned = true
  }

  override startParser(): void {
    super.startParser()
    // The client's </stream:stream>: its session is over for routing now, not when the socket
    // finally closes (it may stay half-open): what is routed meanwhile would be written to a
    // stream the client has left, and lost. The parser reports it before the library answers it.
    this.parser?.on('endElement', (name: string) => {
      if (name === 'stream:stream') this.emit('xmppd:stream-end')
    })
    // Every new stream (connection, after STARTTLS, after SASL) starts with a header again.
    this.scanner.reset()
    if (this.held) {
      // SASL success: what the client pipelined after <auth> is the new stream's, read as such.
      // No stream restarts after this one, so the scanner no longer stops after each element.
      this.scanner.stopAfterStanza = false
      this.release()
    }
  }

  override setSecure(credentials?: unknown, isServer?: boolean, servername?: string): void {
    this.tlsStarted = true
    // A new byte stream: a character cut at the end of the plaintext does not continue in TLS.
    this.utf8 = new Utf8Input()
    super.setSecure(credentials, isServer, servername)
  }

  /**
   * A SASL exchange is under way (the session calls this before handing over `<auth>`): input is
   * held, and the socket paused, until its outcome. After `<success/>` the held input is the new
   * stream's (startParser); after `<failure/>` it goes on in this one (release()).
   */
  hold(): void {
    if (this.held) return
    this.held = []
    this.pause()
  }

  /** Ends hold(): the held input is read now, then the socket again. */
  release(): void {
    const held = this.held
    if (!held) return
    this.held = null
    for (const text of held) this.consume(text)
    if (!this.held && !this.failed) this.resume()
  }

  override onData(data: Buffer | string): void {
    if (!this.parser || this.failed) return
    this.lastInput = Date.now()
    const text = typeof data === 'string' ? data : this.utf8.decode(data)
    if (text === null) {
      this.onRefusedInput('forbidden_input')
      return this.error('not-well-formed', 'input is not valid UTF-8')
    }
    this.consume(text)
  }

  private consume(text: string): void {
    for (let rest: string | undefined = text; rest;) {
      if (this.held) return void this.held.push(rest)
      const parser = this.parser
      if (!parser || this.failed) return
      const result: ReturnType<InputScanner['scan']> = this.unscanned ? { feed: rest } : this.scanner.scan(rest)
      if ('error' in result) {
        this.onRefusedInput(result.error.condition === 'policy-violation' ? 'limit' : 'forbidden_input')
        return this.error(result.error.condition, result.error.text)
      }
      if (result.feed) {
        try {
          parser.write(result.feed)
        } catch (err) {
          // ltx throws (rather than emits) on an unknown entity such as &foo; or a forbidden &#0;
          this.onRefusedInput('forbidden_input')
          return this.error('not-well-formed', (err as Error).message)
        }
      }
      if (this.tlsStarted) {
        // Plaintext pipelined after <starttls/> is dropped, never read by either stream (the
        // STARTTLS command injection of CVE-2011-0411; Postfix drops it too).
        this.tlsStarted = false
        return
      }
      rest = result.rest
    }
  }

  override error(condition: string, message?: string): void {
    if (this.failed) return
    this.failed = true
    this.held = null
    // The parser library still uses RFC 3920's name for this condition.
    super.error(condition === 'xml-not-well-formed' ? 'not-well-formed' : condition, message)
    this.stopParser()
  }
}
