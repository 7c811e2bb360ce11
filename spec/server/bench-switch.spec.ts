// The bench's A/B switch (docs/performance.md, item 10): XMPPD_BENCH_LIMITS=off starts a server
// without the hostile-client limits, and says so in its log. The same oversized stanza that a
// default server refuses with policy-violation is then routed, which shows the switch really
// reaches the transport (a bench comparing two identical servers would measure nothing).
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { RawXmpp } from '../helpers/raw-xmpp.js'
import { startTestServer, type TestServer } from '../helpers/xmppd.js'

const BIG = 'x'.repeat(100_000) // over the default max_stanza_size (65,536)

async function withServer(env: string | undefined, run: (server: TestServer) => Promise<void>): Promise<void> {
  const saved = process.env.XMPPD_BENCH_LIMITS
  if (env === undefined) delete process.env.XMPPD_BENCH_LIMITS
  else process.env.XMPPD_BENCH_LIMITS = env
  let server: TestServer | undefined
  try {
    server = await startTestServer()
  } finally {
    if (saved === undefined) delete process.env.XMPPD_BENCH_LIMITS
    else process.env.XMPPD_BENCH_LIMITS = saved
  }
  try {
    await run(server)
  } finally {
    await server.stop()
  }
}

async function sendBig(server: TestServer): Promise<{ sender: RawXmpp; receiver: RawXmpp }> {
  const receiver = await RawXmpp.connect(server.c2sPort)
  await receiver.login('bob', 'bob-pw', 'r')
  const sender = await RawXmpp.connect(server.c2sPort)
  await sender.login('alice', 'alice-pw', 's')
  sender.send(`<message to='bob@localhost/r' type='chat'><body>${BIG}</body></message>`)
  return { sender, receiver }
}

test('XMPPD_BENCH_LIMITS=off: a stanza over max_stanza_size is routed, and the log says the limits are off', async () => {
  await withServer('off', async (server) => {
    assert.ok(
      server.logs.some((l) => String(l.msg).includes('XMPPD_BENCH_LIMITS=off')),
      'a warning names the switch',
    )
    const { sender, receiver } = await sendBig(server)
    await receiver.waitFor(new RegExp(`<body>${BIG}</body>`), 10_000)
    sender.close()
    receiver.close()
  })
})

test('without the switch the same stanza closes the stream with policy-violation', async () => {
  await withServer(undefined, async (server) => {
    assert.ok(!server.logs.some((l) => String(l.msg).includes('XMPPD_BENCH_LIMITS')))
    const { sender, receiver } = await sendBig(server)
    await sender.waitFor(/<policy-violation/, 10_000)
    sender.close()
    receiver.close()
  })
})
