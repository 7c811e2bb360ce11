// The JSON body (format = "json") against its published schema, docs/webhook-payload.schema.json.
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { describe, it } from 'node:test'
import { jid } from '@xmpp/jid'
import { Ajv } from 'ajv'
import { jsonBody } from '../../lib/plugin/json-payload.js'
import { messageEvent, presenceEvent } from '../../lib/plugin/payload.js'
import { element, message, sent } from '../helpers/stanza.js'

const schema = JSON.parse(readFileSync(new URL('../../docs/webhook-payload.schema.json', import.meta.url), 'utf8'))
const ajv = new Ajv({ allErrors: true, strict: true })
ajv.addFormat('date-time', (s: string) => !Number.isNaN(Date.parse(s)))
const validate = ajv.compile(schema)

function valid(body: string): Record<string, unknown> {
  const doc = JSON.parse(body) as Record<string, unknown>
  const ok = validate(doc)
  assert.ok(ok, JSON.stringify(validate.errors))
  return doc
}

const T = Date.UTC(2025, 0, 31, 12, 34, 56, 789)

describe('JSON payload v1', () => {
  it('has every field of a chat message, full and bare JIDs, and the event time', () => {
    const s = message('alice@a.test/phone', 'bob@a.test/laptop', 'hé & "quotes" 🎉\nline', 'chat')
    const doc = valid(jsonBody(messageEvent('a.test', s.packet, s.from, s.to, T)))
    assert.deepEqual(doc, {
      version: 1,
      event: 'message',
      host: 'a.test',
      from: 'alice@a.test/phone',
      to: 'bob@a.test/laptop',
      from_bare: 'alice@a.test',
      to_bare: 'bob@a.test',
      type: 'chat',
      id: 'm1',
      body: 'hé & "quotes" 🎉\nline',
      stanza_id: null,
      timestamp: '2025-01-31T12:34:56.789Z',
    })
  })

  it('gives type "normal" to an untyped message, null id and body when absent, the domain as to_bare of a server', () => {
    const m = element('message', { to: 'a.test' })
    const doc = valid(jsonBody(messageEvent('a.test', sent(m, 'alice@a.test/r').packet, jid('alice@a.test/r'), jid('a.test'), T)))
    assert.deepEqual([doc.type, doc.id, doc.body, doc.to, doc.to_bare], ['normal', null, null, 'a.test', 'a.test'])
  })

  it("carries the recipient's XEP-0359 stanza id as stanza_id, not another entity's", () => {
    const s = message('alice@a.test/phone', 'bob@a.test/laptop', 'x')
    s.packet.children.push(element('stanza-id', { xmlns: 'urn:xmpp:sid:0', by: 'room@muc.a.test', id: 'not-bobs' }))
    assert.equal(valid(jsonBody(messageEvent('a.test', s.packet, s.from, s.to, T))).stanza_id, null)
    s.packet.children.push(element('stanza-id', { xmlns: 'urn:xmpp:sid:0', by: 'bob@a.test', id: 'Zx9-_q' }))
    s.packet.children.push(element('stanza-id', { xmlns: 'urn:example:other', by: 'bob@a.test', id: 'other-ns' }))
    assert.equal(valid(jsonBody(messageEvent('a.test', s.packet, s.from, s.to, T))).stanza_id, 'Zx9-_q')
  })

  it('describes groupchat and headline messages', () => {
    for (const type of ['groupchat', 'headline']) {
      const s = message('alice@a.test/r', 'room@muc.a.test', 'x', type)
      assert.equal(valid(jsonBody(messageEvent('a.test', s.packet, s.from, s.to, T))).type, type)
    }
  })

  it('describes presence: the full JID that came or went, to the vhost', () => {
    for (const type of ['available', 'unavailable'] as const) {
      const doc = valid(jsonBody(presenceEvent('a.test', jid('a.test'), jid('alice@a.test/phone'), type, T)))
      assert.deepEqual(doc, {
        version: 1,
        event: 'presence',
        host: 'a.test',
        from: 'alice@a.test/phone',
        to: 'a.test',
        from_bare: 'alice@a.test',
        to_bare: 'a.test',
        type,
        id: null,
        body: null,
        stanza_id: null,
        timestamp: '2025-01-31T12:34:56.789Z',
      })
    }
  })

  it('the schema refuses what the plugin must never send', () => {
    const s = message('alice@a.test/r', 'bob@a.test', 'x')
    const good = JSON.parse(jsonBody(messageEvent('a.test', s.packet, s.from, s.to, T)))
    assert.equal(validate({ ...good, version: 2 }), false)
    assert.equal(validate({ ...good, type: 'available' }), false, 'a message is never typed like presence')
    assert.equal(validate({ ...good, event: 'presence' }), false, 'presence has no body')
    const { timestamp: _t, ...missing } = good
    assert.equal(validate(missing), false)
    const { stanza_id: _s, ...noStanzaId } = good
    assert.equal(validate(noStanzaId), false, 'stanza_id is always there, null when none')
    const presence = JSON.parse(jsonBody(presenceEvent('a.test', jid('a.test'), jid('alice@a.test/phone'), 'available', T)))
    assert.equal(validate({ ...presence, stanza_id: 'x' }), false, 'presence has no stanza id')
  })
})
