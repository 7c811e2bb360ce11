import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { createFilter, isChatWithBody, messageFilter, type MessageFilterOptions } from '../../lib/plugin/filter.js'
import { chat, chatState, element, iq, message, presence, sent, type Sent } from '../helpers/stanza.js'

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
    const filter = createFilter({
      shouldMakeReq: () => {
        throw new Error('boom')
      },
    })
    assert.throws(() => filter(s.packet, s.from, s.to), /boom/)
  })

  it('refuses a shouldMakeReq that returns a promise instead of treating it as true', () => {
    const filter = createFilter({ shouldMakeReq: (() => Promise.resolve(false)) as never })
    assert.throws(() => filter(s.packet, s.from, s.to), /synchronous/)
  })
})

describe('built-in filter options', () => {
  const base = { types: ['chat'], body_required: true } as MessageFilterOptions
  const filterOf = (o: Partial<MessageFilterOptions>) => messageFilter({ ...base, ...o })
  const take = (f: ReturnType<typeof filterOf>, s: Sent) => f(s.packet, s.from, s.to)
  const untyped = (body?: string) => {
    const m = element('message', { to: 'bob@a.test' })
    if (body !== undefined) m.c('body').t(body)
    return sent(m, 'alice@a.test/r')
  }

  it('is the seed filter with the defaults', () => {
    assert.equal(filterOf({}), createFilter(undefined))
  })

  it('types: each listed type, "normal" also for an untyped message, "error" never', () => {
    const f = filterOf({ types: ['groupchat', 'normal'] })
    assert.equal(take(f, message('alice@a.test/r', 'room@muc.a.test', 'x', 'groupchat')), true)
    assert.equal(take(f, message('alice@a.test/r', 'bob@a.test', 'x', 'normal')), true)
    assert.equal(take(f, untyped('x')), true)
    assert.equal(take(f, chat('alice@a.test/r', 'bob@a.test', 'x')), false)
    assert.equal(take(f, message('alice@a.test/r', 'bob@a.test', 'x', 'headline')), false)
    const all = filterOf({ types: ['chat', 'groupchat', 'normal', 'headline'] })
    assert.equal(take(all, message('alice@a.test/r', 'bob@a.test', 'x', 'error')), false)
    assert.equal(take(all, presence('alice@a.test/r')), false)
    assert.equal(take(all, iq('alice@a.test/r', 'a.test')), false)
  })

  it('body_required = false also takes body-less messages (chat states)', () => {
    const f = filterOf({ body_required: false })
    assert.equal(take(f, chatState('alice@a.test/r', 'bob@a.test')), true)
    assert.equal(take(f, message('alice@a.test/r', 'bob@a.test', '')), true)
    assert.equal(take(filterOf({}), chatState('alice@a.test/r', 'bob@a.test')), false)
  })

  it("sender_hosts: the sender's domain, case-insensitively", () => {
    const f = filterOf({ sender_hosts: ['A.test', 'c.test'] })
    assert.equal(take(f, chat('alice@a.test/r', 'bob@b.test', 'x')), true)
    assert.equal(take(f, chat('carl@c.test/r', 'bob@a.test', 'x')), true)
    assert.equal(take(f, chat('bea@b.test/r', 'bob@a.test', 'x')), false)
  })

  it('recipients: bare JIDs, whatever resource the message is to; never the server itself', () => {
    const f = filterOf({ recipients: ['Bob@A.test', 'carol@a.test'] })
    assert.equal(take(f, chat('alice@a.test/r', 'bob@a.test', 'x')), true)
    assert.equal(take(f, chat('alice@a.test/r', 'bob@a.test/laptop', 'x')), true)
    assert.equal(take(f, chat('alice@a.test/r', 'carol@a.test', 'x')), true)
    assert.equal(take(f, chat('alice@a.test/r', 'bob@b.test', 'x')), false)
    assert.equal(take(f, chat('alice@a.test/r', 'dave@a.test', 'x')), false)
    assert.equal(take(f, chat('alice@a.test/r', 'a.test', 'x')), false)
  })

  it('only_offline_recipient is no filter option: the hook that feeds the handler decides (offline_message)', () => {
    const spec = { ...base, only_offline_recipient: true }
    // The handler spec is passed whole; the flag is read by the instance, never by the filter.
    const f = messageFilter(spec)
    assert.equal(take(f, chat('alice@a.test/r', 'bob@a.test', 'x')), true)
    assert.equal(take(f, message('alice@a.test/r', 'bob@a.test', '', 'chat')), false)
    assert.equal(f, createFilter(undefined), "the seed's filter itself")
  })

  it('combines every option (all must hold)', () => {
    const f = filterOf({ types: ['groupchat'], sender_hosts: ['a.test'], recipients: ['room@muc.a.test'] })
    assert.equal(take(f, message('alice@a.test/r', 'room@muc.a.test', 'x', 'groupchat')), true)
    assert.equal(take(f, message('bea@b.test/r', 'room@muc.a.test', 'x', 'groupchat')), false)
    assert.equal(take(f, message('alice@a.test/r', 'room@muc.a.test', '', 'groupchat')), false)
  })

  it('leaves the decision to a callback module when there is one', () => {
    const f = createFilter({ shouldMakeReq: () => true }, { ...base, types: ['headline'] })
    assert.equal(take(f, presence('alice@a.test/r')), true)
  })
})
