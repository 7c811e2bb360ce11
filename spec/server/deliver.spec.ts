// `xmppd deliver --config FILE` as a process: a delivery worker. With the role recorder
// (spec/fixtures/role-recorder, mounted by its launcher there, which runs the CLI's own deliver
// command) it shows what the plugins get: role "deliver" in check and start, no session online,
// no hook, stop on SIGTERM; with the built bin and the real plugin, what operators see: /health,
// /metrics, xmppctl, and xmppd's own messages and exit codes for a bad file or bad usage.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { writeFileSync } from 'node:fs'
import net from 'node:net'
import path from 'node:path'
import { readRecord, type RecordLine } from '../fixtures/role-recorder/index.js'
import { startNats } from '../helpers/nats.js'
import { tempDir } from '../helpers/temp-dir.js'
import { startDeliverProcess } from '../helpers/xmppd-process.js'
import { ADMIN_TOKEN, configToml, root, sample, spawnBin, spawnNode, writeConfig } from '../helpers/xmppd.js'

const launcher = path.join(root, 'spec/fixtures/role-recorder/deliver.ts')
const withRecorder = (args: string[]) => spawnNode(['--import', 'tsx', launcher, ...args])

/** A port nothing listens on now: bound to 0, then released. */
async function freePort(): Promise<number> {
  const s = net.createServer()
  await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve))
  const { port } = s.address() as net.AddressInfo
  await new Promise((resolve) => s.close(resolve))
  return port
}

/** Resolves with the connect error's code, or 'connected'. */
function tryConnect(port: number): Promise<string> {
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1')
    socket.once('connect', () => (socket.destroy(), resolve('connected')))
    socket.once('error', (err: NodeJS.ErrnoException) => resolve(err.code ?? err.message))
  })
}

const of = (lines: RecordLine[], event: RecordLine['event']) =>
  lines
    .filter((l) => l.event === event)
    .map((l) => l.host)
    .sort()

test('xmppd deliver: plugins checked and started with role "deliver", /health and /metrics, no c2s port; SIGHUP reloads; SIGTERM stops them, exit 0', async () => {
  const c2sPort = await freePort()
  const record = path.join(tempDir('xmppd-deliver-'), 'record.jsonl')
  const toml = (bEnabled: boolean) =>
    configToml({
      hosts: ['localhost', 'b.test'],
      users: {},
      c2sPort, // a port the worker must leave alone
      extra: `[plugins.mod_role_recorder]\nrecord = ${JSON.stringify(record)}\n[host_config."b.test".plugins.mod_role_recorder]\nenabled = ${bEnabled}\n`,
    })
  const file = writeConfig(toml(true))
  const worker = await startDeliverProcess(file, withRecorder)
  try {
    const out = worker.run.stdout()
    const started = out.split('\n').find((l) => l.includes('"msg":"delivery worker'))!
    assert.deepEqual(JSON.parse(started).hosts, ['localhost', 'b.test'], 'the start line names the vhosts')
    assert.doesNotMatch(out, /c2s listening/)
    assert.equal(await tryConnect(c2sPort), 'ECONNREFUSED', "nothing listens on the config's c2s port")

    const health = await fetch(`http://127.0.0.1:${worker.httpPort}/health`)
    assert.equal(health.status, 200)
    assert.deepEqual(await health.json(), { status: 'ok', role: 'deliver', hosts: ['localhost', 'b.test'], sessions: 0 })
    const metrics = await worker.metricsText()
    assert.match(metrics, /^process_cpu_user_seconds_total /m)
    assert.equal(sample(metrics, 'xmppd_sessions', { host: 'localhost' }), 0)

    const lines = readRecord(record)
    assert.deepEqual(of(lines, 'check'), ['b.test', 'localhost'])
    assert.deepEqual(of(lines, 'start'), ['b.test', 'localhost'])
    for (const l of lines.filter((x) => x.event === 'check' || x.event === 'start')) assert.equal('role' in l && l.role, 'deliver', JSON.stringify(l))
    assert.ok(lines.every((l) => l.event !== 'start' || l.online === false))

    // SIGHUP re-reads the file, as it does for xmppd: b.test's instance goes.
    writeFileSync(file, toml(false))
    worker.run.child.kill('SIGHUP')
    await worker.run.waitFor(/"msg":"config reloaded"/)
    assert.deepEqual(of(readRecord(record), 'stop'), ['b.test'])

    assert.equal(await worker.stop('SIGTERM'), 0)
    assert.match(worker.run.stdout(), /"msg":"stopped"/)
    const after = readRecord(record)
    assert.deepEqual(of(after, 'stop'), ['b.test', 'localhost'], 'stop() ran for every instance')
    assert.deepEqual(after.filter((l) => l.event === 'hook').length, 0, 'no hook fired')
  } finally {
    worker.run.child.kill('SIGKILL')
  }
})

