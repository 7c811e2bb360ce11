// What xmppd and `xmppd deliver` share as processes: how a bad start ends (the message and the
// exit code), and the signals: SIGINT/SIGTERM stop gracefully (a second one exits at once),
// SIGHUP re-reads the config file like `xmppctl reload` (a bad file changes nothing).
import type { Logger } from '../contract.js'

export function fail(message: string, code: number): never {
  process.stderr.write(`xmppd: ${message}\n`)
  process.exit(code)
}

/** A --*-port value: 0-65535 (0: any free port), else bad usage (exit 2). */
export function port(value: string | undefined, flag: string): number | undefined {
  if (value === undefined) return undefined
  const n = Number(value)
  if (!Number.isInteger(n) || n < 0 || n > 65535) fail(`${flag}: "${value}" is not a port (0-65535)`, 2)
  return n
}

/** A config that cannot run: every problem with its path, exit 1; so is a port that cannot be bound. */
export function reportStartError(err: unknown): never {
  const e = err as { code?: string; errors?: Array<{ message: string }>; message?: string }
  if (e?.code === 'XMPPD_ERR_CONFIG') {
    const lines = e.errors ? e.errors.map((x) => x.message) : [e.message ?? String(err)]
    fail(`invalid configuration:\n${lines.map((l) => `  ${l}`).join('\n')}`, 1)
  }
  if (e?.code === 'EADDRINUSE' || e?.code === 'EACCES' || e?.code === 'EADDRNOTAVAIL') fail(`cannot listen: ${e.message}`, 1)
  fail(`cannot start: ${(err as Error)?.stack ?? String(err)}`, 1)
}

export interface Running {
  log: Logger
  reload(): Promise<unknown>
  stop(): Promise<void>
}

/** Installs the signal handlers; `after` runs once the server has stopped (the demo receiver closes). */
export function handleSignals(server: Running, after: () => Promise<void> = async () => undefined): void {
  let signals = 0
  const shutdown = async (signal: string) => {
    if (++signals > 1) process.exit(1)
    server.log.info({ signal }, 'signal received')
    try {
      await server.stop()
      await after()
    } finally {
      process.exit(0)
    }
  }
  process.on('SIGHUP', () => {
    server.reload().then(
      () => undefined,
      (err: { errors?: Array<{ message: string }>; message?: string }) =>
        server.log.error({ errors: err.errors?.map((e) => e.message) ?? [err.message] }, 'reload refused: the running config is kept'),
    )
  })
  process.on('SIGINT', () => void shutdown('SIGINT'))
  process.on('SIGTERM', () => void shutdown('SIGTERM'))
}
