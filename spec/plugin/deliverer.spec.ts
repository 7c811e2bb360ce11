// The deliverer of one pool, with a real Pool (got + opossum) against a real local endpoint, on
// each outbox backend: lanes take turns, at most pool_size in flight, nothing leased while the
// breaker is open and one probe when it half-opens, endpointBack() wakes what could not connect,
// what waited too long fails expired, a throwing request builder fails callback, and an aborted
// try is given back, still pending, for the next deliverer. Every spec ends balanced.
import assert from 'node:assert/strict'
import path from 'node:path'
import { afterEach, beforeEach, describe, it } from 'node:test'
import { fileURLToPath } from 'node:url'
import type { Registry } from 'prom-client'
import { loadCallbackModule } from '../../lib/plugin/callback-module.js'
import { MemoryOutbox } from '../../lib/plugin/outbox/memory.js'
import type { Outbox } from '../../lib/plugin/outbox/outbox.js'
import { SqliteOutbox } from '../../lib/plugin/outbox/sqlite.js'
import { deliveryRig, RIG_HOST, type Rig, type RigOptions } from '../helpers/delivery-rig.js'
import { tempDataDir } from '../helpers/fake-host.js'
import { startGate, type Gate, type GateRequest } from '../helpers/gate.js'
import { assertBalanced, eventually } from '../helpers/metrics.js'
import { switchableEndpoint } from '../helpers/switchable.js'

const fixtures = fileURLToPath(new URL('../fixtures/', import.meta.url))
const message = (r: GateRequest) => new URLSearchParams(r.body).get('message')
const quiet = (ms = 150) => new Promise((r) => setTimeout(r, ms))
const retries = async (registry: Registry) =>
  (await registry.getSingleMetric('mod_http_notifications_retries_total')!.get()).values.find((v) => v.labels.host === RIG_HOST)?.value

/** A backend, and how a new process would open it again (memory: the same one; nothing else survives). */
interface Backend {
  outbox: Outbox
  reopen(): Promise<Outbox>
}

const backends: Record<string, () => Backend> = {
  memory: () => {
    const outbox = new MemoryOutbox()
    return { outbox, reopen: async () => outbox }
  },
  sqlite: () => {
    const file = path.join(tempDataDir(), 'outbox.sqlite')
    const b: Backend = {
      outbox: new SqliteOutbox(file),
      async reopen() {
        await b.outbox.close()
        return (b.outbox = new SqliteOutbox(file))
      },
    }
    return b
  },
}

