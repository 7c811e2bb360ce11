// XEP-0191 §3.3 on the real server with real clients (@xmpp/client): blocking a contact allowed to
// see the account's presence sends it an unavailable presence from each available resource;
// unblocking sends each resource's current presence again. A contact not allowed to see it (not
// subscribed, stored roster) gets neither. Both roster modes: localhost stored, example.com shared.
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { connectClient, xml, type TestClient } from '../helpers/client.js'
import { startTestServer, type TestServer } from '../helpers/xmppd.js'

const NS = 'urn:xmpp:blocking'
const USERS: Record<string, string> = {}
for (const u of ['alice', 'bob', 'carol']) for (const h of ['localhost', 'example.com']) USERS[`${u}@${h}`] = `${u}-pw`
let server: TestServer

before(async () => {
  server = await startTestServer({ hosts: ['localhost', 'example.com'], users: USERS, extra: '[host_config."example.com"]\nroster = "shared"\n' })
})
after(() => server.stop())

const login = (bare: string, resource: string) => connectClient(server.c2sPort, bare, USERS[bare], { resource })
const set = async (c: TestClient, what: 'block' | 'unblock', ...jids: string[]) => {
  const res = await c.iq(xml('iq', { type: 'set' }, xml(what, { xmlns: NS }, ...jids.map((jid) => xml('item', { jid })))))
  assert.equal(res.attrs.type, 'result', String(res))
}
const from = (c: TestClient, jid: string) => c.received.filter((s) => s.is('presence') && s.attrs.from === jid)
/** Stanzas travel in order: once `marker` arrived, whatever was sent to `to` before it has arrived too. */
async function afterMarker(sender: TestClient, to: TestClient, body: string) {
  await sender.chat(to.jid, body)
  await to.next((s) => s.is('message') && s.getChildText('body') === body)
}
const waitFor = (c: TestClient, jid: string, type: string | undefined, status?: string) =>
  c.next((s) => s.is('presence') && s.attrs.from === jid && s.attrs.type === type && (status === undefined || s.getChildText('status') === status))

/** alice (two resources) blocks bob and carol, then unblocks them; bob sees alice, carol does not (stored) or does (shared). */
async function scenario(host: string, carolSees: boolean) {
  const [a1, a2] = [`alice@${host}/one`, `alice@${host}/two`]
  const one = await login(`alice@${host}`, 'one')
  const two = await login(`alice@${host}`, 'two')
  const bob = await login(`bob@${host}`, 'desk')
  const carol = await login(`carol@${host}`, 'c')
  if (host === 'localhost') {
    await bob.send(xml('presence', { to: `alice@${host}`, type: 'subscribe' }))
    await one.next((s) => s.is('presence') && s.attrs.type === 'subscribe')
    await one.send(xml('presence', { to: `bob@${host}`, type: 'subscribed' }))
  }
  await one.send(xml('presence', {}, xml('status', {}, 'one here')))
  await two.send(xml('presence', {}, xml('status', {}, 'two here')))
  await Promise.all([waitFor(bob, a1, undefined, 'one here'), waitFor(bob, a2, undefined, 'two here')])
  await afterMarker(bob, carol, 'before')
  assert.equal(from(carol, a1).length > 0, carolSees, 'carol sees alice only with the shared roster')
  bob.received.length = 0
  carol.received.length = 0

  await set(one, 'block', `bob@${host}`, `carol@${host}`)
  const gone = await Promise.all([waitFor(bob, a1, 'unavailable'), waitFor(bob, a2, 'unavailable')])
  for (const p of gone) assert.equal(p.attrs.to, bob.jid)
  await afterMarker(bob, carol, 'blocked')
  assert.deepEqual(
    from(carol, a1).map((s) => s.attrs.type),
    carolSees ? ['unavailable'] : [],
  )
  bob.received.length = 0
  carol.received.length = 0

  await set(two, 'unblock', `bob@${host}`)
  await Promise.all([waitFor(bob, a1, undefined, 'one here'), waitFor(bob, a2, undefined, 'two here')])
  await afterMarker(bob, carol, 'bob unblocked')
  assert.deepEqual(from(carol, a1), [], 'carol is still blocked: nothing for her')
  await set(one, 'unblock')
  const back = await afterMarker(bob, carol, 'all unblocked').then(() => from(carol, a2).map((s) => s.getChildText('status')))
  assert.deepEqual(back, carolSees ? ['two here'] : [])
  await Promise.all([one.stop(), two.stop(), bob.stop(), carol.stop()])
}

test('stored roster: only a subscribed contact gets the unavailable presence at a block and the presence back at an unblock', () =>
  scenario('localhost', false))

test('shared roster: every account of the vhost gets them', () => scenario('example.com', true))
