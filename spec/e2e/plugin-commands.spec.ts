// Plugins' own admin commands as plugin.json declares them (deliveries, deliveries-replay), on the
// real server: the admin API routes, the XEP-0050 nodes and xmppctl. A small plugin with canned
// deliveries (spec/fixtures/canned-deliveries) declares the real plugin.json's admin_commands and
// records the args the host passes it; the host's checks, errors and output are what is tested.
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { readFileSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { LIMIT_MAX } from '../../lib/cli/xmppctl-deliveries.js'
import { loadManifest } from '../../lib/server/plugins/catalog.js'
import { CANNED, calls } from '../fixtures/canned-deliveries/index.js'
import { COMMANDS_NS, commandResultJson, executeCommand } from '../helpers/adhoc.js'
import { connectClient, type TestClient } from '../helpers/client.js'
import { tempDir } from '../helpers/temp-dir.js'
import { ADMIN_TOKEN, configToml, root, spawnBin, startTestServer, type TestServer } from '../helpers/xmppd.js'

const NS = COMMANDS_NS
const real = JSON.parse(readFileSync(path.join(root, 'plugin.json'), 'utf8'))
const BASE = '/api/hosts/localhost/plugins/mod_canned'
let server: TestServer
let admin: TestClient
let alice: TestClient

before(async () => {
  const dir = tempDir('xmppd-canned-')
  const manifest = {
    id: 'mod_canned',
    version: '0.0.1',
    entry: path.join(root, 'spec/fixtures/canned-deliveries/index.ts'),
    hooks: [],
    // The real declarations; XEP-0050 nodes are one namespace for the server, and the real
    // plugin holds these, so the canned one takes them under another name.
    admin_commands: real.admin_commands.map((c: any) => (c.adhoc ? { ...c, adhoc: { node: c.adhoc.node.replace('#', '#canned-') } } : c)),
    options: { type: 'object' },
  }
  writeFileSync(path.join(dir, 'plugin.json'), JSON.stringify(manifest))
  server = await startTestServer(
    configToml({
      hosts: ['localhost', 'b.test'],
      users: { 'admin@localhost': 'admin-pw', 'alice@localhost': 'alice-pw' },
      admins: ['admin@localhost'],
      extra: '[plugins.mod_canned]\nenabled = true\n[host_config."b.test".plugins.mod_canned]\nenabled = false\n',
    }),
    {},
    { extraPlugins: [loadManifest(path.join(dir, 'plugin.json'))] },
  )
  admin = await connectClient(server.c2sPort, 'admin@localhost', 'admin-pw')
  alice = await connectClient(server.c2sPort, 'alice@localhost', 'alice-pw')
})
after(async () => {
  await Promise.all([admin.stop(), alice.stop()])
  await server.stop()
})

async function api(method: 'GET' | 'POST', p: string, body?: unknown, token = ADMIN_TOKEN) {
  const headers: Record<string, string> = token ? { authorization: `Bearer ${token}` } : {}
  const res = await fetch(`http://127.0.0.1:${server.httpPort}${p}`, {
    method,
    headers,
    body: typeof body === 'string' ? body : body === undefined ? undefined : JSON.stringify(body),
  })
  return { status: res.status, body: (await res.json()) as any }
}

const lastCall = () => calls.at(-1)!

test("GET .../deliveries: the token first, then the query as the args, checked and normalised; the answer is the plugin's", async () => {
  const before = calls.length
  assert.equal((await api('GET', `${BASE}/deliveries`, undefined, '')).status, 401)
  assert.equal((await api('GET', `${BASE}/deliveries`, undefined, 'wrong')).status, 401)
  assert.equal(calls.length, before, 'the plugin was not asked')

  const r = await api('GET', `${BASE}/deliveries?state=failed&since=2024-05-01T12:00%2B02:00&jid=bob@localhost&handler=crm&limit=5`)
  assert.equal(r.status, 200)
  assert.deepEqual(r.body, { items: CANNED.filter((d) => d.state === 'failed') })
  assert.deepEqual(lastCall(), {
    host: 'localhost',
    name: 'deliveries',
    args: { state: 'failed', since: '2024-05-01T10:00:00.000Z', jid: 'bob@localhost', handler: 'crm', limit: '5' },
  })
  // A relative time is resolved by the server when the request arrives; empty values are absent.
  const earliest = Date.now() - 2 * 3600_000
  assert.equal((await api('GET', `${BASE}/deliveries/?since=2h&jid=`)).status, 200)
  const since = Date.parse(lastCall().args.since)
  assert.ok(since >= earliest && since <= Date.now() - 2 * 3600_000, lastCall().args.since)
  assert.deepEqual(Object.keys(lastCall().args), ['since'])
})

test('POST .../deliveries/replay: ids travel space-separated, failed as "true"', async () => {
  const ids = await api('POST', `${BASE}/deliveries/replay`, { ids: [CANNED[0].webhookId, 'nope-1'] })
  assert.deepEqual(ids, { status: 200, body: { replayed: 1, notFound: ['nope-1'] } })
  assert.deepEqual(lastCall().args, { ids: `${CANNED[0].webhookId} nope-1` })
  const failed = await api('POST', `${BASE}/deliveries/replay`, { failed: true, since: '2024-05-01', handler: 'crm' })
  assert.deepEqual(failed.body, { replayed: 1, notFound: [] })
  assert.deepEqual(lastCall(), { host: 'localhost', name: 'deliveries-replay', args: { failed: 'true', since: '2024-05-01T00:00:00.000Z', handler: 'crm' } })
})

test('errors: unknown plugin, vhost, command 404; wrong method 405; bad arguments 400 before the plugin runs; not running 404 saying so', async () => {
  const before = calls.length
  const cases: Array<[string, string, unknown, number, string, RegExp]> = [
    ['GET', '/api/hosts/localhost/plugins/mod_nope/deliveries', undefined, 404, 'unknown_plugin', /no plugin named 'mod_nope'/],
    ['GET', '/api/hosts/nope.test/plugins/mod_canned/deliveries', undefined, 404, 'unknown_host', /no virtual host 'nope.test'/],
    ['GET', `${BASE}/frob`, undefined, 404, 'unknown_command', /has no admin command 'frob'/],
    ['POST', `${BASE}/deliveries`, {}, 405, 'method_not_allowed', /POST is not allowed/],
    ['GET', `${BASE}/deliveries?state=lost`, undefined, 400, 'bad_arguments', /^state: "lost" is not one of failed, pending$/],
    [
      'GET',
      `${BASE}/deliveries?status=failed`,
      undefined,
      400,
      'bad_arguments',
      /^status: 'deliveries' takes no such argument \(it takes: state, since, jid, handler, limit\)$/,
    ],
    ['GET', `${BASE}/deliveries?since=yesterday`, undefined, 400, 'bad_arguments', /^since: "yesterday" is not a time: use ISO 8601/],
    ['GET', `${BASE}/deliveries?limit=0`, undefined, 400, 'bad_arguments', /^limit: must be at least 1$/],
    ['GET', `${BASE}/deliveries?limit=1000000000`, undefined, 400, 'bad_arguments', /^limit: must be at most 10000$/],
    ['GET', `${BASE}/deliveries?jid=a&jid=b`, undefined, 400, 'bad_arguments', /^jid: given more than once$/],
    ['POST', `${BASE}/deliveries/replay`, '{"ids": [', 400, 'bad_arguments', /^body: not JSON/],
    ['POST', `${BASE}/deliveries/replay`, ['x'], 400, 'bad_arguments', /^body: must be a JSON object/],
    ['POST', `${BASE}/deliveries/replay`, { failed: 'yes' }, 400, 'bad_arguments', /^failed: "yes" is not true or false$/],
    ['POST', `${BASE}/deliveries/replay`, { ids: [{ id: 1 }] }, 400, 'bad_arguments', /^ids: must be a list of strings$/],
    [
      'GET',
      '/api/hosts/b.test/plugins/mod_canned/deliveries',
      undefined,
      404,
      'unknown_command',
      /^plugin 'mod_canned' is not running on 'b.test': enable it to run 'deliveries'$/,
    ],
  ]
  for (const [method, p, body, status, error, message] of cases) {
    const r = await api(method as 'GET' | 'POST', p, body)
    assert.equal(r.status, status, `${method} ${p}: ${JSON.stringify(r.body)}`)
    assert.equal(r.body.error, error, p)
    assert.match(r.body.message, message, p)
  }
  assert.equal(calls.length, before, 'the plugin was not asked')
  // The plugin's own rule, with the same coded error.
  const both = await api('POST', `${BASE}/deliveries/replay`, { ids: ['a'], failed: true })
  assert.deepEqual(both, { status: 400, body: { error: 'bad_arguments', message: 'ids: give ids or failed, not both' } })
})

const command = (c: TestClient, node: string, fields?: Record<string, string | string[]>, extra: Record<string, string> = {}) =>
  executeCommand(c, `urn:xmppd:admin#canned-${node}`, fields, extra)
const resultJson = commandResultJson

test('XEP-0050: the declared nodes ask for the vhost and the arguments, and answer the JSON; admins only', async () => {
  const first = await command(admin, 'deliveries-list')
  const cmd = first.getChild('command', NS)
  assert.equal(cmd.attrs.status, 'executing')
  const fields = cmd
    .getChild('x', 'jabber:x:data')
    .getChildren('field')
    .map((f: any) => `${f.attrs.var}:${f.attrs.type}`)
  assert.deepEqual(fields, ['host:list-single', 'state:list-single', 'since:text-single', 'jid:text-single', 'handler:text-single', 'limit:text-single'])

  const done = await command(
    admin,
    'deliveries-list',
    { host: 'localhost', state: 'pending', since: '', limit: '3' },
    { sessionid: cmd.attrs.sessionid, action: 'complete' },
  )
  assert.equal(done.getChild('command', NS).attrs.status, 'completed')
  assert.deepEqual(resultJson(done), { items: CANNED.filter((d) => d.state === 'pending') })
  assert.deepEqual(lastCall(), { host: 'localhost', name: 'deliveries', args: { state: 'pending', limit: '3' } })

  const replay = await command(admin, 'deliveries-replay', { host: 'localhost', ids: [CANNED[0].webhookId, 'nope-2 nope-3'], failed: '0' })
  assert.deepEqual(resultJson(replay), { replayed: 1, notFound: ['nope-2', 'nope-3'] })
  assert.deepEqual(lastCall().args, { ids: `${CANNED[0].webhookId} nope-2 nope-3`, failed: 'false' })

  const bad = await command(admin, 'deliveries-list', { host: 'localhost', since: 'soon' })
  const note = bad.getChild('command', NS).getChild('note')
  assert.equal(note.attrs.type, 'error')
  assert.match(note.getText(), /^since: "soon" is not a time/)

  const before = calls.length
  const refused = await command(alice, 'deliveries-replay', { host: 'localhost', failed: 'true' })
  assert.equal(refused.attrs.type, 'error')
  assert.ok(refused.getChild('error').getChild('forbidden'))
  assert.equal(calls.length, before, 'the plugin was not asked')
})

async function xmppctl(...args: string[]) {
  const p = spawnBin('xmppctl', ['--url', `http://127.0.0.1:${server.httpPort}`, '--token', ADMIN_TOKEN, ...args])
  const code = await p.exit
  return { code, stdout: p.stdout(), stderr: p.stderr() }
}

test('xmppctl deliveries list: a line per delivery with what is there, --json as the plugin answered, the options as the query', async () => {
  const plain = await xmppctl('deliveries', 'list', '--host', 'localhost', '--plugin', 'mod_canned')
  assert.equal(plain.code, 0, plain.stderr)
  const lines = plain.stdout.trimEnd().split('\n')
  assert.equal(lines.length, 2)
  assert.match(
    lines[0],
    /^01J0000000000000000000FAIL +crm +alice@localhost\/phone → bob@localhost +failed \(status\) +HTTP 500 +2 attempts +accepted 2024-05-01T10:00:00Z, first try 2024-05-01T10:00:01Z, last try 2024-05-01T10:00:06Z, failed 2024-05-01T10:00:06Z$/,
  )
  assert.match(
    lines[1],
    /^01J000000000000000000PEND +audit +carol@localhost +→ alice@localhost +pending +connect ECONNREFUSED 127\.0\.0\.1:9 +1 attempt +accepted 2024-05-01T11:00:00Z, due 2024-05-01T11:05:00Z$/,
  )

  const json = await xmppctl(
    'deliveries',
    'list',
    '--host',
    'localhost',
    '--plugin',
    'mod_canned',
    '--failed',
    '--since',
    '7d',
    '--jid',
    'bob@localhost',
    '--limit',
    '20',
    '--json',
  )
  assert.equal(json.code, 0, json.stderr)
  assert.deepEqual(JSON.parse(json.stdout), { items: [CANNED[0]] })
  assert.deepEqual(Object.keys(lastCall().args), ['state', 'since', 'jid', 'limit'])
  assert.equal(lastCall().args.state, 'failed')

  const none = await xmppctl('deliveries', 'list', '--host', 'localhost', '--plugin', 'mod_canned', '--pending', '--handler', 'x')
  assert.equal(none.code, 0)
  assert.deepEqual(lastCall().args, { state: 'pending', handler: 'x' })
})

test('xmppctl deliveries replay: replayed N and the ids that were not dead letters', async () => {
  const r = await xmppctl('deliveries', 'replay', '--host', 'localhost', '--plugin', 'mod_canned', '--id', CANNED[0].webhookId, '--id', 'gone-1')
  assert.equal(r.code, 0, r.stderr)
  assert.equal(r.stdout, 'replayed 1\n  not a dead letter, nothing changed: gone-1\n')
  const all = await xmppctl(
    'deliveries',
    'replay',
    '--host',
    'localhost',
    '--plugin',
    'mod_canned',
    '--failed',
    '--since',
    '2024-05-01T10:00:00Z',
    '--handler',
    'crm',
  )
  assert.equal(all.stdout, 'replayed 1\n')
  assert.deepEqual(lastCall().args, { failed: 'true', since: '2024-05-01T10:00:00.000Z', handler: 'crm' })
  // Refused by the server: exit 1 with its message.
  const off = await xmppctl('deliveries', 'list', '--host', 'b.test', '--plugin', 'mod_canned')
  assert.equal(off.code, 1)
  assert.equal(off.stderr, "xmppctl: plugin 'mod_canned' is not running on 'b.test': enable it to run 'deliveries'\n")
})

test('xmppctl deliveries: bad usage exits 2 with one line, before asking the server', async () => {
  const limit = real.admin_commands.find((c: any) => c.name === 'deliveries').args.find((a: any) => a.name === 'limit')
  assert.equal(LIMIT_MAX, limit.maximum, "xmppctl's --limit bound is plugin.json's")
  const before = calls.length
  const cases: Array<[string[], string]> = [
    [['list', '--host', 'localhost', '--since', 'last tuesday'], '--since: "last tuesday" is not a time: use ISO 8601'],
    [['list', '--host', 'localhost', '--since', '2024-02-30'], '--since: "2024-02-30" is not a time: no such date or time of day'],
    [['list', '--failed'], 'deliveries list needs --host'],
    [['list', '--host', 'h', '--failed', '--pending'], '--failed and --pending exclude each other'],
    [['list', '--host', 'h', '--limit', 'ten'], '--limit: a whole number from 1 to 10000, not "ten"'],
    [['list', '--host', 'h', '--limit', '1000000000'], '--limit: a whole number from 1 to 10000, not "1000000000"'],
    [['list', '--host', 'h', '--limit', '10001'], '--limit: a whole number from 1 to 10000, not "10001"'],
    [['list', '--host', 'h', '--id', 'x'], '--id is an option of deliveries replay'],
    [['replay', '--host', 'h'], 'deliveries replay needs --id WEBHOOK_ID ... or --failed'],
    [['replay', '--host', 'h', '--id', 'a', '--failed'], 'give --id WEBHOOK_ID ... or --failed, not both'],
    [['replay', '--host', 'h', '--id', 'a', '--since', '2h'], '--since goes with --failed, not with --id'],
    [['replay', '--host', 'h', '--failed', '--jid', 'a@b'], '--jid is an option of deliveries list'],
    [['frob'], 'unknown command "deliveries frob"'],
    [[], 'deliveries needs a command: list or replay'],
  ]
  for (const [args, message] of cases) {
    const r = await xmppctl('deliveries', ...args)
    assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`)
    assert.ok(r.stderr.startsWith(`xmppctl: ${message}`), `${args.join(' ')}: ${r.stderr}`)
    assert.equal(r.stdout, '')
  }
  const other = await xmppctl('plugin', 'list', '--failed')
  assert.equal(other.code, 2)
  assert.equal(other.stderr, 'xmppctl: --failed is an option of deliveries list|replay, not of plugin list (see xmppctl plugin list --help)\n')
  const help = await xmppctl('deliveries', 'list', '--help')
  assert.equal(help.code, 0)
  assert.match(help.stdout, /^usage: xmppctl deliveries list --host H \[--failed \| --pending\]/)
  assert.equal(calls.length, before, 'the server was not asked')
})
