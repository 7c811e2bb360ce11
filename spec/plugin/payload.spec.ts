import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { jid } from '@xmpp/jid'
import { ConfigError } from '../../lib/errors.js'
import type { CallbackModule } from '../../lib/plugin/callback-module.js'
import {
  displayUrl,
  formBody,
  joinUrl,
  messageEvent,
  notificationOf,
  presenceEvent,
  requestParts,
  staticHeaders,
  type RequestShape,
} from '../../lib/plugin/payload.js'
import { chat, element, message, presence, sent } from '../helpers/stanza.js'

const notify = (s: ReturnType<typeof chat>) => notificationOf('a.test', s.packet, s.from, s.to)

describe('notification', () => {
  it('holds the seed four plus context', () => {
    const s = chat('alice@a.test/phone', 'bob@a.test/laptop', 'hi')
    const n = notify(s)
    assert.deepEqual(
      { ...n, packet: undefined, from: undefined, to: undefined },
      {
        host: 'a.test',
        sender: 'alice',
        receiver: 'bob',
        message: 'hi',
        packet: undefined,
        from: undefined,
        to: undefined,
      },
    )
    assert.equal(n.packet, s.packet)
    assert.equal(n.from, s.from)
    assert.equal(n.to, s.to)
  })

  it('gives an empty receiver for a bare-domain `to` and an empty message without body', () => {
    const s = sent(element('message', { to: 'a.test', type: 'chat' }), 'alice@a.test')
    const n = notify(s)
    assert.equal(n.receiver, '')
    assert.equal(n.message, '')
    const p = presence('alice@a.test/phone')
    assert.equal(notify(p).receiver, '')
  })
})

describe('form body', () => {
  const tricky = ['a&b=c', '1+1 = 2 %20 %', 'héllo ✓ 😀 中文', 'line1\nline2\r\nline3', '', '?#;/\\\'"<>']

  it('has the fields author, server, receiver, message in that order', () => {
    const body = formBody(notify(chat('alice@a.test/phone', 'bob@a.test', 'hi there')))
    assert.equal(body, 'author=alice&server=a.test&receiver=bob&message=hi+there')
    assert.deepEqual([...new URLSearchParams(body).keys()], ['author', 'server', 'receiver', 'message'])
  })

  for (const text of tricky) {
    it(`round-trips ${JSON.stringify(text)} through form parsers`, () => {
      const body = formBody(notify(chat('alice@a.test', 'bob@a.test', text)))
      assert.doesNotMatch(body, /[\s\u0080-\uffff]/, 'encoded as ASCII without whitespace')
      assert.equal(new URLSearchParams(body).get('message'), text)
      // A second, independent parser: split on & and =, '+' is space, then percent-decoding.
      const fields = Object.fromEntries(body.split('&').map((kv) => kv.split('=').map((x) => decodeURIComponent(x.replaceAll('+', ' ')))))
      assert.deepEqual(fields, { author: 'alice', server: 'a.test', receiver: 'bob', message: text })
    })
  }

  it("round-trips the characters encodeURIComponent leaves as they are: !'()~*-._", () => {
    const text = "!'()~*-._ (ok) it's ~fine~"
    assert.equal(new URLSearchParams(formBody(notify(chat('alice@a.test', 'bob@a.test', text)))).get('message'), text)
  })

  it('writes a lone surrogate (which encodeURIComponent refuses) as U+FFFD, like URLSearchParams', () => {
    const body = formBody(notify(chat('alice@a.test', 'bob@a.test', 'a\ud800b')))
    assert.equal(new URLSearchParams(body).get('message'), 'a\ufffdb')
    assert.equal(new URLSearchParams(body).get('author'), 'alice')
  })

  it('keeps special characters in the localparts too', () => {
    const from = jid('o+k', 'a.test', 'r')
    const to = jid('x=y', 'a.test')
    const m = element('message', { type: 'chat' })
    m.c('body').t('b')
    const fields = new URLSearchParams(formBody(notificationOf('a.test', m, from, to)))
    assert.equal(fields.get('author'), 'o+k')
    assert.equal(fields.get('receiver'), 'x=y')
  })
})

