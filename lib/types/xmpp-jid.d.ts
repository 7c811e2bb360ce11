// Types for @xmpp/jid@0.14 (ESM, untyped): the parts this project uses.
declare module '@xmpp/jid' {
  export class JID {
    constructor(local: string | null | undefined, domain: string, resource?: string | null)
    local: string
    domain: string
    resource: string
    toString(unescape?: boolean): string
    bare(): JID
    equals(other: JID): boolean
    getLocal(unescape?: boolean): string
    getDomain(): string
    getResource(): string
  }
  export function jid(address: string): JID
  export function jid(local: string | null, domain: string, resource?: string | null): JID
  export function parse(address: string): JID
  export function equal(a: JID, b: JID): boolean
  const j: typeof jid & { jid: typeof jid; JID: typeof JID; parse: typeof parse; equal: typeof equal }
  export default j
}
