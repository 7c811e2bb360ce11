// The sqlite outbox's reads for operators: listings of pending rows and dead letters, and the dead
// letters a replay or a purge selects. Each query's SQL depends on which filters it has (so that
// SQLite can use an index for each); the statements are prepared once per shape.
import type Database from 'better-sqlite3'
import { jidMatcher, nextTurn, type DeadLetter } from './dead-letter.js'
import { DEAD_ROW, ROW, deadOf, type DeadRow, type Row } from './sqlite-file.js'
import type { DeliveryQuery, ReplaySelector, StoredEvent } from './outbox.js'

/** Rows a JID search reads per event-loop turn. */
const SCAN_PAGE = 2000
/** Dead letters a replay puts back per transaction (the event loop runs between two). */
const REPLAY_BATCH = 1000

export interface Selected {
  seq: number
  handler: string
}

export class DeadQueries {
  private readonly prepared = new Map<string, Database.Statement>()

  constructor(private readonly db: Database.Database) {}

  /** Pending rows of a host that match, newest first, up to `limit`. */
  pending(host: string, query: DeliveryQuery, limit: number): Promise<Row[]> {
    return this.scan<Row>('outbox', ROW, 'accepted_at', host, query, limit)
  }

  /** Dead letters of a host that match, newest first, up to `limit`. */
  async dead(host: string, query: DeliveryQuery, limit: number): Promise<DeadLetter[]> {
    return (await this.scan<DeadRow>('dead', DEAD_ROW, 'failed_at', host, query, limit)).map(deadOf)
  }

  /**
   * The dead letters a replay takes, `size` at a time (each batch read when asked for), with the
   * asked-for ids that are none. `failed`: up to the newest dead letter when it starts.
   */
  *replayable(host: string, selector: ReplaySelector, size = REPLAY_BATCH): Generator<{ rows: Selected[]; notFound: string[] }> {
    if ('ids' in selector) {
      const byId = this.statement('SELECT seq, handler FROM dead WHERE host = ? AND webhook_id = ?')
      const ids = [...new Set(selector.ids)]
      for (let i = 0; i < ids.length; i += size) {
        const rows: Selected[] = []
        const notFound: string[] = []
        for (const id of ids.slice(i, i + size)) {
          const row = byId.get(host, id) as Selected | undefined
          if (row) rows.push(row)
          else notFound.push(id)
        }
        yield { rows, notFound }
      }
      return
    }
    const [where, params] = filters(host, 'failed_at', selector)
    const last = (this.statement('SELECT max(seq) AS m FROM dead').get() as { m: number | null }).m ?? 0
    const page = this.statement(`SELECT seq, handler FROM dead WHERE ${where} AND seq > ? AND seq <= ? ORDER BY seq LIMIT ?`)
    for (let after = 0; after < last;) {
      const rows = page.all(...params, after, last, size) as Selected[]
      if (rows.length === 0) return
      yield { rows, notFound: [] }
      after = rows[rows.length - 1].seq
    }
  }

  /** Up to `max` dead letters of a host that failed before `cutoff`. */
  purgeable(host: string, cutoff: number, max: number): Selected[] {
    return this.statement('SELECT seq, handler FROM dead WHERE host = ? AND failed_at < ? LIMIT ?').all(host, cutoff, max) as Selected[]
  }

  private async scan<T extends { event: string; seq: number; accepted_at: number }>(
    table: string,
    columns: string,
    sinceColumn: string,
    host: string,
    query: DeliveryQuery,
    limit: number,
  ): Promise<T[]> {
    if (limit <= 0) return []
    const [where, params] = filters(host, sinceColumn, query)
    const match = jidMatcher(query.jid)
    const order = 'ORDER BY accepted_at DESC, seq DESC LIMIT ?'
    // Without a JID, SQL stops at the limit. With one, rows are read newest first, a page per
    // event-loop turn, until enough match: a long search does not hold the loop.
    if (!match) return this.statement(`SELECT ${columns} FROM ${table} WHERE ${where} ${order}`).all(...params, limit) as T[]
    const first = this.statement(`SELECT ${columns} FROM ${table} WHERE ${where} ${order}`)
    const next = this.statement(`SELECT ${columns} FROM ${table} WHERE ${where} AND (accepted_at, seq) < (?, ?) ${order}`)
    const out: T[] = []
    for (let rows = first.all(...params, SCAN_PAGE) as T[]; ;) {
      for (const row of rows) {
        if (match(JSON.parse(row.event) as StoredEvent)) out.push(row)
        if (out.length >= limit) return out
      }
      if (rows.length < SCAN_PAGE || !this.db.open) return out
      await nextTurn()
      const last = rows[rows.length - 1]
      rows = next.all(...params, last.accepted_at, last.seq, SCAN_PAGE) as T[]
    }
  }

  private statement(sql: string): Database.Statement {
    let s = this.prepared.get(sql)
    if (!s) this.prepared.set(sql, (s = this.db.prepare(sql)))
    return s
  }
}

/** The WHERE clause of a host's rows with a handler and a since, when given. */
function filters(host: string, sinceColumn: string, f: { handler?: string; since?: number }): [string, unknown[]] {
  const where = ['host = ?']
  const params: unknown[] = [host]
  if (f.handler !== undefined) {
    where.push('handler = ?')
    params.push(f.handler)
  }
  if (f.since !== undefined) {
    where.push(`${sinceColumn} >= ?`)
    params.push(f.since)
  }
  return [where.join(' AND '), params]
}
