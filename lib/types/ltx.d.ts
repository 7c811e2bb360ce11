// Types for ltx@3 (untyped): the parts the plugin uses to rebuild a stored stanza for callback
// modules (lib/plugin/event.ts). Elements satisfy the contract's structural `Element`.
declare module 'ltx' {
  export class Element {
    constructor(name: string, attrs?: Record<string, string>)
    name: string
    attrs: Record<string, string | undefined>
    children: Array<Element | string>
    c(name: string, attrs?: Record<string, string>): Element
    t(text: string): Element
    up(): Element
    toString(): string
  }
  export function parse(xml: string): Element
}
