// What went wrong with the outbox file, in words an operator can act on: its path and the cause,
// from SQLite's error codes.
import { PUSH_ERR_OUTBOX_FILE } from '../../errors.js'

/** Why the file cannot serve as an outbox (PUSH_ERR_OUTBOX_FILE); `file` is its path. */
export class OutboxFileError extends PUSH_ERR_OUTBOX_FILE {
  constructor(
    readonly file: string,
    reason: string,
    options?: ErrorOptions,
  ) {
    super(file, reason, options)
  }
}

export function fileError(file: string, err: unknown): OutboxFileError {
  if (err instanceof OutboxFileError) return err
  const e = err as { code?: string; message?: string }
  const reason =
    e.code === 'SQLITE_BUSY' || e.code === 'SQLITE_LOCKED'
      ? 'in use by another process (another xmppd on the same data_dir?); each node needs its own data_dir'
      : e.code === 'SQLITE_NOTADB' || e.code === 'SQLITE_CORRUPT'
        ? `not a usable SQLite database (${e.message}); move it aside to start with an empty outbox`
        : e.code === 'SQLITE_CANTOPEN' || e.code === 'SQLITE_READONLY' || e.code === 'SQLITE_IOERR' || e.code === 'SQLITE_FULL'
          ? `cannot be opened or written (${e.message})`
          : (e.message ?? String(err))
  return new OutboxFileError(file, reason, { cause: err })
}
