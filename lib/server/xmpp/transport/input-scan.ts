// A linear pre-scan of a client stream, ahead of the XML parser: it enforces the input limits for
// every byte however the input is split (stream header size, stanza size counted from the
// stanza's first `<` including an unfinished start tag, nesting depth), RFC 6120's restricted XML
// (a `<!` or `<?` split across reads included) and XML 1.0's forbidden characters. It also decides
// what the parser gets: only input up to the last complete tag, because ltx re-joins a half-read
// tag or text with every later write (quadratic CPU); the tail is held here, joined once.
// Character references (`&#0;`) are left to ltx, which throws on a forbidden one.
// (Part of the transport layer: see ../transport.ts.)

export interface InputLimits {
  maxStanzaSize: number
  maxHeaderSize: number
  maxDepth: number
}

export interface ScanError {
  condition: 'policy-violation' | 'restricted-xml' | 'not-well-formed'
  text: string
}

/** The stream header's own bound (RFC 6120 sets none; 8 KiB is far above any real header). */
export const MAX_HEADER_SIZE = 8192

// XML 1.0 Char: tab, LF, CR, U+0020-U+D7FF, U+E000-U+FFFD, U+10000-U+10FFFF (lone surrogates out).
// eslint-disable-next-line no-control-regex
const FORBIDDEN = /[\u0000-\u0008\u000b\u000c\u000e-\u001f\ufffe\uffff]|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/
/** Anything but printable ASCII, tab, CR and LF (DEL is allowed by XML but rare enough). */
const NOT_PLAIN = /[^\t\n\r\u0020-\u007e]/

const enum St {
  Text,
  Lt,
  Name,
  Tag,
  Quote,
  EndTag,
  Bang,
  Cdata,
  Pi,
}

const CDATA = '[CDATA['
/** Held pieces joined into one beyond this many. */
const HELD_PIECES = 256

export class InputScanner {
  private st = St.Text
  /** -1 before the stream header, 0 between stanzas, n inside a stanza nested n deep. */
  private depth = -1
  private selfClosing = false
  private quote = ''
  private seen = '' // the start of a `<!` or `<?` construct, across reads
  private brackets = 0 // consecutive `]` inside CDATA
  private wsRun = true // the depth-0 text since the last tag is only whitespace
  /** Bytes of the open unit (header, stanza, or text between stanzas) in earlier reads. */
  private unitBytes = 0
  private unitOpen = true
  private held: string[] = []
  /** The stream header has not been closed yet. */
  private header = true
  /**
   * Stop after each top-level element and return the rest unscanned: before authentication, an
   * element may restart the stream (STARTTLS, SASL), and what follows belongs to the new stream.
   */
  stopAfterStanza = false

  constructor(private readonly limits: InputLimits) {}

  /** A new stream (connection, STARTTLS, SASL success): the header bound applies again. */
  reset(): void {
    this.st = St.Text
    this.depth = -1
    this.unitBytes = 0
    this.unitOpen = true
    this.wsRun = true
    this.held = []
    this.header = true
  }

