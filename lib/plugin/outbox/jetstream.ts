// outbox = "jetstream": every node's notifications in one NATS JetStream work-queue stream, one
// shared durable pull consumer per (vhost, handler), so whichever node (or `xmppd deliver` worker)
// is alive takes the work. add() only queues for the publisher (the hook never waits for the
// engine); a delivered notification is acked; a retry is republished with its attempts and due
// time in headers, then the original is acked; an unreachable endpoint is a nak with a delay (no
// attempt spent); a final failure is published to the dead-letter stream, then acked. JetStream
// keeps the schedule, so there is no due time to wait for here: the feeds say when work arrived.
import { jetstream, type JetStreamClient, type JsMsg } from '@nats-io/jetstream'
import { displayUrl } from '../payload.js'
import { applyTry, deadLetterOf } from './dead-letter.js'
import { carriedOf, decodeEvent, decodeHeaders, encodeEvent, encodeHeaders, msgId } from './jetstream-codec.js'
import { ensureConsumer, openEngine, type Engine, type JetStreamSettings } from './jetstream-connect.js'
import { Feed, type Arrived } from './jetstream-feed.js'
import { Publisher, type Job } from './jetstream-publisher.js'
import { StreamGauges } from './jetstream-gauges.js'
import { Scanner } from './jetstream-scan.js'
import type {
  AddRefusal,
  DeadCounts,
  DeadInfo,
  Delivery,
  DeliveryQuery,
  EngineState,
  HandlerCounts,
  Later,
  Outbox,
  OutboxEntry,
  ReplayResult,
  ReplaySelector,
  StoredEvent,
} from './outbox.js'

/** How long close() waits for what is accepted to reach the stream. */
const CLOSE_FLUSH_MS = 2000

interface Held {
  msg: JsMsg
  replays: number
  /** Since when it is held without an answer to JetStream (ms). */
  at: number
}

export class JetStreamOutbox implements Outbox {
  readonly backend = 'jetstream'
  readonly location: string
  private readonly js: JetStreamClient
  private readonly publisher: Publisher
  private readonly scanner: Scanner
  private readonly feeds = new Map<string, Feed[]>()
  private readonly held = new Map<number, Held>()
  private nextKey = 1
  private readonly gauges: StreamGauges
  private readonly heartbeat: NodeJS.Timeout

  static async open(settings: JetStreamSettings, name: string, log: (msg: string, err?: Error) => void): Promise<JetStreamOutbox> {
    return new JetStreamOutbox(await openEngine(settings, name), settings, log)
  }

  private constructor(
    private readonly engine: Engine,
    private readonly settings: JetStreamSettings,
    private readonly log: (msg: string, err?: Error) => void,
  ) {
    this.location = `${settings.servers.map(displayUrl).join(',')} stream ${settings.stream}`
    this.js = jetstream(engine.nc, { timeout: 5000 })
    this.publisher = new Publisher(this.js, settings.publishBuffer, (failing, err) => {
      if (failing) this.log('publishing to JetStream fails; accepted notifications wait in memory (publish_buffer)', err)
      else this.log('publishing to JetStream again')
    })
    this.scanner = new Scanner(engine.jsm, this.js, engine.names)
    this.gauges = new StreamGauges(engine.nc, engine.names, this.scanner, (msg) => this.log(msg))
    this.heartbeat = setInterval(() => this.keepAlive(), Math.max(500, settings.ackWait / 3))
    this.heartbeat.unref()
  }

  engineState(): EngineState {
    return this.gauges.engineState()
  }

  /** Makes sure the consumers of a host's handlers exist as configured (throws a ConfigError). */
  async prepare(host: string, handlers: readonly string[]): Promise<void> {
    for (const h of handlers) await ensureConsumer(this.engine, host, h, this.settings.ackWait)
  }

  watch(host: string, handler: string, wake: () => void): () => void {
    const k = key(host, handler)
    const feed = new Feed(this.js, this.engine.names.stream, this.engine.names.consumer(host, handler), wake, (err) => {
      if (err) this.log(`pulling ${host} ${handler} from JetStream fails; retrying`, err)
    })
    this.feeds.set(k, [...(this.feeds.get(k) ?? []), feed])
    return () => {
      feed.stop()
      const left = (this.feeds.get(k) ?? []).filter((f) => f !== feed)
      if (left.length > 0) this.feeds.set(k, left)
      else this.feeds.delete(k)
    }
  }

