// Temporary folders for a spec file's servers and fake hosts, removed when its process exits:
// not on stop, since a spec may start a server or plugin again on the same folder to see what
// it kept. Every spec file runs in a process of its own (node --test).
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'

const made: string[] = []

process.once('exit', () => {
  for (const dir of made) rmSync(dir, { recursive: true, force: true })
})

/** A fresh folder under the system's temp folder, removed when the process exits. */
export function tempDir(prefix: string): string {
  const dir = mkdtempSync(path.join(tmpdir(), prefix))
  made.push(dir)
  return dir
}
