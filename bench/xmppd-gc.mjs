// The bench's xmppd: dist/cli/xmppd.js with a forced full GC on SIGUSR2 (run with --expose-gc),
// so the memory benchmark can read the live heap rather than garbage awaiting collection.
process.on('SIGUSR2', () => globalThis.gc?.())
await import('../dist/cli/xmppd.js')
