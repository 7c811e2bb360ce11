// Failure lines are rate-limited per (handler, reason): a dead endpoint cannot flood the log.
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { FailureLog } from '../../lib/plugin/failure-log.js'
import { recordingLogger, type LogLine } from '../helpers/fake-host.js'

function setup() {
  const lines: LogLine[] = []
  let t = 1_000_000
  const log = new FailureLog(recordingLogger(lines), 10_000, () => t)
  return { lines, log, advance: (ms: number) => (t += ms) }
}

describe('FailureLog', () => {
  it('logs the first failure of a window with its details, counts the rest, summarises them', () => {
    const { lines, log, advance } = setup()
    for (let i = 0; i < 1000; i++) log.warn('h1', 'connection', { pool: 'p', n: i }, 'notification failed')
    assert.equal(lines.length, 1)
    assert.deepEqual([lines[0].level, lines[0].msg, lines[0].obj], ['warn', 'notification failed', { pool: 'p', n: 0, handler: 'h1', reason: 'connection' }])
    advance(10_000)
    log.warn('h1', 'connection', { n: 'next window' }, 'notification failed')
    log.flush()
    assert.equal(lines.length, 3)
    assert.deepEqual(
      lines.map((l) => [l.obj.suppressed, l.obj.n]),
      [
        [undefined, 0],
        [999, undefined],
        [undefined, 'next window'],
      ],
    )
  })

  it('keeps one window per handler and per reason', () => {
    const { lines, log } = setup()
    for (let i = 0; i < 10; i++) {
      log.warn('h1', 'connection', {}, 'f')
      log.warn('h1', 'status', {}, 'f')
      log.warn('h2', 'connection', {}, 'f')
    }
    assert.equal(lines.length, 3)
    log.flush()
    assert.equal(lines.length, 6)
    assert.deepEqual(
      lines.slice(3).map((l) => [l.obj.handler, l.obj.reason, l.obj.suppressed]),
      [
        ['h1', 'connection', 9],
        ['h1', 'status', 9],
        ['h2', 'connection', 9],
      ],
    )
  })

  it('writes the summary when the window ends, without waiting for another failure', async () => {
    const lines: LogLine[] = []
    const log = new FailureLog(recordingLogger(lines), 30)
    for (let i = 0; i < 5; i++) log.warn('h', 'timeout', {}, 'f')
    await new Promise((r) => setTimeout(r, 80))
    assert.deepEqual(
      lines.map((l) => l.obj.suppressed),
      [undefined, 4],
    )
    log.flush()
    assert.equal(lines.length, 2, 'nothing left to flush')
  })
})
