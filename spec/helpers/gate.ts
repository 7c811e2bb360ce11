// A real HTTP endpoint on 127.0.0.1 (port 0) that holds each request at a gate until the spec
// releases it, or answers on its own once told how, and counts how many it holds at once: for
// specs about how many requests are in flight, and which one goes when.
import http from 'node:http'
import type { AddressInfo, Socket } from 'node:net'

export interface GateRequest {
  url: string
  headers: http.IncomingHttpHeaders
  body: string
}

export interface Gate {
  url: string
  /** Every request that arrived, in order of arrival. */
  requests: GateRequest[]
  /** Arrived and not answered yet. */
  readonly held: number
  /** The most requests held at one time. */
  readonly maxHeld: number
  /** From now on, answer each request with `status` after `delayMs`; undefined: hold them. */
  auto(status: number | undefined, delayMs?: number): void
  /** Answers every request held now with `status`. */
  release(status?: number): void
  /** Resolves once at least `n` requests arrived; rejects after `timeoutMs`. */
  waitFor(n: number, timeoutMs?: number): Promise<GateRequest[]>
  close(): Promise<void>
}

export async function startGate(): Promise<Gate> {
  const requests: GateRequest[] = []
  const waiting = new Set<http.ServerResponse>()
  const sockets = new Set<Socket>()
  const timers = new Set<NodeJS.Timeout>()
  let waiters: Array<() => void> = []
  let mode: { status: number; delayMs: number } | undefined
  let maxHeld = 0

  const answer = (res: http.ServerResponse, status: number) => {
    if (!waiting.delete(res)) return
    res.writeHead(status).end()
  }
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = []
    req.on('data', (c: Buffer) => chunks.push(c))
    req.on('end', () => {
      requests.push({ url: req.url ?? '', headers: req.headers, body: Buffer.concat(chunks).toString('utf8') })
      waiting.add(res)
      // A request the client gave up on is no longer held.
      res.once('close', () => waiting.delete(res))
      maxHeld = Math.max(maxHeld, waiting.size)
      for (const w of waiters) w()
      if (!mode) return
      const { status, delayMs } = mode
      if (delayMs === 0) return answer(res, status)
      const t = setTimeout(() => (timers.delete(t), answer(res, status)), delayMs)
      timers.add(t)
    })
  })
  server.on('connection', (s) => {
    sockets.add(s)
    s.on('close', () => sockets.delete(s))
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo

  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    get held() {
      return waiting.size
    },
    get maxHeld() {
      return maxHeld
    },
    auto(status, delayMs = 0) {
      mode = status === undefined ? undefined : { status, delayMs }
    },
    release(status = 204) {
      for (const res of [...waiting]) answer(res, status)
    },
    waitFor(n, timeoutMs = 3000) {
      if (requests.length >= n) return Promise.resolve(requests)
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => {
          waiters = waiters.filter((w) => w !== check)
          reject(new Error(`gate: ${requests.length} of ${n} requests after ${timeoutMs}ms`))
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
