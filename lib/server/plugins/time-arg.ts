// A point in time as operators type it (`--since`): ISO 8601, or relative to now (`45s`, `30m`,
// `2h`, `7d`: that long ago). Pure: `now` is passed in. The host resolves a `time` argument with
// it when the request arrives (the server's clock decides what "2h" means, not the operator's
// machine), and xmppctl checks the syntax with it before sending, for a usage error.

const RELATIVE = /^(\d{1,9})([smhd])$/
const UNIT_MS: Record<string, number> = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }
// Date, then optionally time (minutes at least) and an offset. No offset means UTC: servers log in
// UTC and a shell's local zone is not the server's.
const ISO = /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:[.,](\d{1,9}))?)?(Z|[+-]\d{2}(?::?\d{2})?)?)?$/i

export const TIME_FORMS = 'ISO 8601 (2024-05-01, 2024-05-01T10:00:00Z, 2024-05-01T12:00+02:00) or relative (45s, 30m, 2h, 7d)'

/** The time `text` names, or an Error saying why it names none. */
export function parseTime(text: string, now: number): Date | Error {
  const t = text.trim()
  const rel = RELATIVE.exec(t)
  if (rel) {
    const date = new Date(now - Number(rel[1]) * UNIT_MS[rel[2]])
    return Number.isNaN(date.getTime()) ? new Error(`"${text}" is not a time: out of range`) : date
  }
  const m = ISO.exec(t)
  if (!m) return new Error(`"${text}" is not a time: use ${TIME_FORMS}`)
  const [year, month, day, hour = 0, minute = 0, second = 0] = m.slice(1, 7).map((x) => (x === undefined ? undefined : Number(x))) as number[]
  const ms = m[7] ? Number(`0.${m[7]}`) * 1000 : 0
  const daysInMonth = new Date(Date.UTC(year, month, 0)).getUTCDate()
  if (month < 1 || month > 12 || day < 1 || day > daysInMonth || hour > 23 || minute > 59 || second > 59)
    return new Error(`"${text}" is not a time: no such date or time of day`)
  let offsetMin = 0
  const zone = m[8]
  if (zone && zone.toUpperCase() !== 'Z') {
    const [, sign, hh, mm = '0'] = /^([+-])(\d{2}):?(\d{2})?$/.exec(zone)!
    if (Number(hh) > 23 || Number(mm) > 59) return new Error(`"${text}" is not a time: offset ${zone} out of range`)
    offsetMin = (sign === '-' ? -1 : 1) * (Number(hh) * 60 + Number(mm))
  }
  const date = new Date(Date.UTC(year, month - 1, day, hour, minute, second) + Math.floor(ms) - offsetMin * 60_000)
  // Before 1970 nothing was delivered (and Date.UTC reads years below 100 as 19xx).
  if (year < 1970 || Number.isNaN(date.getTime())) return new Error(`"${text}" is not a time: out of range`)
  return date
}
