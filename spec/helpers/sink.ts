// A real HTTP endpoint on 127.0.0.1 (port 0) that records every request and answers as told:
// a status, after a delay, never (hang), or by destroying the socket.
import http from 'node:http'
import https from 'node:https'
import type { AddressInfo, Socket } from 'node:net'

export interface SinkRequest {
  method: string
  url: string
  headers: http.IncomingHttpHeaders
  /** The raw body, as bytes decoded as UTF-8. */
  body: string
  /** The body parsed as a form (a WHATWG form parser), in field order. */
  fields: Array<[string, string]>
  form: Record<string, string>
}

export interface Behaviour {
  status?: number
  /** Milliseconds before answering. */
  delay?: number
  /** Never answer (the socket stays open until close()). */
  hang?: boolean
  /** Destroy the socket instead of answering. */
  destroy?: boolean
  headers?: Record<string, string>
}

export interface Sink {
  url: string
  port: number
  requests: SinkRequest[]
  /** How to answer from now on: fixed, or per request. */
  behave(b: Behaviour | ((req: SinkRequest, index: number) => Behaviour)): void
  /** Resolves with the requests once at least `n` arrived; rejects after `timeoutMs`. */
  waitFor(n: number, timeoutMs?: number): Promise<SinkRequest[]>
  close(): Promise<void>
}

/** `tls`: serve https with this key and certificate. */
export async function startSink(opts: { tls?: { key: string; cert: string } } = {}): Promise<Sink> {
  const requests: SinkRequest[] = []
  const sockets = new Set<Socket>()
  const timers = new Set<NodeJS.Timeout>()
  let waiters: Array<() => void> = []
  let behaviour: (req: SinkRequest, index: number) => Behaviour = () => ({ status: 204 })

  const onRequest: http.RequestListener = (req, res) => {
    const chunks: Buffer[] = []
    req.on('data', (c: Buffer) => chunks.push(c))
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8')
      const fields = [...new URLSearchParams(body)]
      const record: SinkRequest = { method: req.method ?? '', url: req.url ?? '', headers: req.headers, body, fields, form: Object.fromEntries(fields) }
      const index = requests.push(record) - 1
      for (const w of waiters) w()
      const b = behaviour(record, index)
      const answer = () => {
        if (b.destroy) return req.socket.destroy()
        if (b.hang) return
        res.writeHead(b.status ?? 204, b.headers).end()
      }
      if (b.delay) {
        const t = setTimeout(() => (timers.delete(t), answer()), b.delay)
        timers.add(t)
      } else answer()
    })
  }
  const server = opts.tls ? https.createServer(opts.tls, onRequest) : http.createServer(onRequest)
  server.on(opts.tls ? 'secureConnection' : 'connection', (s) => {
    sockets.add(s)
    s.on('close', () => sockets.delete(s))
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo

  return {
    url: `${opts.tls ? 'https' : 'http'}://127.0.0.1:${port}`,
    port,
    requests,
    behave(b) {
      behaviour = typeof b === 'function' ? b : () => b
    },
    waitFor(n, timeoutMs = 2000) {
      if (requests.length >= n) return Promise.resolve(requests)
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => {
          waiters = waiters.filter((w) => w !== check)
          reject(new Error(`sink: ${requests.length} of ${n} requests after ${timeoutMs}ms`))
        }, timeoutMs)
        const check = () => {
          if (requests.length < n) return
          clearTimeout(timer)
          waiters = waiters.filter((w) => w !== check)
          resolve(requests)
        }
        waiters.push(check)
      })
    },
    async close() {
      for (const t of timers) clearTimeout(t)
      for (const s of sockets) s.destroy()
      await new Promise<void>((resolve) => server.close(() => resolve()))
    },
  }
}

/** A port nothing listens on (connection refused). */
export async function closedPort(): Promise<number> {
  const server = http.createServer()
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  await new Promise<void>((resolve) => server.close(() => resolve()))
  return port
}
