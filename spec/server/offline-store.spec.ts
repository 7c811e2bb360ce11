// The offline storage file on its own: order per account, counts per account and per vhost kept
// across a reopen, removal up to an id, and one process at a time.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import path from 'node:path'
import { writeFileSync } from 'node:fs'
import { openOfflineStore } from '../../lib/server/xmpp/offline/store.js'
import { tempDir } from '../helpers/temp-dir.js'

test('messages come back per account, oldest first, in pages; remove takes them up to an id', () => {
  const file = path.join(tempDir('offline-store-'), 'offline.sqlite')
  const store = openOfflineStore(file)
  for (let i = 0; i < 5; i++) store.put('bob@a.test', `<message><body>b${i}</body></message>`, 1000 + i, 'alice@a.test/r')
  store.put('carl@b.test', '<message><body>c0</body></message>', 2000, '')
  assert.equal(store.count('bob@a.test'), 5)
  assert.equal(store.count('carl@b.test'), 1)
  assert.equal(store.count('nobody@a.test'), 0)
  assert.equal(store.countOnHost('a.test'), 5)
  assert.equal(store.countOnHost('b.test'), 1)
  const page1 = store.list('bob@a.test', 0, 3)
  assert.deepEqual(
    page1.map((r) => [r.stanza, r.stamp, r.sender]),
    [0, 1, 2].map((i) => [`<message><body>b${i}</body></message>`, 1000 + i, 'alice@a.test/r']),
  )
  const page2 = store.list('bob@a.test', page1[2].id, 3)
  assert.deepEqual(
    page2.map((r) => r.stanza),
    ['<message><body>b3</body></message>', '<message><body>b4</body></message>'],
  )
  assert.equal(store.remove('bob@a.test', page1[2].id), 3)
  assert.equal(store.count('bob@a.test'), 2)
  assert.equal(store.countOnHost('a.test'), 2)
  assert.equal(store.remove('carl@b.test', page1[2].id), 0, "ids of another account's rows do not remove carl's")
  assert.equal(store.count('carl@b.test'), 1)
  store.close()

  const again = openOfflineStore(file)
  assert.equal(again.count('bob@a.test'), 2, 'counts read back at open')
  assert.equal(again.countOnHost('b.test'), 1)
  assert.deepEqual(
    again.list('bob@a.test').map((r) => r.stanza),
    ['<message><body>b3</body></message>', '<message><body>b4</body></message>'],
  )
  const next = again.put('bob@a.test', '<message><body>b5</body></message>', 3000, '')
  assert.ok(next > page2[1].id, 'ids keep growing after a reopen')
  again.close()
})

test('a second opener of the same file is refused with XMPPD_ERR_OFFLINE_FILE naming it', () => {
  const file = path.join(tempDir('offline-store-'), 'offline.sqlite')
  const store = openOfflineStore(file)
  try {
    assert.throws(
      () => openOfflineStore(file),
      (err: Error & { code?: string }) => err.code === 'XMPPD_ERR_OFFLINE_FILE' && err.message.includes(file) && /another process/.test(err.message),
    )
  } finally {
    store.close()
  }
})

test('a file that is not a database is refused with XMPPD_ERR_OFFLINE_FILE', () => {
  const file = path.join(tempDir('offline-store-'), 'offline.sqlite')
  writeFileSync(file, 'not a database, just text that is long enough to have a header'.repeat(20))
  assert.throws(
    () => openOfflineStore(file),
    (err: Error & { code?: string }) => err.code === 'XMPPD_ERR_OFFLINE_FILE' && /not a usable SQLite database/.test(err.message),
  )
})