  /** Scans one decoded read: what to hand the parser now, or the error that closes the stream. */
  scan(text: string): { feed: string; rest?: string } | { error: ScanError } {
    // One pass for the common case (printable ASCII, tab, CR, LF); the finer checks only otherwise.
    const ascii = !NOT_PLAIN.test(text)
    const bad = ascii ? null : FORBIDDEN.exec(text)
    if (bad) {
      const code = bad[0].charCodeAt(0).toString(16).padStart(4, '0')
      return { error: { condition: 'not-well-formed', text: `character U+${code.toUpperCase()} is not allowed in XML` } }
    }
    const bytes = (a: number, b: number): number => (ascii ? b - a : Buffer.byteLength(text.slice(a, b)))
    const ready: string[] = []
    let seg = 0 // start of the part of `text` not yet ready or dropped
    let run = 0 // start of the contiguous part of `text` that is ready (up to `seg`)
    let unitStart = this.unitOpen ? 0 : -1 // where the open unit starts in this read
    let n = text.length
    const boundary = (end: number): void => {
      // a complete tag ends at `end`: everything so far may go to the parser
      if (this.held.length) ready.push(...this.held.splice(0))
      seg = end
    }
    const closeUnit = (end: number, max: number, what: string): ScanError | undefined => {
      const size = this.unitBytes + bytes(unitStart, end)
      this.unitBytes = 0
      this.unitOpen = false
      unitStart = -1
      return size > max ? { condition: 'policy-violation', text: `${what} larger than ${max} bytes` } : undefined
    }
    const openUnit = (at: number): void => {
      this.unitBytes = 0
      this.unitOpen = true
      unitStart = at
    }

    scan: for (let i = 0; i < n; i++) {
      switch (this.st) {
        case St.Text: {
          if (this.depth > 0) {
            const lt = text.indexOf('<', i)
            if (lt === -1) i = n
            else {
              i = lt
              this.st = St.Lt
            }
            break
          }
          const c = text.charCodeAt(i)
          if (c === 60 /* < */) {
            if (this.depth <= 0 && this.wsRun && this.held.length === 0) {
              // whitespace between stanzas (or before the header, which is counted anyway): dropped
              if (seg > run) ready.push(text.slice(run, seg))
              run = seg = i
            }
            if (this.depth === 0) openUnit(i) // a stanza counts from its first `<`
            this.st = St.Lt
          } else if (c !== 32 && c !== 9 && c !== 10 && c !== 13 && this.depth === 0 && this.wsRun) {
            this.wsRun = false
            openUnit(i) // text between stanzas is bounded like a stanza
          }
          break
        }
        case St.Lt: {
          const c = text[i]
          if (c === '/') this.st = St.EndTag
          else if (c === '!' || c === '?') {
            this.st = c === '!' ? St.Bang : St.Pi
            this.seen = ''
            this.brackets = 0
          } else {
            this.st = St.Name
            this.selfClosing = false
            if (++this.depth > this.limits.maxDepth) {
              return { error: { condition: 'policy-violation', text: `elements nested deeper than max_depth (${this.limits.maxDepth})` } }
            }
          }
          break
        }
        case St.Bang:
          this.seen += text[i]
          if (!CDATA.startsWith(this.seen)) return { error: { condition: 'restricted-xml', text: 'comments and DTDs are not allowed' } }
          if (this.seen.length === CDATA.length) {
            this.st = St.Cdata
            this.brackets = 0
          }
          break
        case St.Cdata: {
          const c = text[i]
          if (c === '>' && this.brackets >= 2) {
            this.st = St.Text
            boundary(i + 1)
          } else if (c === ']') this.brackets++
          else {
            this.brackets = 0
            const rb = text.indexOf(']', i)
            i = (rb === -1 ? n : rb) - 1
          }
          break
        }
        case St.Pi: {
          if (this.seen.length < 4) {
            this.seen += text[i]
            const ok = this.depth === -1 && ('xml '.startsWith(this.seen) || this.seen === 'xml?' || /^xml[\t\r\n]$/.test(this.seen))
            if (!ok) return { error: { condition: 'restricted-xml', text: 'processing instructions are not allowed' } }
          } else {
            if (text[i] === '>' && this.brackets === 1) {
              this.st = St.Text
              boundary(i + 1)
            }
            this.brackets = text[i] === '?' ? 1 : 0 // `?>` may be split across reads
          }
          break
        }
        case St.Name:
        case St.Tag: {
          const c = text[i]
          if (c === '>') {
            this.st = St.Text
            const wasHeader = this.header && this.depth === 0
            if (this.selfClosing) this.depth--
            if (wasHeader) {
              this.header = false
              const err = closeUnit(i + 1, this.limits.maxHeaderSize, 'stream header')
              if (err) return { error: err }
            } else if (this.depth === 0 && this.selfClosing) {
              const err = closeUnit(i + 1, this.limits.maxStanzaSize, 'stanza (max_stanza_size)')
              if (err) return { error: err }
              if (this.stopAfterStanza) n = i + 1
            }
            this.wsRun = true
            boundary(i + 1)
            if (n === i + 1) break scan
          } else if (c === '"' || c === "'") {
            this.st = St.Quote
            this.quote = c
          } else if (c === '/') this.selfClosing = true
          else if (this.st === St.Name && c <= ' ') this.st = St.Tag
          break
        }
        case St.Quote: {
          const q = text.indexOf(this.quote, i)
          if (q === -1) i = n
          else {
            i = q
            this.st = St.Tag
          }
          break
        }
        case St.EndTag: {
          const gt = text.indexOf('>', i)
          if (gt === -1) {
            i = n
            break
          }
          i = gt
          this.st = St.Text
          this.depth--
          if (this.depth === 0) {
            const err = closeUnit(i + 1, this.limits.maxStanzaSize, 'stanza (max_stanza_size)')
            if (err) return { error: err }
            if (this.stopAfterStanza) n = i + 1
          }
          this.wsRun = true
          boundary(i + 1)
          if (n === i + 1) break scan
          break
        }
      }
    }
    if (seg > run) ready.push(text.slice(run, seg))
    // The tail after the last complete tag is held (not parsed yet) and counted.
    if (seg < n) {
      if (this.st === St.Text && this.depth <= 0 && this.wsRun && this.held.length === 0) {
        // whitespace between stanzas (or before the header): nothing to hold
      } else {
        this.held.push(text.slice(seg))
        // Input trickled a byte a read would hold one small string per byte: joined now and then,
        // which keeps the memory near the bytes held and the copying within the size limit.
        if (this.held.length > HELD_PIECES) this.held = [this.held.join('')]
      }
    }
    if (unitStart >= 0) {
      this.unitBytes += bytes(unitStart, n)
      const max = this.header ? this.limits.maxHeaderSize : this.limits.maxStanzaSize
      if (this.unitBytes > max) {
        const what = max === this.limits.maxStanzaSize ? 'stanza (max_stanza_size)' : 'stream header'
        return { error: { condition: 'policy-violation', text: `${what} larger than ${max} bytes` } }
      }
    }
    const feed = ready.length === 0 ? '' : ready.length === 1 ? ready[0] : ready.join('')
    return n < text.length ? { feed, rest: text.slice(n) } : { feed }
  }
}
