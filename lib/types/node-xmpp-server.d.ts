// The parts of node-xmpp-server@2.2.7 (untyped CommonJS) that lib/server/xmpp/transport.ts uses.
declare module 'node-xmpp-server' {
  import type { EventEmitter } from 'node:events'
  import type { Server as NetServer, Socket } from 'node:net'
  import type { SecureContext } from 'node:tls'

  export interface LtxElement {
    name: string
    attrs: Record<string, any>
    children: Array<LtxElement | string>
    parent: LtxElement | null
    is(name: string, xmlns?: string): boolean
    getChild(name: string, xmlns?: string): LtxElement | undefined
    getChildren(name: string, xmlns?: string): LtxElement[]
    getChildText(name: string, xmlns?: string): string | null
    getText(): string
    c(name: string, attrs?: Record<string, any>): LtxElement
    t(text: string): LtxElement
    up(): LtxElement
    cnode(child: LtxElement): LtxElement
    root(): LtxElement
    /** A deep copy without a parent. */
    clone(): LtxElement
    toString(): string
  }
  export interface ElementCtor {
    new (name: string, attrs?: Record<string, any>): LtxElement
  }

  export interface NxsConnection extends EventEmitter {
    socket: Socket | null
    parser: (EventEmitter & { element?: LtxElement; write(data: string): void; end(): void }) | null
    isSecure?: boolean
    streamOpened?: boolean
    streamAttrs: Record<string, string>
    xmlns: Record<string, string>
    NS_XMPP_TLS: string
    send(stanza: LtxElement | string): boolean | undefined
    error(condition: string, message?: string): void
    startParser(): void
    stopParser(): void
    onData(data: Buffer | string): void
    setSecure(credentials?: unknown, isServer?: boolean, servername?: string): void
    pause(): void
    resume(): void
    end(): void
  }

  export interface NxsSession extends EventEmitter {
    connection: NxsConnection
    server: unknown
    jid?: { toString(): string; setResource(r: string): void; local: string; domain: string }
    authenticated: boolean
    serverdomain?: string
    mechanism?: unknown
    mechanisms: Array<{ prototype: { name: string } }>
    send(stanza: LtxElement | string): void
    end(): void
  }

  export interface NxsTCPServer extends EventEmitter {
    server: NetServer & { stop?: () => void }
    options: Record<string, any>
    credentials: SecureContext
    Session: unknown
    acceptConnection(socket: Socket): void
    registerSaslMechanism(m: unknown): void
  }

  interface NodeXmppServer {
    C2S: {
      TCPServer: new (options: Record<string, unknown>) => NxsTCPServer
      _Session: new (options: Record<string, unknown>) => NxsSession
    }
    Connection: new (options: Record<string, unknown>) => NxsConnection
    Element: ElementCtor
    auth: { Plain: unknown; Mechanism: unknown }
  }
  const nxs: NodeXmppServer
  export default nxs
}
