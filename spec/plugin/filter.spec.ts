import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { createFilter, isChatWithBody } from '../../lib/plugin/filter.js'
import { chat, chatState, element, iq, message, presence, sent } from '../helpers/stanza.js'

describe('default filter (the seed: chat with a non-empty body)', () => {
  const filter = createFilter(undefined)
  const accepts = (s: ReturnType<typeof chat>) => filter(s.packet, s.from, s.to)

  it('accepts a chat message with a body', () => {
    assert.equal(accepts(chat('alice@a.test/phone', 'bob@a.test', 'hi')), true)
  })

  it('accepts a whitespace-only body (non-empty, as the seed)', () => {
    assert.equal(accepts(chat('alice@a.test', 'bob@a.test', ' ')), true)
  })

  it('refuses an empty body, a missing body and a chat state without body', () => {
    assert.equal(accepts(message('alice@a.test', 'bob@a.test', '')), false)
    assert.equal(accepts(message('alice@a.test', 'bob@a.test', undefined)), false)
    assert.equal(accepts(chatState('alice@a.test', 'bob@a.test')), false)
  })

  it('refuses groupchat, headline, normal and untyped messages', () => {
    for (const type of ['groupchat', 'headline', 'normal', 'error']) {
      assert.equal(accepts(message('alice@a.test', 'room@muc.a.test', 'hi', type)), false, type)
    }
    const untyped = element('message', { to: 'bob@a.test' })
    untyped.c('body').t('hi')
    assert.equal(accepts(sent(untyped, 'alice@a.test')), false)
  })

  it('refuses presence and iq', () => {
    assert.equal(accepts(presence('alice@a.test/phone')), false)
    assert.equal(accepts(iq('alice@a.test/phone', 'a.test')), false)
  })

  it('looks at the body child only, not at nested elements', () => {
    const m = element('message', { to: 'bob@a.test', type: 'chat' })
    m.c('x', { xmlns: 'urn:example' }).c('body').t('nested')
    assert.equal(isChatWithBody(sent(m, 'alice@a.test').packet), false)
  })
})

describe('callback filter', () => {
  const s = presence('alice@a.test')

  it('uses shouldMakeReq with (packet, from, to) and its truthiness', () => {
    const seen: unknown[] = []
    const filter = createFilter({ shouldMakeReq: (p, f, t) => (seen.push(p, f, t), 1 as unknown as boolean) })
    assert.equal(filter(s.packet, s.from, s.to), true)
    assert.deepEqual(seen, [s.packet, s.from, s.to])
    assert.equal(createFilter({ shouldMakeReq: () => false })(s.packet, s.from, s.to), false)
  })

  it('lets a throwing shouldMakeReq throw (the handler counts it)', () => {
    const filter = createFilter({ shouldMakeReq: () => { throw new Error('boom') } })
    assert.throws(() => filter(s.packet, s.from, s.to), /boom/)
  })

  it('refuses a shouldMakeReq that returns a promise instead of treating it as true', () => {
    const filter = createFilter({ shouldMakeReq: (() => Promise.resolve(false)) as never })
    assert.throws(() => filter(s.packet, s.from, s.to), /synchronous/)
  })
})
