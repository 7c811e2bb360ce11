// parseTime, the `--since TIME` of xmppctl and the `time` arguments of admin commands: ISO 8601
// (no offset: UTC) or relative to now, anything else an error naming the forms.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { parseTime } from '../../lib/server/plugins/time-arg.js'

const now = Date.UTC(2024, 4, 10, 12, 0, 0)
const iso = (text: string) => {
  const at = parseTime(text, now)
  return at instanceof Error ? at.message : at.toISOString()
}

test('relative: 45s, 30m, 2h, 7d before now', () => {
  assert.equal(iso('45s'), '2024-05-10T11:59:15.000Z')
  assert.equal(iso('30m'), '2024-05-10T11:30:00.000Z')
  assert.equal(iso('2h'), '2024-05-10T10:00:00.000Z')
  assert.equal(iso('7d'), '2024-05-03T12:00:00.000Z')
  assert.equal(iso('0s'), '2024-05-10T12:00:00.000Z')
  assert.equal(iso(' 2h '), '2024-05-10T10:00:00.000Z')
})

test('ISO 8601: a date, minutes, seconds, fractions, Z or an offset; no offset is UTC', () => {
  assert.equal(iso('2024-05-01'), '2024-05-01T00:00:00.000Z')
  assert.equal(iso('2024-05-01T10:00'), '2024-05-01T10:00:00.000Z')
  assert.equal(iso('2024-05-01 10:00:30'), '2024-05-01T10:00:30.000Z')
  assert.equal(iso('2024-05-01T10:00:30.25Z'), '2024-05-01T10:00:30.250Z')
  assert.equal(iso('2024-05-01T12:00+02:00'), '2024-05-01T10:00:00.000Z')
  assert.equal(iso('2024-05-01T08:30:00-0130'), '2024-05-01T10:00:00.000Z')
  assert.equal(iso('2024-05-01T12:00:00+02'), '2024-05-01T10:00:00.000Z')
  assert.equal(iso('2024-02-29T00:00Z'), '2024-02-29T00:00:00.000Z')
})

test('anything else is an error that names the accepted forms or what is wrong', () => {
  for (const text of ['', 'yesterday', '2h ago', '-2h', '2w', '1.5h', '2024-5-1', '2024-05-01T10', '10:00', '2024-05-01T10:00:00ZZ']) {
    assert.match(iso(text), /is not a time: use ISO 8601 .* or relative \(45s, 30m, 2h, 7d\)$/, text)
  }
  for (const text of ['2023-02-29', '2024-13-01', '2024-04-31', '2024-05-01T24:00', '2024-05-01T10:60', '2024-05-01T10:00:61']) {
    assert.match(iso(text), /is not a time: no such date or time of day$/, text)
  }
  assert.match(iso('2024-05-01T10:00+25:00'), /offset \+25:00 out of range/)
  assert.match(iso('1969-12-31'), /out of range/)
  assert.match(iso('999999999d'), /out of range/)
})
