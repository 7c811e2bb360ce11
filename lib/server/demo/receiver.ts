// The built-in notification receiver of the embedded default: an HTTP endpoint that answers 200
// and prints each notification it gets, so the whole flow is visible without another service.
import http from 'node:http'
import type { AddressInfo } from 'node:net'

export interface Receiver {
  port: number
  url: string
  close(): Promise<void>
}

export async function startReceiver(opts: { ip: string; port: number; print?: (line: string) => void }): Promise<Receiver> {
  const print = opts.print ?? ((line: string) => process.stdout.write(`${line}\n`))
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = []
    req.on('data', (c: Buffer) => chunks.push(c))
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8')
      const type = String(req.headers['content-type'] ?? '')
      let shown: string
      if (type.startsWith('application/x-www-form-urlencoded')) {
        shown = [...new URLSearchParams(body)].map(([k, v]) => `${k}=${JSON.stringify(v)}`).join(' ')
      } else {
        shown = body.length > 500 ? `${body.slice(0, 500)}…` : body
      }
      print(`[receiver] ${req.method} ${req.url} ${shown}`)
      res.writeHead(200, { 'content-type': 'text/plain' })
      res.end('ok\n')
    })
  })
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(opts.port, opts.ip, () => resolve())
  })
  const port = (server.address() as AddressInfo).port
  return {
    port,
    url: `http://${opts.ip}:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve())
        server.closeAllConnections()
      }),
  }
}
