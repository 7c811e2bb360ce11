// Types for selfsigned@2 (untyped): generate() with a caller-made key pair.
declare module 'selfsigned' {
  interface Pems {
    private: string
    public: string
    cert: string
  }
  interface Options {
    keyPair?: { privateKey: string; publicKey: string }
    days?: number
    algorithm?: string
    extensions?: Array<Record<string, unknown>>
  }
  const selfsigned: { generate(attrs: Array<{ name: string; value: string }>, options?: Options): Pems }
  export default selfsigned
}
