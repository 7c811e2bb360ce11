// Issue 13's delivery workers, on the real server with real clients, a real endpoint and a real
// nats-server -js: an XMPP node with deliver = false only publishes (its users' notifications wait
// in the stream, nothing reaches the endpoint), and `xmppd deliver --config FILE`, a process of its
// own with its own config file and data_dir (and no c2s listener), delivers them all. The worker
// reads the same options as the node: it delivers whatever `deliver` says. Nothing here asserts a
// timing.
import { test, afterEach } from 'node:test'
import assert from 'node:assert/strict'
import { cluster, clusterBalanced, nodeToml } from '../helpers/cluster.js'
import { startNats } from '../helpers/nats.js'
import { deliveryReport, webhookRecorder } from '../helpers/webhook-recorder.js'

const cleanups: Array<() => Promise<unknown>> = []
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c().catch(() => undefined)
})

test('xmppd deliver alone delivers what an XMPP node with deliver = false publishes', async (t) => {
  const N = 500
  const nats = await startNats()
  cleanups.push(() => nats.stop())
  const rec = await webhookRecorder()
  cleanups.push(() => rec.close())
  const nodes = cluster()
  cleanups.push(() => nodes.close())
  // One config text, as an operator would share it; each process gets its own copy and data_dir.
  const toml = nodeToml({ endpoint: rec.url, nats: nats.url, plugin: 'deliver = false' })
  const node = await nodes.start('xmpp', toml)
  const messages = await node.send('alice', 'published', N)
  await nodes.countsWhen((c) => c.accepted === N && c.pending === N)
  assert.equal(rec.deliveries.length, 0, 'the node only publishes')
  const nodeStatus = await node.xmppctl('plugin', 'status', '--host', 'localhost')
  assert.match(nodeStatus.stdout, /publishes only \(deliver = false\)/)

  const worker = await nodes.startWorker('worker', toml)
  await rec.waitForAll(messages, 60_000)
  const r = deliveryReport(rec.deliveries, messages)
  t.diagnostic(`${N} messages, ${rec.deliveries.length} requests, ${r.duplicates} duplicates`)
  assert.deepEqual(r.missing, [])
  assert.deepEqual(r.idChanged, [])

  const c = await nodes.countsWhen((x) => x.pending === 0 && clusterBalanced(x), 30_000)
  assert.deepEqual([c.accepted, c.sent, c.failed], [N, N, 0])
  const byNode = await nodes.counts([node])
  const byWorker = await nodes.counts([worker])
  assert.deepEqual([byNode.accepted, byNode.sent], [N, 0], 'the XMPP node accepted them and sent none')
  assert.deepEqual([byWorker.accepted, byWorker.sent], [0, N], 'the worker accepted none and sent them all')
  const workerStatus = await worker.xmppctl('plugin', 'status', '--host', 'localhost')
  assert.equal(workerStatus.code, 0, workerStatus.stderr)
  assert.match(workerStatus.stdout, /delivery worker/)
  assert.match(node.log(), /"msg":"c2s listening"/)
  assert.doesNotMatch(worker.log(), /"msg":"c2s listening"/, 'no XMPP in a worker')
  const dataDir = (log: string) => /"data_dir":"([^"]+)"/.exec(log)?.[1]
  assert.notEqual(dataDir(worker.log()), dataDir(node.log()), 'its own data_dir')
  assert.equal(await worker.stop('SIGTERM'), 0)
})
