// The sqlite outbox's reads for operators: listings of pending rows and dead letters, and the dead
// letters a replay or a purge selects. Each query's SQL depends on which filters it has (so that
// SQLite can use an index for each); the statements are prepared once per shape.
import type Database from 'better-sqlite3'
import { jidMatcher, type DeadLetter } from './dead-letter.js'
import { DEAD_ROW, ROW, deadOf, type DeadRow, type Row } from './sqlite-file.js'
import type { DeliveryQuery, ReplaySelector, StoredEvent } from './outbox.js'

export interface Selected {
  seq: number
  handler: string
}

export class DeadQueries {
  private readonly prepared = new Map<string, Database.Statement>()

  constructor(private readonly db: Database.Database) {}

  /** Pending rows of a host that match, newest first, up to `limit`. */
  pending(host: string, query: DeliveryQuery, limit: number): Row[] {
    return this.scan<Row>('outbox', ROW, 'accepted_at', host, query, limit)
  }

  /** Dead letters of a host that match, newest first, up to `limit`. */
  dead(host: string, query: DeliveryQuery, limit: number): DeadLetter[] {
    return this.scan<DeadRow>('dead', DEAD_ROW, 'failed_at', host, query, limit).map(deadOf)
  }

  /** The dead letters a replay takes, and the asked-for ids that are none. */
  select(host: string, selector: ReplaySelector): { rows: Selected[]; notFound: string[] } {
    if ('ids' in selector) {
      const byId = this.statement('SELECT seq, handler FROM dead WHERE host = ? AND webhook_id = ?')
      const rows: Selected[] = []
      const notFound: string[] = []
      for (const id of new Set(selector.ids)) {
        const row = byId.get(host, id) as Selected | undefined
        if (row) rows.push(row)
        else notFound.push(id)
      }
      return { rows, notFound }
    }
    const [where, params] = filters(host, 'failed_at', selector)
    return { rows: this.statement(`SELECT seq, handler FROM dead WHERE ${where}`).all(...params) as Selected[], notFound: [] }
  }

  /** Up to `max` dead letters of a host that failed before `cutoff`. */
  purgeable(host: string, cutoff: number, max: number): Selected[] {
    return this.statement('SELECT seq, handler FROM dead WHERE host = ? AND failed_at < ? LIMIT ?').all(host, cutoff, max) as Selected[]
  }

  private scan<T extends { event: string; seq: number; accepted_at: number }>(
    table: string,
    columns: string,
    sinceColumn: string,
    host: string,
    query: DeliveryQuery,
    limit: number,
  ): T[] {
    if (limit <= 0) return []
    const [where, params] = filters(host, sinceColumn, query)
    const match = jidMatcher(query.jid)
    const sql = `SELECT ${columns} FROM ${table} WHERE ${where} ORDER BY accepted_at DESC, seq DESC`
    // Without a JID, SQL stops at the limit; with one, rows are read newest first until enough match.
    if (!match) return this.statement(`${sql} LIMIT ?`).all(...params, limit) as T[]
    const out: T[] = []
    for (const row of this.statement(sql).iterate(...params) as IterableIterator<T>) {
      if (!match(JSON.parse(row.event) as StoredEvent)) continue
      out.push(row)
      if (out.length >= limit) break
    }
    return out
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
