// A fast notification sink in its own process (pinned by the bench to the other core): answers
// 204 at once (or never, with --hang), counts requests, and for bodies carrying a send time
// ("t=<epoch ms>" in the message) records the latency from the client's send to arrival.
import http from 'node:http'

const hang = process.argv.includes('--hang')
let count = 0
let latencies = []
const server = http.createServer((req, res) => {
  const chunks = []
  req.on('data', (c) => chunks.push(c))
  req.on('end', () => {
    count++
    const m = /t%3D(\d+(?:\.\d+)?)/.exec(Buffer.concat(chunks).toString('latin1'))
    if (m) latencies.push(performance.timeOrigin + performance.now() - Number(m[1]))
    if (!hang) res.writeHead(204).end()
  })
})
server.keepAliveTimeout = 60_000
server.listen(0, '127.0.0.1', () => process.send({ port: server.address().port }))
process.on('message', (msg) => {
  if (msg === 'count') process.send({ count })
  if (msg === 'latencies') {
    process.send({ latencies })
    latencies = []
  }
  if (msg === 'reset') {
    count = 0
    latencies = []
    process.send({ count })
  }
})
