// A fast notification sink in its own process (pinned by the bench to the other core): answers
// 204 at once (or never, with --hang), counts requests, and for bodies carrying a send time
// ("t=<epoch ms>" in the message) records the latency from the client's send to arrival. Bodies
// carrying a key ("k=<n>") are tallied per key (what arrived, and how often: the kill -9 bench).
// It can be taken down (its port then refuses connections) and brought back on the same port,
// and it records when it came back and when requests arrived (epoch ms), for the outage bench.
import http from 'node:http'

const hang = process.argv.includes('--hang')
const now = () => performance.timeOrigin + performance.now()
let count = 0
let latencies = []
let keys = new Map()
let firstAt = 0
let lastAt = 0
let upAt = 0
let port = 0
const sockets = new Set()
let server

function listen(reply) {
  server = http.createServer((req, res) => {
    const chunks = []
    req.on('data', (c) => chunks.push(c))
    req.on('end', () => {
      count++
      lastAt = now()
      if (count === 1) firstAt = lastAt
      const body = Buffer.concat(chunks).toString('latin1')
      const m = /t%3D(\d+(?:\.\d+)?)/.exec(body)
      if (m) latencies.push(lastAt - Number(m[1]))
      const k = /k%3D(\d+)/.exec(body)
      if (k) keys.set(k[1], (keys.get(k[1]) ?? 0) + 1)
      if (!hang) res.writeHead(204).end()
    })
  })
  server.keepAliveTimeout = 60_000
  server.on('connection', (s) => {
    sockets.add(s)
    s.on('close', () => sockets.delete(s))
  })
  server.once('error', (err) => process.send({ error: `sink: listen on ${port}: ${err.message}` }))
  server.listen(port, '127.0.0.1', () => {
    port = server.address().port
    upAt = now()
    reply()
  })
}

listen(() => process.send({ port }))
process.on('message', (msg) => {
  if (msg === 'count') process.send({ count })
  if (msg === 'latencies') {
    process.send({ latencies })
    latencies = []
  }
  if (msg === 'times') process.send({ times: { count, upAt, firstAt, lastAt } })
  if (msg === 'keys') process.send({ keys: [...keys] })
  if (msg === 'reset') {
    count = 0
    latencies = []
    keys = new Map()
    firstAt = lastAt = 0
    process.send({ count })
  }
  // Down: the port refuses connections (an endpoint that is off), open ones are cut.
  if (msg === 'down') {
    const s = server
    server = undefined
    for (const socket of sockets) socket.destroy()
    s.close(() => process.send({ down: true }))
  }
  if (msg === 'up') listen(() => process.send({ up: upAt }))
})
