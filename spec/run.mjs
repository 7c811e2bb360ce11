// Runs every spec under spec/ with node's test runner (TypeScript through tsx). The fixture
// certificate is trusted through NODE_EXTRA_CA_CERTS, which Node reads only at start-up, so the
// runner sets it for the test processes.
import { spawnSync } from 'node:child_process'
import { readdirSync, statSync } from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..')
const only = process.argv.slice(2)

function specs(dir) {
  return readdirSync(dir).flatMap((name) => {
    const file = path.join(dir, name)
    if (statSync(file).isDirectory()) return name === 'fixtures' || name === 'helpers' ? [] : specs(file)
    return name.endsWith('.spec.ts') ? [file] : []
  })
}

const files = (only.length ? only.map((f) => path.resolve(f)) : specs(path.join(root, 'spec'))).sort()
const result = spawnSync(process.execPath, ['--import', 'tsx', '--test', '--test-concurrency=2', ...files], {
  stdio: 'inherit',
  cwd: root,
  env: { ...process.env, NODE_EXTRA_CA_CERTS: path.join(root, 'spec/fixtures/tls/cert.pem'), XMPPD_ADMIN_TOKEN: '' },
})
process.exit(result.status ?? 1)
