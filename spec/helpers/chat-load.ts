// Chat messages at full speed from real XMPP sessions: one raw stream per client (STARTTLS, SASL
// PLAIN, bind), written in large batches, whatever comes back read and dropped. Much cheaper than
// @xmpp/client for thousands of messages on a small machine, and the server cannot tell them apart.
import { RawXmpp } from './raw-xmpp.js'

export interface ChatSender {
  jid: string
  /** Writes one chat message per body to `to`, honouring the socket's backpressure. */
  send(to: string, bodies: readonly string[]): Promise<void>
  close(): void
}

const escape = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;')

export async function chatSender(port: number, user: string, password: string, resource = 'load'): Promise<ChatSender> {
  const raw = await RawXmpp.connect(port)
  const jid = await raw.login(user, password, resource)
  raw.onText(() => undefined) // bounces and messages for it: not kept
  return {
    jid,
    async send(to, bodies) {
      const BATCH = 200
      for (let i = 0; i < bodies.length; i += BATCH) {
        let chunk = ''
        for (const body of bodies.slice(i, i + BATCH)) chunk += `<message to='${to}' type='chat'><body>${escape(body)}</body></message>`
        if (!raw.write(chunk)) await raw.drained()
      }
    },
    close: () => raw.close(),
  }
}

/** `n` distinct bodies, `tag 0` … `tag n-1`. */
export const bodies = (tag: string, n: number): string[] => Array.from({ length: n }, (_, i) => `${tag} ${i}`)
