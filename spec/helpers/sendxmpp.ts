// Debian's go-sendxmpp as a second, independent client: STARTTLS without certificate checks
// (-n), PLAIN, one message read from stdin.
import { spawn } from 'node:child_process'

export function sendxmpp(port: number, user: string, password: string, to: string, body: string, timeoutMs = 15000): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn('go-sendxmpp', ['-n', '-j', `127.0.0.1:${port}`, '-u', user, '-p', password, to], { stdio: ['pipe', 'pipe', 'pipe'] })
    let output = ''
    child.stdout.on('data', (d) => (output += d))
    child.stderr.on('data', (d) => (output += d))
    const timer = setTimeout(() => {
      child.kill('SIGKILL')
      reject(new Error(`go-sendxmpp timed out: ${output}`))
    }, timeoutMs)
    child.on('error', (err) => (clearTimeout(timer), reject(err)))
    child.on('exit', (code) => {
      clearTimeout(timer)
      if (code === 0) resolve()
      else reject(new Error(`go-sendxmpp exited ${code}: ${output}`))
    })
    child.stdin.end(body)
  })
}
