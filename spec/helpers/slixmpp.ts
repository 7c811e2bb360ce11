// Runs one of the slixmpp checks (spec/fixtures/slixmpp/*.py, Debian's python3-slixmpp) against a
// server on loopback, trusting the fixture certificate; resolves with the JSON object it prints last.
import { execFile } from 'node:child_process'
import path from 'node:path'
import { fixtureCert, root } from './xmppd.js'

export function slixmpp<T = Record<string, unknown>>(script: string, port: number): Promise<T> {
  const file = path.join(root, 'spec/fixtures/slixmpp', script)
  return new Promise((resolve, reject) => {
    execFile(
      '/usr/bin/python3',
      [file, String(port), fixtureCert],
      { timeout: 60_000, env: { ...process.env, PYTHONDONTWRITEBYTECODE: '1' } },
      (err, stdout, stderr) => {
        if (err) return reject(new Error(`slixmpp ${script} failed: ${err.message}\n${stderr}`))
        try {
          resolve(JSON.parse(stdout.trim().split('\n').pop() ?? '') as T)
        } catch {
          reject(new Error(`slixmpp ${script} printed no JSON: ${stdout}\n${stderr}`))
        }
      },
    )
  })
}
