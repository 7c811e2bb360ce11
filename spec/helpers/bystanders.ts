// Two clients that chat while a spec attacks the server (issue 14, "Done when": chat between two
// other clients, and its notification, keep working during and after each attack). The server is
// started with mod_event_pusher_http posting to a webhook recorder (pusherToml), so each message
// must both reach its recipient and arrive, by its body, at the recorder. One helper, so every
// attack spec checks the same thing.
import { connectClient, type TestClient } from './client.js'
import type { Recorder } from './webhook-recorder.js'

/** TOML (for configToml's `extra`) that points the plugin at `url`, a webhook recorder's. */
export function pusherToml(url: string): string {
  return `
[http_connections.bystanders_pool]
server = "${url}"

[plugins.mod_event_pusher_http]
pool_name = "bystanders_pool"
path = "/n"
`
}

export interface Bystanders {
  sender: TestClient
  recipient: TestClient
  /**
   * Sends a fresh message (`label` and a counter: never seen before) from sender to recipient;
   * resolves with its body once the recipient has it and the recorder got its notification.
   */
  chat(label: string): Promise<string>
  stop(): Promise<void>
}

export interface BystanderOptions {
  /** [jid, password] of each; alice to bob unless said. */
  sender?: [string, string]
  recipient?: [string, string]
  resource?: string
  /** For the message and for its notification each: generous, the server is under attack. */
  timeoutMs?: number
}

let sent = 0

/** Logs both in (real clients: STARTTLS, SASL, bind, presence). */
export async function connectBystanders(port: number, rec: Recorder, opts: BystanderOptions = {}): Promise<Bystanders> {
  const [fromJid, fromPw] = opts.sender ?? ['alice@localhost', 'alice-pw']
  const [toJid, toPw] = opts.recipient ?? ['bob@localhost', 'bob-pw']
  const resource = opts.resource ?? 'bystander'
  const timeoutMs = opts.timeoutMs ?? 20_000
  const sender = await connectClient(port, fromJid, fromPw, { resource })
  const recipient = await connectClient(port, toJid, toPw, { resource }).catch(async (err) => {
    await sender.stop()
    throw err
  })
  return {
    sender,
    recipient,
    async chat(label) {
      const body = `${label} (bystanders #${++sent})`
      await sender.chat(toJid, body)
      await recipient.next((s) => s.getChildText?.('body') === body, timeoutMs)
      await rec.waitForAll([body], timeoutMs)
      return body
    },
    async stop() {
      await Promise.all([sender.stop(), recipient.stop()])
    },
  }
}
