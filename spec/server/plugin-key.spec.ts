// The (plugin, vhost) key of the loader, the settings and the status history: a typed pair in
// nested maps, so no part of a key can run into the other, and a key comes back as it went in.
import assert from 'node:assert/strict'
import { it } from 'node:test'
import { PluginKeyMap } from '../../lib/server/plugins/plugin-key.js'

it('keeps one value per (id, host), in insertion order, and gives the keys back as pairs', () => {
  const m = new PluginKeyMap<number>()
  m.set({ id: 'p', host: 'a.test' }, 1).set({ id: 'q', host: 'a.test' }, 2).set({ id: 'p', host: 'b.test' }, 3)
  m.set({ id: 'p', host: 'a.test' }, 4)
  assert.equal(m.size, 3)
  assert.deepEqual(
    [...m],
    [
      [{ id: 'p', host: 'a.test' }, 4],
      [{ id: 'p', host: 'b.test' }, 3],
      [{ id: 'q', host: 'a.test' }, 2],
    ],
  )
  assert.deepEqual([...m.values()], [4, 3, 2])
  assert.deepEqual([...new PluginKeyMap(m)], [...m], 'a copy')
  // Anything with id and host is a key: a plugin's settings or state as they stand.
  assert.equal(m.get({ id: 'q', host: 'a.test', enabled: true } as { id: string; host: string }), 2)
})

it('tells apart keys that joined strings would confuse', () => {
  const m = new PluginKeyMap<string>()
  m.set({ id: 'a\0b', host: 'c' }, 'first')
  m.set({ id: 'a', host: 'b\0c' }, 'second')
  assert.equal(m.size, 2)
  assert.equal(m.get({ id: 'a\0b', host: 'c' }), 'first')
  assert.equal(m.get({ id: 'a', host: 'b\0c' }), 'second')
})

it('deletes, reports what it deleted, and forgets an id with no vhost left', () => {
  const m = new PluginKeyMap<number>()
  m.set({ id: 'p', host: 'a.test' }, 1)
  assert.equal(m.delete({ id: 'p', host: 'b.test' }), false)
  assert.equal(m.delete({ id: 'p', host: 'a.test' }), true)
  assert.equal(m.has({ id: 'p', host: 'a.test' }), false)
  assert.equal(m.size, 0)
  assert.deepEqual([...m.keys()], [])
  // Deleting while iterating (the loader retires instances that way) visits each entry once.
  for (const host of ['a', 'b', 'c']) m.set({ id: 'p', host }, 0)
  const seen: string[] = []
  for (const [key] of m) {
    seen.push(key.host)
    m.delete(key)
  }
  assert.deepEqual(seen, ['a', 'b', 'c'])
  assert.equal(m.size, 0)
})
