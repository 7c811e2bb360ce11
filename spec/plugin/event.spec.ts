// The event as the outbox keeps it, and back: what a try rebuilds from a stored event must be
// what the hook saw, with or without the stanza's XML, through JSON and through the sqlite file;
// unicode and XML's special characters included, in bodies, ids and JIDs.
import assert from 'node:assert/strict'
import path from 'node:path'
import { describe, it } from 'node:test'
import { fileURLToPath } from 'node:url'
import { jid } from '@xmpp/jid'
import { loadCallbackModule } from '../../lib/plugin/callback-module.js'
import { pushEventOf, storedMessage, storedPresence } from '../../lib/plugin/event.js'
import { createFilter } from '../../lib/plugin/filter.js'
import { Handler } from '../../lib/plugin/handler.js'
import { messageEvent, requestParts, type PushEvent, type RequestShape } from '../../lib/plugin/payload.js'
import type { StoredEvent } from '../../lib/plugin/outbox/outbox.js'
import { SqliteOutbox } from '../../lib/plugin/outbox/sqlite.js'
import { tempDataDir } from '../helpers/fake-host.js'
import { element, message, sent, type Sent } from '../helpers/stanza.js'

const fixtures = fileURLToPath(new URL('../fixtures/', import.meta.url))
const TRICKY = `a & b < c > d " e ' f ]]> ✓ 日本語 🎉 é\nnext line\ttab &amp; <body/>`
const TRICKY_ID = `id&<>"'✓🎉`
const at = 1_700_000_000_123

/** Through what a file or a broker holds: plain JSON. */
const throughJson = (ev: StoredEvent): StoredEvent => JSON.parse(JSON.stringify(ev))

/** A PushEvent's plain parts, comparable with deepEqual (JIDs as strings, the packet apart). */
function plain(ev: PushEvent) {
  const { notification: n, from, to, ...rest } = ev
  return {
    ...rest,
    from: from.toString(),
    to: to.toString(),
    notification: n && { host: n.host, sender: n.sender, receiver: n.receiver, message: n.message, from: n.from.toString(), to: n.to.toString() },
  }
}

/** A stanza with more than the plugin reads: attributes, a namespaced child, a thread. */
function rich(body: string, id: string, from = 'ålice@a.test/résource ✓', to = 'bøb@a.test/laptop'): Sent {
  const m = element('message', { to, type: 'chat', id, 'xml:lang': 'en', 'data-x': `v${TRICKY}` })
  m.c('body').t(body).up().c('thread').t('t-1').up().c('x', { xmlns: 'urn:example:extra', n: '1' }).t('extra & <text>')
  return sent(m, from)
}

describe('stored message', () => {
  it('without its stanza: every field comes back, and a stand-in packet carries them', () => {
    const s = message('alice@a.test/phone', 'bob@a.test', TRICKY)
    s.packet.attrs.id = TRICKY_ID
    const stored = throughJson(storedMessage(s.packet, s.from, s.to, at, false))
    assert.equal(stored.stanza, null)
    const back = pushEventOf('a.test', stored)
    assert.deepEqual(plain(back), plain(messageEvent('a.test', s.packet, s.from, s.to, at)))
    const packet = back.notification!.packet
    assert.equal(packet.name, 'message')
    assert.deepEqual({ ...packet.attrs }, { from: 'alice@a.test/phone', to: 'bob@a.test', type: 'chat', id: TRICKY_ID })
    assert.equal(packet.getChildText('body'), TRICKY)
  })

  it('without a body, an id or a type: null, null and "normal", as the hook saw them', () => {
    const m = element('message', { to: 'a.test' })
    const s = sent(m, 'alice@a.test')
    const back = pushEventOf('a.test', throughJson(storedMessage(s.packet, s.from, s.to, at, false)))
    assert.deepEqual(plain(back), plain(messageEvent('a.test', s.packet, s.from, s.to, at)))
    assert.deepEqual([back.type, back.id, back.body, back.notification!.receiver, back.notification!.message], ['normal', null, null, '', ''])
    assert.equal(back.notification!.packet.getChildText('body'), null)
  })

  it('with its stanza: the packet comes back whole, attributes, children and namespaces', () => {
    const s = rich(TRICKY, TRICKY_ID)
    const stored = throughJson(storedMessage(s.packet, s.from, s.to, at, true))
    const back = pushEventOf('a.test', stored)
    assert.deepEqual(plain(back), plain(messageEvent('a.test', s.packet, s.from, s.to, at)))
    const packet = back.notification!.packet
    assert.equal(packet.toString(), s.packet.toString())
    assert.deepEqual({ ...packet.attrs }, { ...s.packet.attrs })
    assert.equal(packet.getChild('x', 'urn:example:extra')?.getText(), 'extra & <text>')
    assert.equal(packet.getChildText('body'), TRICKY)
  })

  it('builds the same request bodies from a stored event as from the live one (form and JSON)', () => {
    const s = rich(TRICKY, TRICKY_ID)
    const live = messageEvent('a.test', s.packet, s.from, s.to, at)
    for (const keep of [false, true]) {
      const back = pushEventOf('a.test', throughJson(storedMessage(s.packet, s.from, s.to, at, keep)))
      for (const format of ['form', 'json'] as const) {
        const shape: RequestShape = { format, extendedForm: true, headers: undefined, callback: undefined }
        assert.deepEqual(requestParts(back, shape), requestParts(live, shape), `${format}, stanza kept: ${keep}`)
      }
      const form = new URLSearchParams(requestParts(back, { format: 'form', extendedForm: false, headers: undefined, callback: undefined }).body as string)
      assert.deepEqual([form.get('author'), form.get('receiver'), form.get('message')], ['ålice', 'bøb', TRICKY])
      const json = JSON.parse(requestParts(back, { format: 'json', extendedForm: false, headers: undefined, callback: undefined }).body as string)
      assert.deepEqual([json.id, json.body, json.from, json.timestamp], [TRICKY_ID, TRICKY, 'ålice@a.test/résource ✓', new Date(at).toISOString()])
    }
  })
})

