// blocking.sqlite on its own (lib/server/xmpp/blocking/store.ts): lists kept in order, block and
// unblock return what changed, a reopen reads them back, a second opener and a file that is not a
// database are refused with XMPPD_ERR_BLOCKING_FILE naming the file.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { writeFileSync } from 'node:fs'
import path from 'node:path'
import { openBlockingStore } from '../../lib/server/xmpp/blocking/store.js'
import { tempDir } from '../helpers/temp-dir.js'

test('block and unblock return what changed; a reopen reads the lists back in order', () => {
  const file = path.join(tempDir('blocking-store-'), 'blocking.sqlite')
  const store = openBlockingStore(file)
  assert.deepEqual(store.block('alice@localhost', ['bob@localhost', 'evil.example', 'bob@localhost']), ['bob@localhost', 'evil.example'])
  assert.deepEqual(store.block('alice@localhost', ['bob@localhost', 'carol@localhost']), ['carol@localhost'])
  assert.deepEqual(store.block('dan@localhost', ['bob@localhost']), ['bob@localhost'])
  assert.deepEqual(store.unblock('alice@localhost', ['evil.example', 'nobody@localhost']), ['evil.example'])
  assert.equal(store.has('alice@localhost', 'evil.example'), false)
  store.close()
  const again = openBlockingStore(file)
  try {
    assert.deepEqual(again.list('alice@localhost'), ['bob@localhost', 'carol@localhost'])
    assert.deepEqual(again.list('dan@localhost'), ['bob@localhost'])
    assert.deepEqual(again.unblock('dan@localhost', null), ['bob@localhost'])
    assert.deepEqual(again.list('dan@localhost'), [])
    assert.deepEqual(again.unblock('dan@localhost', null), [])
  } finally {
    again.close()
  }
})

test('a second opener of the same file is refused with XMPPD_ERR_BLOCKING_FILE naming it', () => {
  const file = path.join(tempDir('blocking-store-'), 'blocking.sqlite')
  const store = openBlockingStore(file)
  try {
    assert.throws(
      () => openBlockingStore(file),
      (err: Error & { code?: string }) => err.code === 'XMPPD_ERR_BLOCKING_FILE' && err.message.includes(file) && /another process/.test(err.message),
    )
  } finally {
    store.close()
  }
})

test('a file that is not a database is refused with XMPPD_ERR_BLOCKING_FILE', () => {
  const file = path.join(tempDir('blocking-store-'), 'blocking.sqlite')
  writeFileSync(file, 'not a database, just text that is long enough to have a header'.repeat(20))
  assert.throws(
    () => openBlockingStore(file),
    (err: Error & { code?: string }) => err.code === 'XMPPD_ERR_BLOCKING_FILE' && /not a usable SQLite database/.test(err.message),
  )
})
