// The server's data folder (general.data_dir) and each plugin's folder in it: created by the
// host, private to the server's user (0700: it holds the admin token and the plugins' state), and
// proven writable by writing and removing a file, since an existing folder can still refuse
// writes (permissions, a read-only mount) and a plugin would otherwise fail later, mid-delivery.
import { mkdirSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { randomBytes } from 'node:crypto'
import path from 'node:path'

/** A plugin's own folder: `<data_dir>/<plugin id>`, shared by its instances on every vhost. */
export function pluginDataDir(dataDir: string, id: string): string {
  return path.join(dataDir, id)
}

/**
 * Creates `dir` (and its parents) if missing and checks that files can be written in it.
 * Returns why it cannot be used, in words that name the path, or undefined when it can.
 */
export function prepareDataDir(dir: string): string | undefined {
  try {
    mkdirSync(dir, { recursive: true, mode: 0o700 })
  } catch (err) {
    return `cannot create ${dir}: ${why(err, dir)}`
  }
  const probe = path.join(dir, `.xmppd-probe-${process.pid}-${randomBytes(4).toString('hex')}`)
  try {
    writeFileSync(probe, '', { flag: 'wx' })
  } catch (err) {
    return `cannot write in ${dir}: ${why(err, dir)}`
  }
  rmSync(probe, { force: true })
  return undefined
}

function why(err: unknown, dir: string): string {
  const e = err as NodeJS.ErrnoException
  switch (e?.code) {
    case 'EEXIST':
    case 'ENOTDIR':
      return `${fileInTheWay(dir) ?? 'a part of the path'} is a file, not a folder`
    case 'EACCES':
    case 'EPERM':
      return 'permission denied'
    case 'EROFS':
      return 'read-only file system'
    default:
      return e?.message ?? String(err)
  }
}

/** The nearest existing part of `dir` that is not a folder (mkdir names only `dir` itself). */
function fileInTheWay(dir: string): string | undefined {
  for (let p = dir; p !== path.dirname(p); p = path.dirname(p)) {
    try {
      if (!statSync(p).isDirectory()) return p
      return undefined
    } catch {
      // missing, or under a file: look further up
    }
  }
  return undefined
}
