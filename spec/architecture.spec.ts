// The boundaries of DESIGN.md and STYLE.md, checked on the sources: the plugin needs nothing but
// the contract; only the transport layer touches node-xmpp-server; lib/ never imports spec/; the server
// loads plugins by dynamic import only; one concern per file keeps files short.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { readdirSync, readFileSync, statSync } from 'node:fs'
import path from 'node:path'
import { root } from './helpers/xmppd.js'

function files(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const file = path.join(dir, name)
    return statSync(file).isDirectory() ? files(file) : name.endsWith('.ts') ? [file] : []
  })
}

// Static imports and re-exports (also when the formatter wraps their names over several lines),
// side-effect imports and dynamic import() with a literal.
const importsOf = (file: string) =>
  [
    ...readFileSync(file, 'utf8').matchAll(
      /(?:^|\n)\s*(?:import|export)\b[^'";]*?from\s+['"]([^'"]+)['"]|(?:^|\n)\s*import\s+['"]([^'"]+)['"]|\bimport\(\s*['"]([^'"]+)['"]\s*\)/g,
    ),
  ].map((m) => m[1] ?? m[2] ?? m[3])
const rel = (file: string) => path.relative(root, file)

test('lib/plugin imports only the contract, the errors, its own folder and its packages', () => {
  const packages = /^(node:[\w/]+|got|opossum|prom-client|@xmpp\/jid|better-sqlite3|ltx|@nats-io\/transport-node|@nats-io\/jetstream)$/
  const pluginDir = path.join(root, 'lib/plugin')
  const shared = ['lib/contract.ts', 'lib/errors.ts']
  const allowed = (file: string, spec: string) => {
    if (!spec.startsWith('.')) return packages.test(spec)
    const target = path.resolve(path.dirname(file), spec).replace(/\.js$/, '.ts')
    return target.startsWith(pluginDir + path.sep) || shared.includes(rel(target))
  }
  const bad = files(pluginDir).flatMap((f) =>
    importsOf(f)
      .filter((s) => !allowed(f, s))
      .map((s) => `${rel(f)} imports ${s}`),
  )
  assert.deepEqual(bad, [])
})

test('only the transport layer imports node-xmpp-server', () => {
  const users = files(path.join(root, 'lib')).filter((f) => importsOf(f).includes('node-xmpp-server') && !f.endsWith('.d.ts'))
  assert.deepEqual(users.map(rel).sort(), [
    'lib/server/xmpp/transport.ts',
    'lib/server/xmpp/transport/connection.ts',
    'lib/server/xmpp/transport/errors.ts',
    'lib/server/xmpp/transport/sasl.ts',
    'lib/server/xmpp/transport/session.ts',
    'lib/server/xmpp/transport/stream-management.ts',
  ])
})

// The rooms of lib/server and what each may import from its siblings: the folder names are the
// architecture. XMPP knows the hook registry and nothing else of plugins; config, observability
// and the demo stand alone; admin sits on top of the others; only the composition roots wire
// every room: main.ts (xmppd), deliver.ts (xmppd deliver) and plugin-host.ts, what both share.
const ROOMS: Record<string, RegExp> = {
  config: /^$/,
  observability: /^$/,
  demo: /^$/,
  xmpp: /^(observability\/[\w-]+|plugins\/hooks)\.js$/,
  plugins: /^(config|observability)\/[\w-]+\.js$/,
  admin: /^(config|observability|plugins|xmpp)\/[\w-]+\.js$/,
}

test('lib/server is grouped into rooms, and each imports only the rooms below it', () => {
  const serverDir = path.join(root, 'lib/server')
  const roots = ['deliver.ts', 'main.ts', 'plugin-host.ts']
  const loose = readdirSync(serverDir).filter((n) => n.endsWith('.ts') && !roots.includes(n))
  assert.deepEqual(loose, [], `only the composition roots (${roots.join(', ')}) sit directly in lib/server`)
  assert.deepEqual(
    readdirSync(serverDir)
      .filter((n) => statSync(path.join(serverDir, n)).isDirectory())
      .sort(),
    Object.keys(ROOMS).sort(),
  )
  const bad: string[] = []
  for (const [room, allowed] of Object.entries(ROOMS)) {
    for (const f of files(path.join(serverDir, room))) {
      for (const spec of importsOf(f)) {
        if (!spec.startsWith('.')) continue
        const target = path.relative(serverDir, path.resolve(path.dirname(f), spec))
        if (target.startsWith('..')) continue // lib/contract.js and lib/errors.js
        const [targetRoom] = target.split(path.sep)
        if (targetRoom === room) continue
        if (!allowed.test(target.split(path.sep).join('/'))) bad.push(`${rel(f)} imports ${spec}`)
      }
    }
  }
  assert.deepEqual(bad, [])
})

test('lib never imports spec, and the server never imports the plugin statically', () => {
  const bad = files(path.join(root, 'lib')).flatMap((f) =>
    importsOf(f)
      .filter((s) => s.includes('/spec/') || s.startsWith('../spec') || (rel(f).startsWith('lib/server/') && s.includes('plugin/')))
      .map((s) => `${rel(f)} imports ${s}`),
  )
  assert.deepEqual(bad, [])
})

test('source files stay under 300 lines (one concern each)', () => {
  const long = files(path.join(root, 'lib'))
    .filter((f) => !f.endsWith('.generated.ts'))
    .map((f) => [rel(f), readFileSync(f, 'utf8').split('\n').length] as const)
    .filter(([, n]) => n > 300)
  assert.deepEqual(long, [])
})