describe('stored stanza id (XEP-0359)', () => {
  it("keeps the recipient's stanza id through JSON, with or without the stanza; an event stored before it existed has none", () => {
    const s = rich(TRICKY, TRICKY_ID)
    s.packet.children.push(element('stanza-id', { xmlns: 'urn:xmpp:sid:0', by: 'ålice@a.test', id: 'the-senders' }))
    s.packet.children.push(element('stanza-id', { xmlns: 'urn:xmpp:sid:0', by: 'bøb@a.test', id: TRICKY_ID + '-sid' }))
    for (const keep of [false, true]) {
      const stored = throughJson(storedMessage(s.packet, s.from, s.to, at, keep))
      assert.equal(stored.stanzaId, TRICKY_ID + '-sid')
      assert.equal(pushEventOf('a.test', stored).stanzaId, TRICKY_ID + '-sid')
    }
    const { stanzaId: _gone, ...older } = throughJson(storedMessage(s.packet, s.from, s.to, at, false))
    assert.equal(pushEventOf('a.test', older).stanzaId, null)
  })
})

describe('stored presence', () => {
  it('comes back with the vhost as `to` and no packet', () => {
    const who = jid('ålice@a.test/phone')
    const back = pushEventOf('a.test', throughJson(storedPresence('a.test', who, 'unavailable', at)))
    assert.deepEqual(plain(back), {
      event: 'presence',
      host: 'a.test',
      from: 'ålice@a.test/phone',
      to: 'a.test',
      type: 'unavailable',
      id: null,
      body: null,
      stanzaId: null,
      time: at,
      notification: undefined,
    })
  })
})

describe('through the sqlite outbox', () => {
  it("hands a callback module's prepareBody the packet and its attributes, as the hook saw it", async () => {
    const callback = await loadCallbackModule('./callbacks/packet-echo.mjs', fixtures, 'callback_module')
    const handler = new Handler({
      host: 'a.test',
      name: 'echo',
      url: 'http://127.0.0.1:1/echo',
      poolName: 'p',
      maxQueue: 10,
      events: ['message'],
      filter: createFilter(callback),
      shape: { format: 'form', extendedForm: false, headers: undefined, callback },
      policy: { retries: 0, baseDelay: 1, maxDelay: 1, successCodes: undefined, unreachableWait: 1, signer: undefined },
    })
    assert.equal(handler.needsStanza, true, 'a module that builds bodies keeps the stanza')
    const s = rich(TRICKY, TRICKY_ID)
    const file = path.join(tempDataDir(), 'outbox.sqlite')
    const first = new SqliteOutbox(file)
    assert.equal(first.add('a.test', 'echo', 'msg_x', storedMessage(s.packet, s.from, s.to, at, handler.needsStanza), 10), undefined)
    await first.close()

    const again = new SqliteOutbox(file)
    const [entry] = await again.lease('a.test', 'echo', 1, Date.now())
    await again.close()
    const req = handler.request(entry)
    const expected = callback.prepareBody!(messageEvent('a.test', s.packet, s.from, s.to, at).notification!)
    assert.deepEqual(JSON.parse(req.body as string), JSON.parse(expected as string))
    const seen = JSON.parse(req.body as string)
    assert.deepEqual([seen.attrs.id, seen.attrs['xml:lang'], seen.attrs['data-x'], seen.message], [TRICKY_ID, 'en', `v${TRICKY}`, TRICKY])
    assert.deepEqual(seen.children[2], { name: 'x', attrs: { xmlns: 'urn:example:extra', n: '1' }, text: 'extra & <text>' })
    assert.equal(req.headers!['x-stanza-id'], encodeURIComponent(TRICKY_ID))
    assert.equal(req.headers!['webhook-id'], 'msg_x')
  })
})
