// plugin.json's admin_commands: the plain and the object form, a bad entry refused with the file
// and the entry; and a declared command's arguments as the plugin gets them (strings), checked.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import path from 'node:path'
import { checkManifestCommands, type AdminCommandSpec } from '../../lib/server/plugins/admin-commands.js'
import { commandArgs } from '../../lib/server/plugins/command-args.js'
import { root } from '../helpers/xmppd.js'

const check = (commands: unknown) => {
  try {
    return checkManifestCommands('p.json', commands)
  } catch (err) {
    return (err as Error).message
  }
}

test('the shipped plugin.json: status stays a plain command, the deliveries ones have routes and nodes', () => {
  const list = checkManifestCommands('plugin.json', JSON.parse(readFileSync(path.join(root, 'plugin.json'), 'utf8')).admin_commands)
  assert.deepEqual(
    list.map((c) => [c.name, c.http && `${c.http.method} ${c.http.path}`, c.adhoc?.node]),
    [
      ['status', undefined, undefined],
      ['deliveries', 'GET deliveries', 'urn:xmppd:admin#deliveries-list'],
      ['deliveries-replay', 'POST deliveries/replay', 'urn:xmppd:admin#deliveries-replay'],
    ],
  )
  assert.deepEqual(
    list[2].args.map((a) => `${a.name}:${a.type}`),
    ['ids:list', 'failed:boolean', 'since:time', 'handler:string'],
  )
})

test('a bad entry: the file, the entry and the reason', () => {
  assert.deepEqual(check(undefined), [])
  assert.equal(check('status'), 'p.json: admin_commands must be an array')
  assert.equal(check(['Status']), 'p.json: admin_commands[0] must match pattern "^[a-z][a-z0-9_-]*$"')
  assert.equal(
    check([{ name: 'a', http: { method: 'PUT', path: 'a' } }]),
    'p.json: admin_commands[0].http.method must be equal to one of the allowed values (GET, POST)',
  )
  assert.equal(
    check([{ name: 'a', http: { method: 'GET', path: '/a' } }]),
    'p.json: admin_commands[0].http.path must match pattern "^[a-z0-9-]+(/[a-z0-9-]+)*$"',
  )
  assert.equal(check([{ name: 'a', adhoc: { node: 'urn:other#a' } }]), 'p.json: admin_commands[0].adhoc.node must match pattern "^urn:xmppd:admin#[a-z0-9-]+$"')
  assert.equal(check([{ name: 'a', verb: 'GET' }]), 'p.json: admin_commands[0] must NOT have additional properties ("verb")')
  assert.equal(check([{ name: 'a', args: [{ name: 'host' }] }]), 'p.json: admin_commands[0].args[0].name must NOT be valid ("host" is the form\'s vhost field)')
  assert.equal(
    check([{ name: 'a', args: [{ name: 'n', type: 'number' }] }]),
    'p.json: admin_commands[0].args[0].type must be equal to one of the allowed values (string, integer, boolean, time, list)',
  )
  assert.equal(check(['a', { name: 'a' }]), 'p.json: admin_commands[1] name "a" is already declared by admin_commands[0]')
  assert.equal(
    check([
      { name: 'a', http: { method: 'GET', path: 'x' } },
      { name: 'b', http: { method: 'GET', path: 'x' } },
    ]),
    'p.json: admin_commands[1] http GET x is already declared by admin_commands[0]',
  )
  assert.equal(check([{ name: 'a', args: [{ name: 'n' }, { name: 'n' }] }]), 'p.json: admin_commands[0].args[1].name "n" is declared twice')
  assert.equal(
    check([{ name: 'a', args: [{ name: 'n', type: 'list', enum: ['x'] }] }]),
    'p.json: admin_commands[0].args[0].enum only a string argument takes an enum',
  )
})

const spec: AdminCommandSpec = checkManifestCommands('p.json', [
  {
    name: 'c',
    args: [
      { name: 's', enum: ['a', 'b'] },
      { name: 'n', type: 'integer', minimum: 1, maximum: 50 },
      { name: 'f', type: 'boolean' },
      { name: 't', type: 'time' },
      { name: 'l', type: 'list' },
      { name: 'free' },
    ],
  },
])[0]
const now = Date.UTC(2024, 4, 10, 12)
const args = (raw: Record<string, unknown>) => {
  try {
    return commandArgs(spec, raw, now)
  } catch (err) {
    return `${(err as { code: string }).code} ${(err as Error).message}`
  }
}

test('arguments travel as strings: integers in decimal, booleans true/false, times ISO UTC, lists space-separated; empty is absent', () => {
  assert.deepEqual(args({ s: 'a', n: 7, f: true, t: '2h', l: ['x', 'y z', ' '], free: ' two words ' }), {
    s: 'a',
    n: '7',
    f: 'true',
    t: '2024-05-10T10:00:00.000Z',
    l: 'x y z',
    free: 'two words',
  })
  assert.deepEqual(args({ n: '050', f: '0', l: 'p q' }), { n: '50', f: 'false', l: 'p q' })
  assert.deepEqual(args({ s: '', t: [], l: [], f: null }), {})
  assert.deepEqual(args({ f: ['1'] }), { f: 'true' })
})

test('a bad argument is XMPPD_ERR_COMMAND_ARGS naming it', () => {
  const E = 'XMPPD_ERR_COMMAND_ARGS'
  assert.equal(args({ x: '1' }), `${E} x: 'c' takes no such argument (it takes: s, n, f, t, l, free)`)
  assert.equal(args({ s: 'c' }), `${E} s: "c" is not one of a, b`)
  assert.equal(args({ n: '1.5' }), `${E} n: "1.5" is not a whole number`)
  assert.equal(args({ n: 0 }), `${E} n: must be at least 1`)
  assert.equal(args({ n: '51' }), `${E} n: must be at most 50`)
  assert.equal(args({ f: 'yes' }), `${E} f: "yes" is not true or false`)
  assert.equal(args({ free: true }), `${E} free: must be a string`)
  assert.equal(args({ free: ['a', 'b'] }), `${E} free: given more than once`)
  assert.equal(args({ l: [1, {}] }), `${E} l: must be a list of strings`)
  assert.match(args({ t: 'tomorrow' }) as string, /^XMPPD_ERR_COMMAND_ARGS t: "tomorrow" is not a time: use ISO 8601/)
})
