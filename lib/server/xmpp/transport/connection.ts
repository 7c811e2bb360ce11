// The stream's byte side, on node-xmpp-core's Connection: input decoded as UTF-8 across reads,
// max_stanza_size enforced, RFC 6120's restricted XML refused, parser exceptions contained, and
// one stream error at most. (Part of the transport layer: see ../transport.ts.)
import { StringDecoder } from 'node:string_decoder'
import nxs, { type NxsConnection } from 'node-xmpp-server'

/** Parser input is fed in slices this long, so an oversized stanza is caught within one slice. */
const SLICE = 4096

const BaseConnection = nxs.Connection as unknown as new (opts: Record<string, unknown>) => NxsConnection

export class XmppdConnection extends BaseConnection {
  maxBytes = Infinity
  failed = false
  /** When input last arrived: the idle timeout's clock (see guard.ts). */
  lastInput = Date.now()
  private readonly decoder = new StringDecoder('utf8')
  private fed = 0
  private stanzaStart = -1
  private startedInSlice = false

  override startParser(): void {
    super.startParser()
    this.stanzaStart = -1
    this.parser?.on('startElement', () => {
      this.startedInSlice = true
    })
  }

  override onData(data: Buffer | string): void {
    if (!this.parser || this.failed) return
    this.lastInput = Date.now()
    const text = typeof data === 'string' ? data : this.decoder.write(data)
    for (let i = 0; i < text.length; i += SLICE) {
      const slice = text.length <= SLICE ? text : text.slice(i, i + SLICE)
      if (hasRestrictedMarkup(slice)) {
        this.error('restricted-xml', 'comments, processing instructions and DTDs are not allowed')
        return
      }
      this.startedInSlice = false
      try {
        this.parser.write(slice)
      } catch (err) {
        // ltx throws (rather than emits) on an unknown entity such as &foo;
        this.error('xml-not-well-formed', (err as Error).message)
        return
      }
      if (!this.parser || this.failed) return
      this.fed += Buffer.byteLength(slice)
      if (this.startedInSlice) this.stanzaStart = this.fed
      // A lower bound of the open stanza's size: never rejects a stanza within the limit.
      if (this.parser.element && this.stanzaStart >= 0 && this.fed - this.stanzaStart > this.maxBytes) {
        this.error('policy-violation', `stanza larger than max_stanza_size (${this.maxBytes} bytes)`)
        return
      }
    }
  }

  override error(condition: string, message?: string): void {
    if (this.failed) return
    this.failed = true
    super.error(condition, message)
    this.stopParser()
  }
}

/** RFC 6120 §11.1: no comments, PIs (but the XML declaration), DTDs or entity declarations. */
function hasRestrictedMarkup(text: string): boolean {
  for (let i = text.indexOf('<!'); i !== -1; i = text.indexOf('<!', i + 2)) {
    if (!text.startsWith('<![CDATA[', i)) return true
  }
  for (let i = text.indexOf('<?'); i !== -1; i = text.indexOf('<?', i + 2)) {
    if (!text.startsWith('<?xml ', i) && !text.startsWith('<?xml?', i)) return true
  }
  return false
}
