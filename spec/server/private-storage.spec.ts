// XEP-0049 private XML storage on the real server with @xmpp/client: XEP-0048 bookmarks stored and
// read back (another resource, across a restart), only by the account itself; reserved namespaces
// and wrong shapes refused; the size bounds; a private.sqlite that is not a database stops the start.
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { mkdirSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { connectClient, xml, type TestClient } from '../helpers/client.js'
import { configToml, startTestServer, startTestServerAt, writeConfig, type TestServer } from '../helpers/xmppd.js'

const NS_PRIVATE = 'jabber:iq:private'
const NS_BOOKMARKS = 'storage:bookmarks'
let server: TestServer

before(async () => {
  server = await startTestServer({ maxStanzaSize: 400 * 1024 })
})
after(() => server.stop())

const bookmarks = (name: string) =>
  xml('storage', { xmlns: NS_BOOKMARKS }, xml('conference', { name, autojoin: 'true', jid: 'council@conference.localhost' }, xml('nick', {}, 'alice')))
const setPrivate = (c: TestClient, ...els: any[]) => c.iq(xml('iq', { type: 'set' }, xml('query', { xmlns: NS_PRIVATE }, ...els)))
const getPrivate = (c: TestClient, el: any, to?: string) => c.iq(xml('iq', { type: 'get', ...(to ? { to } : {}) }, xml('query', { xmlns: NS_PRIVATE }, el)))
const condition = (iq: any) => iq.getChild('error')?.children.find((c: any) => typeof c !== 'string' && c.name !== 'text')?.name

test('XEP-0048 bookmarks are stored, read back from another resource and survive a restart', async () => {
  const phone = await connectClient(server.c2sPort, 'alice@localhost', 'alice-pw', { resource: 'phone' })
  const laptop = await connectClient(server.c2sPort, 'alice@localhost', 'alice-pw', { resource: 'laptop' })
  try {
    const empty = await getPrivate(laptop, xml('storage', { xmlns: NS_BOOKMARKS }))
    assert.equal(empty.attrs.type, 'result')
    const none = empty.getChild('query', NS_PRIVATE).getChild('storage', NS_BOOKMARKS)
    assert.ok(none, 'nothing stored: the requested element comes back')
    assert.equal(none.children.length, 0)

    const set = await setPrivate(phone, bookmarks('The Council'))
    assert.equal(set.attrs.type, 'result', String(set))
    const got = await getPrivate(laptop, xml('storage', { xmlns: NS_BOOKMARKS }), 'alice@localhost')
    assert.equal(got.attrs.type, 'result')
    const conf = got.getChild('query', NS_PRIVATE).getChild('storage', NS_BOOKMARKS).getChild('conference')
    assert.deepEqual(conf.attrs, { name: 'The Council', autojoin: 'true', jid: 'council@conference.localhost' })
    assert.equal(conf.getChildText('nick'), 'alice')

    // A set replaces what the namespace kept; other namespaces are left alone.
    assert.equal((await setPrivate(phone, xml('prefs', { xmlns: 'exodus:prefs' }, xml('defaultnick', {}, 'Hamlet')))).attrs.type, 'result')
    assert.equal((await setPrivate(phone, bookmarks('Renamed'))).attrs.type, 'result')
    const again = await getPrivate(laptop, xml('storage', { xmlns: NS_BOOKMARKS }))
    assert.deepEqual(
      again
        .getChild('query', NS_PRIVATE)
        .getChild('storage', NS_BOOKMARKS)
        .getChildren('conference')
        .map((c: any) => c.attrs.name),
      ['Renamed'],
    )
    const prefs = await getPrivate(laptop, xml('prefs', { xmlns: 'exodus:prefs' }))
    assert.equal(prefs.getChild('query', NS_PRIVATE).getChild('prefs', 'exodus:prefs').getChildText('defaultnick'), 'Hamlet')
  } finally {
    await phone.stop()
    await laptop.stop()
  }

  const first = await startTestServer()
  const alice = await connectClient(first.c2sPort, 'alice@localhost', 'alice-pw')
  assert.equal((await setPrivate(alice, bookmarks('Kept across a restart'))).attrs.type, 'result')
  await alice.stop()
  await first.stop()
  const second = await startTestServerAt(first.configFile)
  try {
    const back = await connectClient(second.c2sPort, 'alice@localhost', 'alice-pw')
    const got = await getPrivate(back, xml('storage', { xmlns: NS_BOOKMARKS }))
    assert.equal(got.getChild('query', NS_PRIVATE).getChild('storage', NS_BOOKMARKS).getChild('conference').attrs.name, 'Kept across a restart')
    await back.stop()
  } finally {
    await second.stop()
  }
})

test("private storage is the account's own: another account reads its own (empty) storage and is forbidden alice's", async () => {
  const alice = await connectClient(server.c2sPort, 'alice@localhost', 'alice-pw', { resource: 'own' })
  const bob = await connectClient(server.c2sPort, 'bob@localhost', 'bob-pw')
  try {
    assert.equal((await setPrivate(alice, bookmarks('Alice only'))).attrs.type, 'result')
    const own = await getPrivate(bob, xml('storage', { xmlns: NS_BOOKMARKS }))
    assert.equal(own.getChild('query', NS_PRIVATE).getChild('storage', NS_BOOKMARKS).children.length, 0)
    const read = await getPrivate(bob, xml('storage', { xmlns: NS_BOOKMARKS }), 'alice@localhost')
    assert.equal(read.attrs.type, 'error')
    assert.equal(condition(read), 'forbidden')
    const write = await bob.iq(xml('iq', { type: 'set', to: 'alice@localhost' }, xml('query', { xmlns: NS_PRIVATE }, bookmarks('Bob was here'))))
    assert.equal(condition(write), 'forbidden')
    const still = await getPrivate(alice, xml('storage', { xmlns: NS_BOOKMARKS }))
    assert.equal(still.getChild('query', NS_PRIVATE).getChild('storage', NS_BOOKMARKS).getChild('conference').attrs.name, 'Alice only')
  } finally {
    await alice.stop()
    await bob.stop()
  }
})

test('reserved namespaces are not-acceptable; an empty query, a get of two namespaces, an element without xmlns are bad-request', async () => {
  const carol = await connectClient(server.c2sPort, 'carol@localhost', 'carol-pw')
  try {
    for (const ns of ['vcard-temp', 'jabber:iq:roster', 'http://jabber.org/protocol/disco#info']) {
      const set = await setPrivate(carol, xml('x', { xmlns: ns }, xml('FN', {}, 'Carol')))
      assert.equal(condition(set), 'not-acceptable', `set ${ns}`)
      assert.equal(condition(await getPrivate(carol, xml('x', { xmlns: ns }))), 'not-acceptable', `get ${ns}`)
    }
    assert.equal(condition(await carol.iq(xml('iq', { type: 'set' }, xml('query', { xmlns: NS_PRIVATE })))), 'bad-request')
    assert.equal(condition(await carol.iq(xml('iq', { type: 'get' }, xml('query', { xmlns: NS_PRIVATE })))), 'bad-request')
    const two = await carol.iq(xml('iq', { type: 'get' }, xml('query', { xmlns: NS_PRIVATE }, xml('a', { xmlns: 'a:a' }), xml('b', { xmlns: 'b:b' }))))
    assert.equal(condition(two), 'bad-request')
    // Without its own xmlns the element is in jabber:iq:private itself: refused, nothing stored.
    assert.equal(condition(await setPrivate(carol, xml('loose', {}, 'x'))), 'bad-request')
  } finally {
    await carol.stop()
  }
})

test('the bounds: 64 KiB per namespace, 256 KiB per account (policy-violation, nothing kept)', async () => {
  const bob = await connectClient(server.c2sPort, 'bob@localhost', 'bob-pw', { resource: 'bounds' })
  try {
    const big = (ns: string, n: number) => xml('blob', { xmlns: ns }, 'x'.repeat(n))
    const tooBig = await setPrivate(bob, big('test:big', 64 * 1024))
    assert.equal(condition(tooBig), 'policy-violation')
    assert.match(tooBig.getChild('error').getChildText('text'), /65536 bytes per namespace/)
    const kept = await getPrivate(bob, xml('blob', { xmlns: 'test:big' }))
    assert.equal(kept.getChild('query', NS_PRIVATE).getChild('blob', 'test:big').children.length, 0, 'nothing was kept')
    // Four namespaces of 60 000 characters fit in 256 KiB; a fifth does not, replacing one does.
    for (const i of [1, 2, 3, 4]) assert.equal((await setPrivate(bob, big(`test:n${i}`, 60000))).attrs.type, 'result', `namespace ${i}`)
    const fifth = await setPrivate(bob, big('test:n5', 60000))
    assert.equal(condition(fifth), 'policy-violation')
    assert.match(fifth.getChild('error').getChildText('text'), /262144 bytes per account/)
    assert.equal((await setPrivate(bob, big('test:n4', 50000))).attrs.type, 'result', 'a replacement counts without the old value')
  } finally {
    await bob.stop()
  }
})

test('a private.sqlite that is not a database stops the start with XMPPD_ERR_PRIVATE_FILE', async () => {
  const file = writeConfig(configToml())
  const dataDir = path.join(path.dirname(file), 'xmppd-data')
  mkdirSync(dataDir, { recursive: true })
  writeFileSync(path.join(dataDir, 'private.sqlite'), 'not a database, just text '.repeat(200))
  await assert.rejects(startTestServerAt(file), (err: Error & { code?: string }) => {
    assert.equal(err.code, 'XMPPD_ERR_PRIVATE_FILE')
    assert.match(err.message, /private\.sqlite: not a usable SQLite database/)
    return true
  })
})
