// An HTTP endpoint that can be taken down (its port refuses connections) and brought back up on
// the same port, for outage and flapping specs. Answers 204 while up and counts what it got.
import http from 'node:http'
import type { AddressInfo, Socket } from 'node:net'

export interface Switchable {
  url: string
  received: number
  up(): Promise<void>
  down(): Promise<void>
  close(): Promise<void>
}

export async function switchableEndpoint(): Promise<Switchable> {
  let port = 0
  let server: http.Server | undefined
  const sockets = new Set<Socket>()
  const self: Switchable = {
    url: '',
    received: 0,
    async up() {
      if (server) return
      server = http.createServer((req, res) => {
        req.resume()
        req.on('end', () => {
          self.received++
          res.writeHead(204).end()
        })
      })
      server.on('connection', (s) => {
        sockets.add(s)
        s.on('close', () => sockets.delete(s))
      })
      await new Promise<void>((resolve) => server!.listen(port, '127.0.0.1', resolve))
      port = (server.address() as AddressInfo).port
      self.url = `http://127.0.0.1:${port}`
    },
    async down() {
      if (!server) return
      const s = server
      server = undefined
      for (const socket of sockets) socket.destroy()
      await new Promise<void>((resolve) => s.close(() => resolve()))
    },
    close: () => self.down(),
  }
  await self.up()
  return self
}
