// Opens the outbox an instance asked for, shared within the process: a reload starts the new
// instance before the old one stops, and both must see the same pending notifications (and the
// same leases) instead of two handles on one file or two memories. The file itself is a process's
// own (its lock); this module counts the instances that hold it and closes it with the last one.
import path from 'node:path'
import type { Outbox, OutboxEntry } from './outbox.js'
import { MemoryOutbox } from './memory.js'
import { SqliteOutbox } from './sqlite.js'

export type OutboxKind = 'sqlite' | 'memory'

export interface OutboxHandle {
  readonly outbox: Outbox
  /**
   * Notifications of this host found when the outbox was opened, counted once per host and
   * metrics registry (a disable/enable finds its own leftovers, which were counted; a new server
   * in the same process has a new registry, whose invariant needs them counted again).
   */
  claimRecovered(): number
  /**
   * Called when another holder lets go (a reload's old instance once it stopped): what that one
   * had leased is back, due now or later, and nothing else would tell this holder's deliverers.
   */
  onHandover(wake: () => void): void
  /**
   * Lets go of the outbox. The last holder closes it; for the memory backend, what it still held
   * for this host is returned (it is lost: the caller counts it).
   */
  release(): Promise<OutboxEntry[]>
}

interface Shared {
  outbox: Outbox
  holders: number
  wakes: Set<() => void>
}

const open = new Map<string, Shared>()
/** Hosts whose leftovers were counted as recovered, per registry (the counters' owner) and outbox. */
const claimed = new WeakMap<object, Map<string, Set<string>>>()
/** The scope of callers that name none: the process. */
const PROCESS = {}

export const OUTBOX_FILE = 'outbox.sqlite'

/** `scope`: what counts recovered notifications (the metrics registry); once per host in it. */
export function openOutbox(kind: OutboxKind, dataDir: string, host: string, onWriteError: (err: Error) => void, scope: object = PROCESS): OutboxHandle {
  // sqlite: one file per node, shared by its vhosts. memory: one per host, as nothing outlives it.
  const key = kind === 'sqlite' ? `sqlite:${path.resolve(dataDir, OUTBOX_FILE)}` : `memory:${path.resolve(dataDir)}:${host}`
  let shared = open.get(key)
  if (!shared) {
    const outbox = kind === 'sqlite' ? new SqliteOutbox(path.resolve(dataDir, OUTBOX_FILE)) : new MemoryOutbox()
    if (outbox instanceof SqliteOutbox) outbox.onError(onWriteError)
    shared = { outbox, holders: 0, wakes: new Set() }
    open.set(key, shared)
  }
  shared.holders++
  const held = shared
  let released = false
  let wake: (() => void) | undefined
  return {
    outbox: held.outbox,
    claimRecovered() {
      let byOutbox = claimed.get(scope)
      if (!byOutbox) claimed.set(scope, (byOutbox = new Map()))
      let hosts = byOutbox.get(key)
      if (!hosts) byOutbox.set(key, (hosts = new Set()))
      if (hosts.has(host)) return 0
      hosts.add(host)
      return held.outbox instanceof SqliteOutbox ? held.outbox.foundAtOpen(host) : 0
    },
    onHandover(fn) {
      wake = fn
      held.wakes.add(fn)
    },
    async release() {
      if (released) return []
      released = true
      held.holders--
      if (wake) held.wakes.delete(wake)
      if (held.holders > 0) {
        for (const w of held.wakes) w()
        return []
      }
      open.delete(key)
      const lost = held.outbox instanceof MemoryOutbox ? held.outbox.drainAll(host) : []
      await held.outbox.close()
      return lost
    },
  }
}
