// The command lines of xmppd and xmppctl: node:util's parseArgs, with our own one-line messages
// for bad usage (parseArgs' own text quotes the option unevenly and suggests a `--` nobody needs).
import { readFileSync } from 'node:fs'
import { parseArgs, type ParseArgsConfig } from 'node:util'

/** Bad usage: the CLI prints `<bin>: <message> (see <help>)` on one line and exits 2. */
export class UsageError extends Error {
  /** The help command to point at, e.g. `xmppctl plugin enable --help`. */
  constructor(
    message: string,
    readonly help?: string,
  ) {
    super(message)
    this.name = 'UsageError'
  }
}

type Options = NonNullable<ParseArgsConfig['options']>
type Parsed<O extends Options> = ReturnType<typeof parseArgs<{ args: string[]; options: O; allowPositionals: true; strict: true }>>

/** Parses `argv` against `options`, with positionals; throws UsageError on anything parseArgs would reject. */
export function parseCommandLine<O extends Options>(argv: string[], options: O): Parsed<O> {
  // A lenient pass first: its tokens say which option was wrong and how, in our words.
  const { tokens } = parseArgs({ args: argv, options, allowPositionals: true, strict: false, tokens: true })
  for (const t of tokens) {
    if (t.kind !== 'option') continue
    const spec = Object.hasOwn(options, t.name) ? options[t.name] : undefined
    if (!spec) throw new UsageError(`unknown option ${t.rawName}`)
    // `--token --json`: parseArgs refuses a separate value that starts with '-' (--token=-x is fine).
    if (spec.type === 'string' && (t.value === undefined || (!t.inlineValue && t.value.startsWith('-'))))
      throw new UsageError(`option ${t.rawName} needs a value`)
    if (spec.type === 'boolean' && t.inlineValue) throw new UsageError(`option ${t.rawName} takes no value`)
  }
  try {
    return parseArgs({ args: argv, options, allowPositionals: true, strict: true })
  } catch (err) {
    // Nothing known is left for the strict pass to refuse; if it does, its first line, unquoted.
    throw new UsageError((err as Error).message.split('\n')[0].replace(/'/g, ''))
  }
}

/** The one line a CLI prints for bad usage. */
export function usageLine(bin: string, err: UsageError): string {
  return `${bin}: ${err.message} (see ${err.help ?? `${bin} --help`})`
}

/** This package's version, from package.json (two folders up from lib/cli and from dist/cli). */
export function packageVersion(): string {
  return (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version
}
