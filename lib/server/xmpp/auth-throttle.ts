// Login throttling by delay, never by ban (issue 14): a failed login is answered only after a
// delay that doubles with the recent failures from its IP and for its account, from
// auth.min_failure_delay up to auth.max_failure_delay. Every failure is padded to at least the
// minimum after the verification, so an unknown user, a plain secret and an scrypt hash fail
// alike. Logins with no recent failures go ahead of suspect ones for the scrypt slots.
import { createHash } from 'node:crypto'

export interface ThrottleSettings {
  /** ms */
  min_failure_delay: number
  /** s */
  max_failure_delay: number
}

/** Failures older than this (since the key's last one) are forgotten. */
const FORGET_AFTER_MS = 5 * 60_000
/** IPs and accounts tracked at most: the oldest is dropped past it (a flood of names stays bounded). */
const MAX_KEYS = 10_000

interface Record_ {
  count: number
  last: number
}

export interface AuthThrottle {
  /**
   * Runs `verify` (told whether this login is suspect: earlier failures from its IP or for its
   * account) and, when it fails, resolves false only once the failure's delay has passed.
   */
  attempt(ip: string, account: string, verify: (suspect: boolean) => Promise<boolean>): Promise<boolean>
}

export function createAuthThrottle(settings: () => ThrottleSettings, onThrottled: () => void): AuthThrottle {
  const ips = new Map<string, Record_>()
  const accounts = new Map<string, Record_>()

  const recent = (map: Map<string, Record_>, key: string, now: number): number => {
    const r = map.get(key)
    if (r && now - r.last > FORGET_AFTER_MS) map.delete(key)
    return r && now - r.last <= FORGET_AFTER_MS ? r.count : 0
  }
  const fail = (map: Map<string, Record_>, key: string, now: number): void => {
    const count = recent(map, key, now) + 1
    map.delete(key) // re-inserted last: Map order is then oldest failure first
    map.set(key, { count, last: now })
    if (map.size > MAX_KEYS) map.delete(map.keys().next().value as string)
  }

  return {
    async attempt(ip, account, verify) {
      const started = Date.now()
      // The floor is timed on the monotonic clock: timers run off libuv's cached loop time and
      // can fire a millisecond early against Date.now(), which would break "at least".
      const startedMono = performance.now()
      // Hashed: a key's memory does not depend on what a client wrote as its user name.
      const acct = createHash('sha256').update(account).digest('base64')
      const earlier = Math.max(recent(ips, ip, started), recent(accounts, acct, started))
      if (await verify(earlier > 0)) return true
      const now = Date.now()
      fail(ips, ip, now)
      fail(accounts, acct, now)
      const { min_failure_delay: min, max_failure_delay: max } = settings()
      const delay = Math.min(max * 1000, min * 2 ** earlier)
      if (earlier > 0) onThrottled()
      const deadline = startedMono + Math.max(delay, min)
      for (let left = deadline - performance.now(); left > 0; left = deadline - performance.now()) {
        await new Promise((resolve) => setTimeout(resolve, Math.ceil(left)))
      }
      return false
    },
  }
}
