// 11. Offline storage with 100,000 kept messages: 10 senders write chat messages to 100 accounts
// that never log in (1,000 each, general.max_offline_messages' default), no plugin. The live heap
// is read after a forced full GC at start, after 50k and after 100k: equal when nothing but the
// per-account counts stays in memory. Then each account logs in and gets its 1,000 messages
// (delivery reads 500 rows at a time): the heap after that says delivery does not hold them either.
import { statSync } from 'node:fs'
import path from 'node:path'
import { RawXmpp } from '../spec/helpers/raw-xmpp.js'
import { chatStanza, sample, startServerProcess, waitUntil } from './support.js'

const SENDERS = 10
const ACCOUNTS = 100
const PER_ACCOUNT = 1000
const TOTAL = ACCOUNTS * PER_ACCOUNT

export interface OfflineMemoryResult {
  kept: number
  refused: number
  delivered: number
  keep_seconds: number
  kept_per_second: number
  live_heap_start_mb: number
  live_heap_after_50k_mb: number
  live_heap_after_100k_mb: number
  live_heap_after_delivery_mb: number
  /** Live heap growth from 50k to 100k kept (MB), and per kept message (bytes). */
  growth_50k_mb: number
  bytes_per_kept: number
  rss_start_mb: number
  rss_end_mb: number
  /** offline.sqlite and its WAL after 100k. */
  file_mb: number
}

export async function offlineMemory(): Promise<OfflineMemoryResult> {
  const users: Record<string, string> = {}
  for (let i = 0; i < SENDERS; i++) users[`s${i}@localhost`] = 'pw'
  for (let j = 0; j < ACCOUNTS; j++) users[`o${j}@localhost`] = 'pw'
  const server = await startServerProcess(0, users, '')
  const clients: RawXmpp[] = []
  try {
    const senders = await Promise.all(
      Array.from({ length: SENDERS }, async (_, i) => {
        const raw = await RawXmpp.connect(server.c2sPort)
        clients.push(raw)
        await raw.login(`s${i}`, 'pw', 'bench')
        raw.onText(() => undefined) // errors (none expected) read and dropped
        return raw
      }),
    )
    const mb = () => server.rssBytes() / 1048576
    const live = async () => (await server.liveHeapBytes()) / 1048576
    const stored = async () => sample(await server.metrics(), 'xmppd_offline_messages_stored_total', { host: 'localhost' })
    const live_heap_start_mb = await live()
    const rss_start_mb = mb()
    // Each sender covers 10 accounts; half of every account's messages in each round.
    const round = async (half: number) => {
      await Promise.all(
        senders.map(async (raw, i) => {
          for (let k = 0; k < PER_ACCOUNT / 2; k++) {
            let batch = ''
            for (let a = 0; a < ACCOUNTS / SENDERS; a++) batch += chatStanza(`o${i * (ACCOUNTS / SENDERS) + a}@localhost`, `m${half}-${k}`)
            if (!raw.write(batch)) await raw.drained()
          }
        }),
      )
      await waitUntil(async () => (await stored()) >= (TOTAL / 2) * (half + 1), 300_000)
    }
    // Timed without the GC pauses between the rounds.
    const t0 = performance.now()
    await round(0)
    const first = performance.now() - t0
    const live_heap_after_50k_mb = await live()
    const t1 = performance.now()
    await round(1)
    const keep_seconds = (first + performance.now() - t1) / 1000
    const live_heap_after_100k_mb = await live()
    const dataDir = path.join(path.dirname(server.configFile), 'xmppd-data')
    const size = (f: string) => {
      try {
        return statSync(path.join(dataDir, f)).size
      } catch {
        return 0
      }
    }
    const file_mb = (size('offline.sqlite') + size('offline.sqlite-wal')) / 1048576
    const text = await server.metrics()
    const kept = sample(text, 'xmppd_offline_messages_stored_total', { host: 'localhost' })
    const refused = sample(text, 'xmppd_offline_messages_refused_total', { host: 'localhost' })
    // Every account logs in, 10 at a time, and counts what it gets.
    for (let j = 0; j < ACCOUNTS; j += 10) {
      await Promise.all(
        Array.from({ length: 10 }, async (_, d) => {
          const raw = await RawXmpp.connect(server.c2sPort)
          clients.push(raw)
          await raw.login(`o${j + d}`, 'pw', 'bench')
          let got = 0
          let carry = ''
          raw.onText((chunk) => {
            const text = carry + chunk
            for (let at = text.indexOf('</message>'); at !== -1; at = text.indexOf('</message>', at + 10)) got++
            carry = text.slice(-9)
          })
          raw.send('<presence/>')
          await waitUntil(() => got >= PER_ACCOUNT, 120_000)
          raw.close()
        }),
      )
    }
    const delivered = sample(await server.metrics(), 'xmppd_offline_messages_delivered_total', { host: 'localhost' })
    const live_heap_after_delivery_mb = await live()
    const growth_50k_mb = live_heap_after_100k_mb - live_heap_after_50k_mb
    return {
      kept,
      refused,
      delivered,
      keep_seconds,
      kept_per_second: kept / keep_seconds,
      live_heap_start_mb,
      live_heap_after_50k_mb,
      live_heap_after_100k_mb,
      live_heap_after_delivery_mb,
      growth_50k_mb,
      bytes_per_kept: (growth_50k_mb * 1048576) / (TOTAL / 2),
      rss_start_mb,
      rss_end_mb: mb(),
      file_mb,
    }
  } finally {
    for (const c of clients) c.close()
    await server.stop()
  }
}
