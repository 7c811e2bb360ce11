// @xmpp/client ships no types; the specs use it loosely (stanzas are ltx elements).
declare module '@xmpp/client' {
  export function client(options: Record<string, unknown>): any
  export function xml(name: string, attrs?: Record<string, string>, ...children: unknown[]): any
}