describe('requestParts', () => {
  const s = chat('alice@a.test', 'bob@a.test', 'hi')
  const ev = messageEvent('a.test', s.packet, s.from, s.to, 0)
  const n = ev.notification!
  const shape = (over: Partial<RequestShape> = {}): RequestShape => ({ format: 'form', extendedForm: false, headers: undefined, callback: undefined, ...over })

  it('defaults to the form body and no extra headers', () => {
    assert.deepEqual(requestParts(ev, shape()), { body: formBody(n), headers: undefined })
  })

  it('uses prepareBody and prepareHeaders, lower-casing names and dropping framing headers', () => {
    const parts = requestParts(
      ev,
      shape({
        callback: {
          shouldMakeReq: () => true,
          prepareBody: (x) => `{"m":"${x.message}"}`,
          prepareHeaders: () => ({ 'Content-Type': 'application/json', 'X-A': 'b', 'Content-Length': '3', Host: 'evil' }),
        },
      }),
    )
    assert.deepEqual(parts, { body: '{"m":"hi"}', headers: { 'content-type': 'application/json', 'x-a': 'b' } })
  })

  it("merges a callback's headers over the static ones", () => {
    const parts = requestParts(
      ev,
      shape({
        headers: { authorization: 'Bearer t', 'x-a': 'static' },
        callback: { shouldMakeReq: () => true, prepareHeaders: () => ({ 'X-A': 'callback' }) },
      }),
    )
    assert.deepEqual(parts.headers, { authorization: 'Bearer t', 'x-a': 'callback' })
  })

  it('accepts a Buffer or Uint8Array body', () => {
    const buf = requestParts(ev, shape({ callback: { shouldMakeReq: () => true, prepareBody: () => new Uint8Array([1, 2]) as Buffer } })).body
    assert.ok(Buffer.isBuffer(buf))
    assert.deepEqual([...buf], [1, 2])
  })

  it('throws on a body or headers of the wrong type', () => {
    const cb = (c: Partial<CallbackModule>) => shape({ callback: { shouldMakeReq: () => true, ...c } })
    assert.throws(() => requestParts(ev, cb({ prepareBody: () => 42 as never })), /string or a Buffer/)
    assert.throws(() => requestParts(ev, cb({ prepareHeaders: () => null as never })), /object of strings/)
    assert.throws(() => requestParts(ev, cb({ prepareHeaders: () => ({ a: 1 }) as never })), /header "a"/)
  })

  it('never hands a presence event to the callback: it gets the built-in body', () => {
    const p = presenceEvent('a.test', jid('a.test'), jid('alice@a.test/phone'), 'available', 0)
    const parts = requestParts(
      p,
      shape({ extendedForm: true, callback: { shouldMakeReq: () => true, prepareBody: () => 'never', prepareHeaders: () => ({ 'x-never': '1' }) } }),
    )
    assert.deepEqual(
      [...new URLSearchParams(parts.body as string)],
      [
        ['author', 'alice'],
        ['server', 'a.test'],
        ['receiver', ''],
        ['message', ''],
        ['event', 'presence'],
        ['type', 'available'],
      ],
    )
    assert.equal(parts.headers, undefined)
  })
})

describe('extended form (a handler configured beyond chat messages)', () => {
  it('appends event and type after the seed four', () => {
    const s = message('alice@a.test/r', 'room@muc.a.test', 'hello room', 'groupchat')
    const body = requestParts(messageEvent('a.test', s.packet, s.from, s.to, 0), {
      format: 'form',
      extendedForm: true,
      headers: undefined,
      callback: undefined,
    }).body as string
    assert.deepEqual(
      [...new URLSearchParams(body)],
      [
        ['author', 'alice'],
        ['server', 'a.test'],
        ['receiver', 'room'],
        ['message', 'hello room'],
        ['event', 'message'],
        ['type', 'groupchat'],
      ],
    )
  })
})

describe('staticHeaders', () => {
  it('lower-cases names, adds the JSON content type, lets a static content type win', () => {
    assert.equal(staticHeaders('form', {}, 'headers'), undefined)
    assert.deepEqual(staticHeaders('form', { Authorization: 'Bearer x' }, 'headers'), { authorization: 'Bearer x' })
    assert.deepEqual(staticHeaders('json', {}, 'headers'), { 'content-type': 'application/json' })
    assert.deepEqual(staticHeaders('json', { 'Content-Type': 'application/vnd.x+json' }, 'headers'), { 'content-type': 'application/vnd.x+json' })
  })

  it('refuses framing and webhook-* headers at their option path, without quoting the value', () => {
    for (const name of ['Content-Length', 'host', 'Transfer-Encoding', 'connection', 'Webhook-Signature', 'webhook-id', 'webhook-timestamp']) {
      assert.throws(
        () => staticHeaders('form', { [name]: 'hunter2' }, 'handlers.1.headers'),
        (e: ConfigError) => e instanceof ConfigError && e.path === `handlers.1.headers.${name}` && !e.message.includes('hunter2'),
        name,
      )
    }
  })
})

describe('joinUrl', () => {
  const cases: Array<[string[], string]> = [
    [['http://localhost:8000', '/webservice', '/notifications'], 'http://localhost:8000/webservice/notifications'],
    [['http://localhost:8000/', '/webservice/', '/notifications'], 'http://localhost:8000/webservice/notifications'],
    [['http://localhost:8000', 'webservice', 'notifications'], 'http://localhost:8000/webservice/notifications'],
    [['http://localhost:8000//', '//webservice//', '//notifications'], 'http://localhost:8000/webservice/notifications'],
    [['http://localhost:8000', '', '/notifications'], 'http://localhost:8000/notifications'],
    [['http://localhost:8000', '/', ''], 'http://localhost:8000'],
    [['http://localhost:8000/', '', ''], 'http://localhost:8000/'],
    [['http://h/api/v1', '/prefix', '/n'], 'http://h/api/v1/prefix/n'],
    [['https://h:8443/base/', '', 'hook/'], 'https://h:8443/base/hook/'],
    [['http://h', '/a/b', '/c/d'], 'http://h/a/b/c/d'],
  ]
  for (const [parts, url] of cases) {
    it(`${JSON.stringify(parts)} → ${url}`, () => assert.equal(joinUrl(...parts), url))
  }
})

describe('displayUrl', () => {
  it('strips credentials and leaves other URLs alone', () => {
    assert.equal(displayUrl('https://user:secret@h/x'), 'https://h/x')
    assert.equal(displayUrl('http://h:1/x'), 'http://h:1/x')
  })
})