test('the built xmppd deliver with the real plugin: its series in /metrics, xmppctl plugin list and deliveries list work, with the same token rules', async () => {
  // A worker delivers from the shared outbox only (a sqlite or memory one would hold nothing of the nodes').
  const nats = await startNats()
  const file = writeConfig(
    configToml({
      extra:
        '[http_connections.http_pool]\nserver = "http://127.0.0.1:9"\n' +
        `[plugins.mod_event_pusher_http]\npool_name = "http_pool"\npath = "/n"\noutbox = "jetstream"\njetstream = { servers = ["${nats.url}"] }\n`,
    }),
  )
  const worker = await startDeliverProcess(file).catch(async (err) => {
    await nats.stop()
    throw err
  })
  try {
    assert.equal(sample(await worker.metricsText(), 'mod_http_notifications_sent_total', { host: 'localhost' }), 0)
    const url = `http://127.0.0.1:${worker.httpPort}`
    const ctl = async (args: string[], token = ADMIN_TOKEN) => {
      const r = spawnBin('xmppctl', ['--url', url, '--token', token, ...args])
      return { code: await r.exit, stdout: r.stdout(), stderr: r.stderr() }
    }
    const list = await ctl(['plugin', 'list'])
    assert.equal(list.code, 0, list.stderr)
    assert.match(list.stdout, /mod_event_pusher_http\s+\S+\s+localhost\s+enabled/)
    const deliveries = await ctl(['deliveries', 'list', '--host', 'localhost'])
    assert.equal(deliveries.code, 0, deliveries.stderr)
    assert.equal(deliveries.stdout.trim(), 'no deliveries')
    const refused = await ctl(['deliveries', 'list', '--host', 'localhost'], 'not-the-token')
    assert.equal(refused.code, 1)
    assert.match(refused.stderr, /refused the admin token/)
    assert.equal(await worker.stop('SIGTERM'), 0)
  } finally {
    worker.run.child.kill('SIGKILL')
    await nats.stop()
  }
})

test("a bad file: xmppd deliver exits 1 with xmppd's own report, naming the path; bad usage exits 2", async () => {
  const extra = '[plugins.mod_event_pusher_http]\npool_name = "nope"\npath = "/n"\noutbox = "jetstream"\njetstream = { servers = ["nats://127.0.0.1:9"] }\n'
  const file = writeConfig(configToml({ extra }))
  const [deliver, xmppd] = [spawnBin('xmppd', ['deliver', '--config', file]), spawnBin('xmppd', ['--config', file])]
  assert.equal(await deliver.exit, 1)
  assert.equal(await xmppd.exit, 1)
  assert.match(deliver.stderr(), /plugins\.mod_event_pusher_http\.pool_name: no http_connections pool named "nope"/)
  assert.equal(deliver.stderr(), xmppd.stderr(), 'the same report as xmppd')
  assert.equal(deliver.stdout(), '', 'nothing started, nothing logged')

  const usage = async (args: string[]) => {
    const r = spawnBin('xmppd', args)
    return { code: await r.exit, stdout: r.stdout(), stderr: r.stderr() }
  }
  const bare = await usage(['deliver'])
  assert.deepEqual([bare.code, bare.stderr], [2, 'xmppd: deliver needs --config FILE (see xmppd deliver --help)\n'])
  const c2s = await usage(['deliver', '--config', file, '--c2s-port', '0'])
  assert.deepEqual([c2s.code, c2s.stderr], [2, 'xmppd: a delivery worker has no c2s listener: --c2s-port does not apply (see xmppd deliver --help)\n'])
  const help = await usage(['deliver', '--help'])
  assert.equal(help.code, 0)
  assert.match(help.stdout, /^usage: xmppd deliver --config FILE/)
  // Options before the command are the command's: `xmppd --help deliver` is deliver's help.
  assert.equal((await usage(['--help', 'deliver'])).stdout, help.stdout)
})