for (const [name, make] of Object.entries(backends)) {
  describe(`deliverer on the ${name} outbox`, () => {
    let gate: Gate
    let backend: Backend
    const rigs: Rig[] = []
    const rig = (o: Omit<RigOptions, 'outbox' | 'url'> & { url?: string }) => {
      const r = deliveryRig({ outbox: backend.outbox, url: gate.url, ...o })
      rigs.push(r)
      return r
    }
    const breakerOpen = (r: Rig) =>
      eventually(
        () => r.pool.state,
        (s) => assert.equal(s, 'open'),
      )

    beforeEach(async () => {
      gate = await startGate()
      backend = make()
    })
    afterEach(async () => {
      for (const r of rigs.splice(0)) await r.stop()
      await gate.close()
      await backend.outbox.close()
    })

    it('lanes take turns on a slot', async () => {
      gate.auto(204)
      const r = rig({ lanes: ['a', 'b'], poolSize: 1 })
      for (let i = 0; i < 3; i++) r.add('a', `a${i}`)
      for (let i = 0; i < 3; i++) r.add('b', `b${i}`)
      await gate.waitFor(6)
      assert.deepEqual(gate.requests.map(message), ['a0', 'b0', 'a1', 'b1', 'a2', 'b2'])
      assert.deepEqual(
        gate.requests.map((q) => q.url),
        ['/a', '/b', '/a', '/b', '/a', '/b'],
      )
      await assertBalanced(r.registry, RIG_HOST)
    })

    it('keeps at most pool_size requests in flight', async () => {
      const r = rig({ lanes: ['a', 'b'], poolSize: 3 })
      for (let i = 0; i < 12; i++) r.add(i % 2 ? 'b' : 'a', `m${i}`)
      await gate.waitFor(3)
      await quiet()
      assert.deepEqual([gate.requests.length, gate.held, r.deliverer.inFlight], [3, 3, 3])
      gate.auto(204, 5)
      gate.release()
      await gate.waitFor(12)
      const c = await assertBalanced(r.registry, RIG_HOST)
      assert.equal(c.sent, 12)
      assert.equal(gate.maxHeld, 3)
    })

    it('leases nothing while the breaker is open: nothing is sent, nothing fails', async () => {
      gate.auto(503)
      const r = rig({ breaker: { volume_threshold: 1, error_threshold_percentage: 1, reset_timeout: 60_000 } })
      r.add('a', 'first')
      await breakerOpen(r)
      for (let i = 0; i < 4; i++) r.add('a', `w${i}`)
      await quiet()
      assert.equal(gate.requests.length, 1)
      // Still in the outbox and never leased: this spec can lease every one of them itself.
      const waiting = await backend.outbox.lease(RIG_HOST, 'a', 10, Date.now())
      assert.deepEqual(
        waiting.map((e) => [e.event.body, e.attempts]),
        ['w0', 'w1', 'w2', 'w3'].map((b) => [b, 0]),
      )
      for (const e of waiting) backend.outbox.release(e)
      assert.deepEqual(
        r.decisions.map((d) => d.kind),
        ['failed'],
      )
      const c = await assertBalanced(r.registry, RIG_HOST, 2000, { pending: true })
      assert.deepEqual([c.failed.status, c.failedTotal, c.pending], [1, 1, 4])
    })

    it('sends exactly one probe when half-open, then closes and delivers what waited', async () => {
      gate.auto(503)
      const r = rig({ breaker: { volume_threshold: 1, error_threshold_percentage: 1, reset_timeout: 200 } })
      r.add('a', 'first')
      await breakerOpen(r)
      gate.auto(undefined)
      for (let i = 0; i < 4; i++) r.add('a', `w${i}`)
      await gate.waitFor(2)
      await quiet()
      assert.equal(r.pool.state, 'half-open')
      assert.deepEqual([gate.requests.length, gate.held, r.deliverer.inFlight], [2, 1, 1])
      assert.deepEqual(
        r.decisions.map((d) => d.kind),
        ['failed'],
        'no other try was started (and refused) while the probe was out',
      )
      gate.auto(204)
      gate.release()
      await gate.waitFor(5)
      const c = await assertBalanced(r.registry, RIG_HOST)
      assert.deepEqual([c.sent, c.failedTotal], [4, 1])
      assert.equal(r.pool.state, 'closed')
      assert.equal(gate.maxHeld, 1)
    })

    it('endpointBack() makes what could not connect due at once, without an attempt used', async () => {
      const endpoint = await switchableEndpoint()
      await endpoint.down()
      try {
        const r = rig({ url: endpoint.url, unreachableWait: 60_000 })
        r.add('a', 'x')
        r.add('a', 'y')
        await eventually(
          () => r.decisions.map((d) => d.kind),
          (k) => assert.deepEqual(k, ['wait', 'wait']),
        )
        assert.ok((await backend.outbox.nextDue(RIG_HOST, 'a'))! > Date.now() + 30_000, 'they wait unreachableWait')
        const waiting = await assertBalanced(r.registry, RIG_HOST, 2000, { pending: true })
        assert.deepEqual([waiting.failedTotal, waiting.pending], [0, 2])
        await endpoint.up()
        r.deliverer.endpointBack()
        await eventually(
          () => endpoint.received,
          (n) => assert.equal(n, 2),
        )
        const c = await assertBalanced(r.registry, RIG_HOST)
        assert.deepEqual([c.sent, await retries(r.registry)], [2, 0])
      } finally {
        await endpoint.close()
      }
    })

    it('fails an entry older than max_pending_age at lease (expired), without a request', async () => {
      gate.auto(204)
      const r = rig({ maxPendingAge: 1000 })
      r.add('a', 'old', Date.now() - 5000)
      r.add('a', 'new')
      await eventually(
        () => r.decisions.map((d) => [d.body, d.kind]),
        (k) =>
          assert.deepEqual(k, [
            ['old', 'expired'],
            ['new', 'sent'],
          ]),
      )
      assert.deepEqual(gate.requests.map(message), ['new'])
      const c = await assertBalanced(r.registry, RIG_HOST)
      assert.deepEqual([c.failed.expired, c.sent], [1, 1])
    })

    it('fails an entry whose request builder throws (callback); the others go', async () => {
      gate.auto(204)
      const callback = await loadCallbackModule('./callbacks/throws.mjs', fixtures, 'callback_module')
      const r = rig({ callback })
      r.add('a', 'bad body')
      r.add('a', 'fine')
      await gate.waitFor(1)
      const c = await assertBalanced(r.registry, RIG_HOST)
      assert.deepEqual([c.failed.callback, c.sent], [1, 1])
      assert.deepEqual(
        gate.requests.map((q) => q.body),
        ['text=fine'],
      )
      assert.equal(backend.outbox.pending(RIG_HOST, 'a'), 0)
    })

    it('gives an aborted try back: still pending, no attempt used; the next deliverer sends it with its webhook-id', async () => {
      const first = rig({})
      const id = first.add('a', 'held')
      await gate.waitFor(1)
      assert.equal(gate.requests[0].headers['webhook-id'], id)
      await first.stop({ abort: true })
      assert.deepEqual(
        first.decisions.map((d) => d.kind),
        ['release'],
      )
      const outbox = await backend.reopen()
      assert.equal(outbox.pending(RIG_HOST, 'a'), 1)
      gate.auto(204)
      const next = rig({ registry: first.registry })
      next.deliverer.endpointBack() // as an instance's start does
      await gate.waitFor(2)
      assert.equal(gate.requests[1].headers['webhook-id'], id)
      const c = await assertBalanced(next.registry, RIG_HOST)
      assert.deepEqual([c.accepted, c.sent, c.failedTotal, await retries(next.registry)], [1, 1, 0, 0])
    })
  })
}
