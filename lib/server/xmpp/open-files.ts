// max_connections as the process can honour it: below the open-files limit (RLIMIT_NOFILE, read
// from /proc/self/limits), with room left for the HTTP listener, the webhook pools' sockets, the
// data files and the logs, so a flood of client connections cannot starve them (issue 14).
import { readFileSync } from 'node:fs'

/** Descriptors kept for everything but client streams, besides the pools' own sockets. */
export const OPEN_FILES_MARGIN = 256

/** The soft open-files limit, or undefined where /proc is not there or says "unlimited". */
export function openFilesLimit(limitsText?: string): number | undefined {
  let text = limitsText
  if (text === undefined) {
    try {
      text = readFileSync('/proc/self/limits', 'utf8')
    } catch {
      return undefined
    }
  }
  const m = /^Max open files\s+(\d+|unlimited)/m.exec(text)
  return m && m[1] !== 'unlimited' ? Number(m[1]) : undefined
}

/** The max_connections in force: the configured one, capped below the limit less the margin. */
export function effectiveMaxConnections(configured: number, poolSockets: number, limit = openFilesLimit()): number {
  if (limit === undefined) return configured
  return Math.max(1, Math.min(configured, limit - OPEN_FILES_MARGIN - poolSockets))
}