  add(host: string, handler: string, webhookId: string, event: StoredEvent, limit: number): AddRefusal | undefined {
    if (this.pending(host, handler) >= limit) return 'queue_full'
    const carried = { webhookId, acceptedAt: event.time, attempts: 0, replays: 0 }
    const job: Job = {
      subject: this.engine.names.subject(host, handler),
      data: encodeEvent(event),
      headers: encodeHeaders(carried),
      msgId: msgId(carried, 'new'),
      kind: 'new',
      host,
      handler,
      webhookId,
    }
    return this.publisher.add(job) ? undefined : 'outbox_unavailable'
  }

  async lease(host: string, handler: string, max: number): Promise<OutboxEntry[]> {
    const out: OutboxEntry[] = []
    for (const feed of this.feeds.get(key(host, handler)) ?? []) {
      for (const a of feed.take(max - out.length)) {
        const entry = this.entryOf(host, handler, a)
        if (entry) out.push(entry)
      }
      if (out.length >= max) break
    }
    return out
  }

  private entryOf(host: string, handler: string, a: Arrived): OutboxEntry | undefined {
    const c = decodeHeaders(a.msg.headers, a.msg.time.getTime())
    let event: StoredEvent
    try {
      event = decodeEvent(a.msg.data)
    } catch (err) {
      // Not ours (someone published by hand): JetStream must not hand it out again.
      this.log(`dropping message ${a.msg.seq} of ${a.msg.subject}: not a notification`, err as Error)
      a.msg.term()
      return undefined
    }
    const k = this.nextKey++
    this.held.set(k, { msg: a.msg, replays: c.replays, at: a.at })
    return {
      key: k,
      host,
      handler,
      webhookId: c.webhookId,
      event,
      attempts: c.attempts,
      acceptedAt: c.acceptedAt,
      firstAttemptAt: c.firstAttemptAt,
      lastAttemptAt: c.lastAttemptAt,
      lastStatus: c.lastStatus,
      lastError: c.lastError,
    }
  }

  /** JetStream holds the schedule: a feed says when something arrives. */
  nextDue = async (): Promise<number | undefined> => undefined

  settle(entry: OutboxEntry): void {
    this.take(entry)?.msg.ack()
  }

  retryLater(entry: OutboxEntry, later: Later): void {
    const h = this.held.get(entry.key)
    if (!h) return
    if (later.unreachable) {
      // Not an attempt: back to JetStream, due after the delay, for whichever node pulls it.
      this.held.delete(entry.key)
      h.msg.nak(Math.max(0, later.dueAt - Date.now()))
      return
    }
    applyTry(entry, later.last)
    entry.attempts = later.attempts
    const carried = carriedOf(entry, h.replays, later.dueAt)
    this.followUp(entry, this.engine.names.subject(entry.host, entry.handler), encodeHeaders(carried), msgId(carried, 'retry'))
  }

  fail(entry: OutboxEntry, dead: DeadInfo): void {
    const h = this.held.get(entry.key)
    if (!h) return
    const letter = deadLetterOf(entry, dead)
    const carried = { ...carriedOf(entry, h.replays), attempts: letter.attempts, lastError: letter.error }
    const headers = encodeHeaders(carried, { failedAt: letter.failedAt, reason: letter.reason })
    this.followUp(entry, this.engine.names.deadSubject(entry.host, entry.handler), headers, msgId(carried, 'dead'))
  }

  /** Publishes what replaces a held message, then acks it (kept alive until then). */
  private followUp(entry: OutboxEntry, subject: string, headers: Job['headers'], id: string): void {
    const { host, handler, webhookId } = entry
    this.publisher.add({
      subject,
      data: encodeEvent(entry.event),
      headers,
      msgId: id,
      kind: 'follow-up',
      host,
      handler,
      webhookId,
      done: () => this.settle(entry),
    })
  }

