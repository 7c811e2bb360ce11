// Opens the outbox an instance asked for, shared within the process: a reload starts the new
// instance before the old one stops, and both must see the same pending notifications (and the
// same leases) instead of two handles on one file or two memories. The file itself is a process's
// own (its lock); this module counts the instances that hold it and closes it with the last one.
import path from 'node:path'
import type { Outbox, OutboxEntry } from './outbox.js'
import type { JetStreamSettings } from './jetstream-connect.js'
import { JetStreamOutbox } from './jetstream.js'
import { MemoryOutbox } from './memory.js'
import { SqliteOutbox } from './sqlite.js'

export type OutboxKind = 'sqlite' | 'memory' | 'jetstream'

/** What to open: a file or memory (in the plugin's data dir), or a JetStream stream. */
export type OutboxChoice = { kind: 'sqlite' | 'memory' } | { kind: 'jetstream'; settings: JetStreamSettings }

/** What a lost notification is counted by (the memory outbox's entries, JetStream's unpublished ones). */
export type Lost = Pick<OutboxEntry, 'handler' | 'attempts' | 'webhookId'>

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
   * for this host is returned (it is lost: the caller counts it), as for JetStream what this host
   * accepted and could not publish before the close.
   */
  release(): Promise<Lost[]>
}

interface Shared {
  outbox: Outbox
  opening?: Promise<void>
  holders: number
  wakes: Set<() => void>
}

const open = new Map<string, Shared>()
/** Hosts whose leftovers were counted as recovered, per registry (the counters' owner) and outbox. */
const claimed = new WeakMap<object, Map<string, Set<string>>>()
/** The scope of callers that name none: the process. */
const PROCESS = {}

export const OUTBOX_FILE = 'outbox.sqlite'

/**
 * `scope`: what counts recovered notifications (the metrics registry); once per host in it.
 * Connecting to JetStream is the only slow part: vhosts starting at once share one connection.
 */
export async function openOutbox(
  choice: OutboxChoice,
  dataDir: string,
  host: string,
  onWriteError: (err: Error) => void,
  scope: object = PROCESS,
  onEngineEvent: (msg: string, err?: Error) => void = () => undefined,
): Promise<OutboxHandle> {
  // sqlite: one file per node, shared by its vhosts. memory: one per host, as nothing outlives it.
  // jetstream: one connection per process and stream.
  const kind = choice.kind
  const key =
    choice.kind === 'jetstream'
      ? `jetstream:${choice.settings.servers.join(',')}:${choice.settings.stream}`
      : kind === 'sqlite'
        ? `sqlite:${path.resolve(dataDir, OUTBOX_FILE)}`
        : `memory:${path.resolve(dataDir)}:${host}`
  let shared = open.get(key)
  if (!shared && choice.kind === 'jetstream') {
    const pending: Shared = { outbox: undefined as unknown as Outbox, holders: 0, wakes: new Set() }
    pending.opening = JetStreamOutbox.open(choice.settings, `xmppd ${process.pid}`, onEngineEvent).then((o) => {
      pending.outbox = o
      pending.opening = undefined
    })
    open.set(key, pending)
    shared = pending
    try {
      await pending.opening
    } catch (err) {
      open.delete(key)
      throw err
    }
  } else if (shared?.opening) await shared.opening
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
      const lost: Lost[] = held.outbox instanceof MemoryOutbox ? held.outbox.drainAll(host) : []
      await held.outbox.close()
      if (held.outbox instanceof JetStreamOutbox) for (const j of held.outbox.lostAtClose) if (j.host === host) lost.push({ ...j, attempts: 0 })
      return lost
    },
  }
}
