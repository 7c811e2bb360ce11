// The stream's byte side, on node-xmpp-core's Connection: input decoded as UTF-8 across reads,
// the input limits and RFC 6120's restricted XML enforced by a linear pre-scan (input-scan.ts)
// before the parser sees a byte, parser exceptions contained, and one stream error at most.
// (Part of the transport layer: see ../transport.ts.)
import { StringDecoder } from 'node:string_decoder'
import nxs, { type NxsConnection } from 'node-xmpp-server'
import { InputScanner, MAX_HEADER_SIZE } from './input-scan.js'

const BaseConnection = nxs.Connection as unknown as new (opts: Record<string, unknown>) => NxsConnection

export class XmppdConnection extends BaseConnection {
  failed = false
  /** When input last arrived: the idle timeout's clock (see guard.ts). */
  lastInput = Date.now()
  private readonly decoder = new StringDecoder('utf8')
  /** The bench's limits-off run only (scanOff). */
  private unscanned = false
  private scanner = new InputScanner({ maxStanzaSize: Infinity, maxHeaderSize: MAX_HEADER_SIZE, maxDepth: Infinity })

  /** Counts a stream closed for its input (xmppd_sessions_closed_total). */
  private onRefusedInput: (reason: 'limit' | 'forbidden_input') => void = () => undefined

  /** Sets listen.c2s.max_stanza_size and max_depth (before any input), and what counts a close for them. */
  setLimits(maxStanzaSize: number, maxDepth: number, counted?: (reason: 'limit' | 'forbidden_input') => void): void {
    this.scanner = new InputScanner({ maxStanzaSize, maxHeaderSize: MAX_HEADER_SIZE, maxDepth })
    if (counted) this.onRefusedInput = counted
  }

  /** The bench's limits-off run (XMPPD_BENCH_LIMITS=off): decoded input goes to the parser unscanned. */
  scanOff(): void {
    this.unscanned = true
  }

  override startParser(): void {
    super.startParser()
    // Every new stream (connection, after STARTTLS, after SASL) starts with a header again.
    this.scanner.reset()
  }

  override onData(data: Buffer | string): void {
    if (!this.parser || this.failed) return
    this.lastInput = Date.now()
    const text = typeof data === 'string' ? data : this.decoder.write(data)
    const result = this.unscanned ? { feed: text } : this.scanner.scan(text)
    if ('error' in result) {
      this.onRefusedInput(result.error.condition === 'policy-violation' ? 'limit' : 'forbidden_input')
      return this.error(result.error.condition, result.error.text)
    }
    if (!result.feed) return
    try {
      this.parser.write(result.feed)
    } catch (err) {
      // ltx throws (rather than emits) on an unknown entity such as &foo; or a forbidden &#0;
      this.onRefusedInput('forbidden_input')
      this.error('not-well-formed', (err as Error).message)
    }
  }

  override error(condition: string, message?: string): void {
    if (this.failed) return
    this.failed = true
    // The parser library still uses RFC 3920's name for this condition.
    super.error(condition === 'xml-not-well-formed' ? 'not-well-formed' : condition, message)
    this.stopParser()
  }
}
