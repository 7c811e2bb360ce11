// A small semaphore for scrypt work (issue 14): scrypt runs on libuv's four threads, which DNS
// and file I/O share, so a login flood must not hold them all. Waiters that are not suspect
// (no recent failures) are served before suspect ones: a flood cannot starve other logins.
export const SCRYPT_SLOTS = 2

export function createSlots(size = SCRYPT_SLOTS) {
  let free = size
  const urgent: Array<() => void> = []
  const suspect: Array<() => void> = []
  const release = () => {
    const next = urgent.shift() ?? suspect.shift()
    if (next) next()
    else free++
  }
  return async function withSlot<T>(isSuspect: boolean, work: () => Promise<T>): Promise<T> {
    if (free > 0) free--
    else await new Promise<void>((resolve) => (isSuspect ? suspect : urgent).push(resolve))
    try {
      return await work()
    } finally {
      release()
    }
  }
}
