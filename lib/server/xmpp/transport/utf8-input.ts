// A client stream's bytes as text, however they are split across reads, refusing input that is not
// UTF-8 (RFC 6120 §11.6): overlong forms, surrogates (ED A0 80), code points past U+10FFFF, stray
// continuation bytes. (Part of the transport layer: see ../transport.ts.)
// Why not TextDecoder({ fatal: true, stream: true }): on Node 20 it costs about 3× StringDecoder
// for a 200-byte ASCII stanza (≈350 against ≈120 ns a read, measured). Here the bytes are decoded as usual; invalid input always decodes to U+FFFD, and only a
// read whose text has one (rare: a client may send a literal U+FFFD, EF BF BD) is validated again.
// A read of plain ASCII gives a one-byte string, in which V8 finds no U+FFFD without scanning.
import { isUtf8 } from 'node:buffer'

export class Utf8Input {
  /** The bytes of a character cut by the end of the last read (at most 3). */
  private carry: Buffer | null = null

  /** One read as text, or null when its bytes are not UTF-8. */
  decode(data: Buffer): string | null {
    if (this.carry) {
      data = Buffer.concat([this.carry, data])
      this.carry = null
    }
    const end = completeLength(data)
    // Copied, so the read's whole buffer is not kept alive for three bytes.
    if (end < data.length) this.carry = Buffer.from(data.subarray(end))
    const text = data.toString('utf8', 0, end)
    if (text.indexOf('\ufffd') !== -1 && !isUtf8(data.subarray(0, end))) return null
    return text
  }
}

/** How many bytes of `b` end on a character boundary: all but an unfinished last character. */
function completeLength(b: Buffer): number {
  const n = b.length
  if (n === 0 || b[n - 1] < 0x80) return n
  for (let i = n - 1; i >= 0 && i >= n - 4; i--) {
    const c = b[i]
    if (c >= 0x80 && c < 0xc0) continue // a continuation byte: the lead is further back
    const need = c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : c >= 0xc0 ? 2 : 1
    return n - i < need ? i : n
  }
  return n // four continuation bytes in a row: invalid, and decoded (to U+FFFD) as such
}
