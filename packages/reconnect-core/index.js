'use strict'
// Stand-in for the GitHub-only `reconnect-core` build that node-xmpp-core@5 depends on.
// What node-xmpp-core relies on (lib/Connection.js):
// - reconnect(createConnection)(opts) returns opts.emitter (the Connection itself), which gains
//   connect/listen/disconnect/end;
// - connect(...)/listen(...) call createConnection(...) and emit 'reconnect' first, then
//   'connection' and 'connect' for each new socket: at once when it is already open (or
//   opts.immediate is set), else on the socket's own 'connect';
// - end() is disconnect(): stop reconnecting, end the socket; 'disconnect' fires when it goes down;
// - called without `this` (Connection keeps a bare reference to end).
// Reconnection, only used by outgoing clients, backs off exponentially from opts.initialDelay to
// opts.maxDelay.
const { EventEmitter } = require('events')

module.exports = function reconnect(createConnection) {
  return function inject(opts, onConnect) {
    if (typeof opts === 'function') {
      onConnect = opts
      opts = {}
    }
    opts = opts || {}
    const emitter = opts.emitter || new EventEmitter()
    const initialDelay = opts.initialDelay || 1000
    const maxDelay = opts.maxDelay || 30000
    let args = []
    let attempts = 0
    let timer = null

    emitter.connected = false
    emitter.reconnect = true
    if (onConnect) emitter.on('connection', onConnect)

    function attempt() {
      timer = null
      emitter.emit('reconnect', attempts, attempts === 0 ? 0 : delayFor(attempts))
      const con = createConnection.apply(null, args)
      emitter._connection = con
      let down = false
      const onDown = (err) => {
        if (down) return
        down = true
        if (emitter._connection !== con) return // replaced (e.g. by a TLS upgrade): not a disconnect
        emitter.connected = false
        emitter.emit('disconnect', err)
        if (emitter.reconnect && !timer) {
          attempts++
          timer = setTimeout(attempt, delayFor(attempts))
        }
      }
      con.on('close', () => onDown())
      con.on('end', () => onDown())
      con.on('error', (err) => onDown(err))
      const up = () => {
        attempts = 0
        emitter.connected = true
        emitter.emit('connection', con)
        emitter.emit('connect', con)
      }
      // A socket handed over already open (accepted by a server, or wrapped for TLS) is up now.
      if (opts.immediate || (con.readyState === 'open' && !con.connecting)) up()
      else con.once('connect', up)
    }

    function delayFor(n) {
      return Math.min(maxDelay, initialDelay * 2 ** Math.max(0, n - 1))
    }

    emitter.connect = emitter.listen = function (...a) {
      emitter.reconnect = true
      if (a.length) args = a
      if (timer) {
        clearTimeout(timer)
        timer = null
      }
      attempt()
      return emitter
    }

    emitter.disconnect = emitter.end = function () {
      emitter.reconnect = false
      if (timer) {
        clearTimeout(timer)
        timer = null
      }
      if (emitter._connection && typeof emitter._connection.end === 'function') emitter._connection.end()
      return emitter
    }

    return emitter
  }
}