  release(entry: OutboxEntry): void {
    this.take(entry)?.msg.nak()
  }

  private take(entry: OutboxEntry): Held | undefined {
    const h = this.held.get(entry.key)
    this.held.delete(entry.key)
    return h
  }

  /** Naks with a delay are JetStream's to hand back: they are due within reset_timeout anyway. */
  wakeUnreachable(): void {}

  /**
   * What this node holds in its feeds for the host and was accepted before `cutoff`: to the dead
   * letters. Called again and again by the sweep: it waits briefly for the feeds to fetch more.
   */
  async expire(host: string, cutoff: number, now = Date.now()): Promise<OutboxEntry[]> {
    const out: OutboxEntry[] = []
    const feeds = [...this.feeds.entries()].filter(([k]) => k.startsWith(`${host}\0`))
    for (const [k, list] of feeds) {
      const handler = k.slice(host.length + 1)
      for (const feed of list) {
        const old = feed.takeWhere((a) => decodeHeaders(a.msg.headers, a.msg.time.getTime()).acceptedAt < cutoff)
        for (const a of old) {
          const entry = this.entryOf(host, handler, a)
          if (!entry) continue
          this.fail(entry, { reason: 'expired', failedAt: now })
          out.push(entry)
        }
        if (old.length > 0) await feed.arrival(300)
      }
    }
    return out
  }

  pending(host: string, handler: string): number {
    return this.gauges.pendingOf(host, handler) + this.publisher.unpublished(host, handler)
  }

  pendingByHandler(host: string): HandlerCounts[] {
    const rows = new Map<string, number>()
    for (const { handler, n } of this.gauges.pendingByHandler(host)) rows.set(handler, n)
    for (const handler of this.publisher.handlersOf(host)) rows.set(handler, rows.get(handler) ?? 0)
    return [...rows].map(([handler, n]) => ({ host, handler, pending: n + this.publisher.unpublished(host, handler) })).filter((r) => r.pending > 0)
  }

  oldestPending(host: string, handler: string): number | undefined {
    return this.gauges.oldestOf(host, handler)
  }

  deliveries(host: string, query: DeliveryQuery): Promise<Delivery[]> {
    return this.scanner.deliveries(host, query)
  }

  replay(host: string, selector: ReplaySelector, now: number): Promise<ReplayResult> {
    return this.scanner.replay(host, selector, now)
  }
  purgeDead(host: string, cutoff: number): Promise<number> {
    return this.scanner.purgeDead(host, cutoff)
  }
  deadByHandler(host: string): DeadCounts[] {
    return this.gauges.deadByHandler(host).map(({ handler, n }) => ({ host, handler, dead: n }))
  }

  /** The publisher publishes continuously. */
  flush(): void {}
  /** New notifications that never reached the stream before close(): lost (the last holder counts them). */
  lostAtClose: Job[] = []

  /** Naks what the feeds hold, waits a little for what is accepted to reach the stream, closes. */
  async close(): Promise<void> {
    clearInterval(this.heartbeat)
    this.gauges.stop()
    for (const list of this.feeds.values()) for (const f of list) f.stop()
    this.feeds.clear()
    this.lostAtClose = await this.publisher.close(CLOSE_FLUSH_MS)
    // Drain sends the acks and naks above; with the engine away it would wait for ever.
    const drained = this.gauges.engineState().reachable ? this.engine.nc.drain().catch(() => undefined) : Promise.resolve()
    await Promise.race([drained, new Promise((resolve) => setTimeout(resolve, CLOSE_FLUSH_MS))])
    await this.engine.nc.close().catch(() => undefined)
  }

  /** Held messages are in progress: tell JetStream before ack_wait hands them to another node. */
  private keepAlive(): void {
    const now = Date.now()
    const due = now - this.settings.ackWait / 3
    const touch = (h: { msg: JsMsg; at: number }) => {
      if (h.at >= due) return
      h.msg.working()
      h.at = now
    }
    for (const h of this.held.values()) touch(h)
    for (const list of this.feeds.values()) for (const f of list) f.ready.forEach(touch)
  }
}

const key = (host: string, handler: string) => `${host}\0${handler}`
