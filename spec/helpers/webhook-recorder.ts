// A real HTTP endpoint for the durability specs: records each request's webhook-id and message,
// answers a status set at any time (or never: hang), and closes (its port refuses connections)
// and opens again on the same port, as a receiver that restarts. It keeps a few fields per request,
// not the request, so that tens of thousands stay cheap.
import http from 'node:http'
import type { AddressInfo, Socket } from 'node:net'

export interface Delivery {
  id: string
  message: string
  /** The status it was answered with; undefined while it hangs (or if it never got one). */
  status: number | undefined
  /** When it arrived (ms since the epoch), for diagnostics. */
  at: number
  /** Its webhook-signature header, if signed. */
  signature?: string
}

export interface Recorder {
  url: string
  deliveries: Delivery[]
  /** How to answer from now on: a status, or 'hang' (never answer). */
  answer(how: number | 'hang'): void
  up(): Promise<void>
  /**
   * Closes like a receiver that shuts down: stops listening (new connections are refused), lets
   * requests being answered finish, closes idle keep-alive sockets and drops hanging requests.
   */
  down(): Promise<void>
  close(): Promise<void>
  /** Resolves once every message got a 2xx answer at least once; rejects after timeoutMs. */
  waitForAll(messages: readonly string[], timeoutMs?: number): Promise<void>
}

export async function webhookRecorder({ startDown = false } = {}): Promise<Recorder> {
  let port = 0
  let server: http.Server | undefined
  let how: number | 'hang' = 204
  const deliveries: Delivery[] = []
  const answered = new Set<string>()
  const hanging = new Set<Socket>()
  /** Each called with every message answered 2xx for the first time. */
  let waiters: Array<(message: string) => void> = []

  const onRequest: http.RequestListener = (req, res) => {
    let body = ''
    req.setEncoding('utf8')
    req.on('data', (c: string) => (body += c))
    req.on('end', () => {
      const d: Delivery = { id: String(req.headers['webhook-id']), message: new URLSearchParams(body).get('message') ?? '', status: undefined, at: Date.now() }
      if (req.headers['webhook-signature']) d.signature = String(req.headers['webhook-signature'])
      deliveries.push(d)
      if (how === 'hang') return void hanging.add(req.socket)
      d.status = how
      res.writeHead(how).end()
      if (how >= 200 && how < 300 && !answered.has(d.message)) {
        answered.add(d.message)
        for (const w of waiters) w(d.message)
      }
    })
  }

  const self: Recorder = {
    url: '',
    deliveries,
    answer(next) {
      how = next
    },
    async up() {
      if (server) return
      const s = http.createServer(onRequest)
      await new Promise<void>((resolve) => s.listen(port, '127.0.0.1', resolve))
      server = s
      port = (s.address() as AddressInfo).port
      self.url = `http://127.0.0.1:${port}`
    },
    async down() {
      if (!server) return
      const s = server
      server = undefined
      const closed = new Promise<void>((resolve) => s.close(() => resolve()))
      s.closeIdleConnections()
      for (const socket of hanging) socket.destroy()
      hanging.clear()
      await closed
    },
    close: () => self.down(),
    waitForAll(messages, timeoutMs = 30_000) {
      // What is still missing, as a set: tens of thousands of answers stay cheap to follow.
      const missing = new Set(messages.filter((m) => !answered.has(m)))
      if (missing.size === 0) return Promise.resolve()
      return new Promise((resolve, reject) => {
        const check = (message: string) => {
          if (!missing.delete(message) || missing.size > 0) return
          done()
          resolve()
        }
        const timer = setTimeout(() => {
          done()
          const some = [...missing].slice(0, 3).join(', ')
          reject(new Error(`recorder: ${missing.size} of ${messages.length} never answered 2xx after ${timeoutMs} ms, e.g. ${some}`))
        }, timeoutMs)
        const done = () => {
          clearTimeout(timer)
          waiters = waiters.filter((w) => w !== check)
        }
        waiters.push(check)
      })
    },
  }
  await self.up()
  if (startDown) await self.down()
  return self
}

export interface DeliveryReport {
  /** Messages that never got a 2xx answer. */
  missing: string[]
  /** Requests beyond the first for a message. */
  duplicates: number
  /** Messages whose requests carried more than one webhook-id. */
  idChanged: string[]
}

/** Maps each expected message to the requests that carried it. */
export function deliveryReport(deliveries: readonly Delivery[], messages: readonly string[]): DeliveryReport {
  const byMessage = new Map<string, Delivery[]>()
  for (const d of deliveries) {
    const list = byMessage.get(d.message)
    if (list) list.push(d)
    else byMessage.set(d.message, [d])
  }
  const report: DeliveryReport = { missing: [], duplicates: 0, idChanged: [] }
  for (const m of messages) {
    const list = byMessage.get(m) ?? []
    if (!list.some((d) => d.status !== undefined && d.status >= 200 && d.status < 300)) report.missing.push(m)
    report.duplicates += Math.max(0, list.length - 1)
    if (new Set(list.map((d) => d.id)).size > 1) report.idChanged.push(m)
  }
  return report
}
