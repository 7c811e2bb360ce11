// Packs the npm tarball with the node-xmpp-server chain bundled (bundleDependencies), so that it
// installs from the npm registry alone: node-xmpp-core names `reconnect-core` as a GitHub
// tarball, and npm ignores a dependency's `overrides`, so only a bundled copy of our stand-in
// (packages/reconnect-core) reaches users. bundleDependencies is set for the pack only: kept in
// package.json it makes npm write a lockfile whose nested link to the stand-in is wrong, and
// `npm ci` then refuses it. Arguments go to `npm pack` (e.g. --pack-destination DIR).
import { readFileSync, writeFileSync } from 'node:fs'
import { spawnSync } from 'node:child_process'

const file = new URL('../package.json', import.meta.url)
const original = readFileSync(file, 'utf8')
const manifest = JSON.parse(original)
manifest.bundleDependencies = ['node-xmpp-server', 'reconnect-core']
writeFileSync(file, `${JSON.stringify(manifest, null, 2)}\n`)
let status = 1
try {
  // dist/ is built already (npm run pack builds first); skip prepare.
  status = spawnSync('npm', ['pack', '--ignore-scripts', ...process.argv.slice(2)], { stdio: 'inherit' }).status ?? 1
} finally {
  writeFileSync(file, original)
}
process.exit(status)
