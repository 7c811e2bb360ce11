// spec/helpers/nats.ts on Debian's nats-server: it serves JetStream on the port it reports,
// keeps what it stored across a restart on that port, and is gone after stop and kill.
import assert from 'node:assert/strict'
import net from 'node:net'
import { after, test } from 'node:test'
import { jetstreamManager, jetstream } from '@nats-io/jetstream'
import { connect, type NatsConnection } from '@nats-io/transport-node'
import { startNats, type NatsServer } from './helpers/nats.js'

const servers: NatsServer[] = []
after(() => Promise.all(servers.map((s) => s.kill())))

/** True when something accepts a TCP connection on the port. */
const listening = (port: number) =>
  new Promise<boolean>((resolve) => {
    const socket = net.connect(port, '127.0.0.1', () => (socket.destroy(), resolve(true)))
    socket.once('error', () => resolve(false))
  })

test('a JetStream message survives a restart on the same port and store; stop and kill end the server', async () => {
  const nats = await startNats()
  servers.push(nats)
  assert.equal(nats.url, `nats://127.0.0.1:${nats.port}`)
  assert.notEqual(nats.port, 4222, 'an ephemeral port, not the default')
  let nc: NatsConnection | undefined = await connect({ servers: nats.url })
  try {
    const jsm = await jetstreamManager(nc)
    await jsm.streams.add({ name: 'HELPER_SPEC', subjects: ['helper.>'] })
    const ack = await jetstream(nc).publish('helper.one', 'kept across a restart', { msgID: 'id-1' })
    assert.deepEqual([ack.stream, ack.seq, ack.duplicate], ['HELPER_SPEC', 1, false])
    await nc.close()
    nc = undefined

    await nats.restart()
    assert.equal(nats.running, true)
    nc = await connect({ servers: nats.url })
    const again = await jetstreamManager(nc)
    const msg = await again.streams.getMessage('HELPER_SPEC', { seq: 1 })
    assert.deepEqual([msg?.subject, msg?.string()], ['helper.one', 'kept across a restart'])
    assert.equal((await again.streams.info('HELPER_SPEC')).state.messages, 1)
    await nc.close()
    nc = undefined
  } finally {
    await nc?.close()
  }

  await nats.stop()
  assert.equal(nats.running, false)
  assert.equal(await listening(nats.port), false, 'nothing listens after stop')
  assert.match(nats.log(), /Server is ready/)

  // A second server on the first one's store: kill ends it at once, as a crash would.
  const other = await startNats({ storeDir: nats.storeDir })
  servers.push(other)
  assert.equal(await listening(other.port), true)
  await other.kill()
  assert.equal(other.running, false)
  assert.equal(await listening(other.port), false, 'nothing listens after kill')
})
