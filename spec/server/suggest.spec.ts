// "Did you mean": the closest known name, only when it is close (at most two edits, a swap of
// neighbours counting as one, and more than 40 % of the longer name intact).
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { closest, didYouMean } from '../../lib/server/config/suggest.js'

const KEYS = ['pool_name', 'path', 'callback_module', 'max_queue', 'drain_timeout', 'retries', 'handlers']

test('near misses: a dropped, added, changed or swapped letter, or another case', () => {
  assert.equal(closest('pool_nme', KEYS), 'pool_name')
  assert.equal(closest('pool_namee', KEYS), 'pool_name')
  assert.equal(closest('max_queue_', KEYS), 'max_queue')
  assert.equal(closest('paht', KEYS), 'path', 'a swap is one edit')
  assert.equal(closest('retires', KEYS), 'retries')
  assert.equal(closest('Pool_Name', KEYS), 'pool_name')
  assert.equal(closest('mod_event_pusher_htp', ['mod_event_pusher_http']), 'mod_event_pusher_http')
})

test('far ones get nothing', () => {
  assert.equal(closest('bogus', KEYS), undefined)
  assert.equal(closest('colour', ['hosts', 'admins', 'loglevel']), undefined)
  assert.equal(closest('mod_nothing', ['mod_event_pusher_http']), undefined)
  assert.equal(closest('x', ['ip']), undefined, 'two edits of two letters leave nothing of the name')
  assert.equal(closest('pth', ['ip']), undefined)
  assert.equal(closest('pool', []), undefined)
})

test('the closest wins; an exact match is not a suggestion', () => {
  assert.equal(closest('porrt', ['sort', 'port']), 'port')
  assert.equal(closest('path', ['path']), undefined)
  assert.equal(didYouMean('paht', KEYS), '; did you mean "path"?')
  assert.equal(didYouMean('bogus', KEYS), '')
})
