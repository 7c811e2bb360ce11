// Parsing a `to` address, with RFC 7622's size limits (each part at most 1,023 bytes of UTF-8)
// and a cache of parsed addresses bounded in entries and in bytes: a client that writes to
// thousands of distinct huge addresses must not grow the server (issue 14).
import { jid as parseJid, type JID } from '@xmpp/jid'

/** RFC 7622 §3.2-3.4: localpart, domainpart and resourcepart are each at most 1,023 bytes. */
export const MAX_JID_PART = 1023
/** Longer addresses are parsed every time and never kept: real JIDs are far shorter, and the
 * cache then holds at most entries × this many characters (10,000 × 256: a few MB). */
const MAX_CACHED_LENGTH = 256
const MAX_ENTRIES = 10_000

const partTooLong = (part: string | undefined) => part !== undefined && part.length > MAX_JID_PART / 3 && Buffer.byteLength(part) > MAX_JID_PART

/** Throws on a malformed address, or one with a part longer than 1,023 bytes. */
export function parseBoundedJid(address: string): JID {
  // Three parts and two separators: anything longer cannot be valid, whatever it holds.
  if (address.length > 3 * MAX_JID_PART + 2) throw new Error('JID too long')
  const j = parseJid(address)
  if (partTooLong(j.local) || partTooLong(j.domain) || partTooLong(j.resource)) throw new Error('JID part longer than 1023 bytes')
  return j
}

/** Parsed `to` addresses kept for reuse: a server sees the same few thousand over and over, and
 * parsing one (with XEP-0106 escape detection) was a tenth of the routing CPU. */
export function createJidCache(): (address: string) => JID {
  let parsed = new Map<string, JID>()
  return function parseTo(address: string): JID {
    let j = parsed.get(address)
    if (j === undefined) {
      j = parseBoundedJid(address) // throws on a malformed address: nothing cached
      if (address.length > MAX_CACHED_LENGTH) return j
      if (parsed.size >= MAX_ENTRIES) parsed = new Map() // crude but bounded; refills at once
      parsed.set(address, j)
    }
    return j
  }
}
