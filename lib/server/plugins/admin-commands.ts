// The admin commands a plugin lists in plugin.json ("admin_commands") and how operators reach
// them. A plain string ("status") is a command the host calls itself (the status routes); an
// object may also give it an admin API route (`http`) and an XEP-0050 node (`adhoc`), and declares
// its arguments so the host can check and normalise them before the plugin sees them. The host
// stays plugin-agnostic: it knows commands only by these declarations (docs/operations.md,
// "Plugin admin commands").
import { Ajv } from 'ajv'

/**
 * How an argument travels: always as a string in `args` (the contract's AdminCommand).
 * - string: as given; `enum` limits it.
 * - integer: decimal digits, within `minimum`/`maximum` when given.
 * - boolean: "true" or "false".
 * - time: ISO 8601 or relative (`45s`, `30m`, `2h`, `7d`, before now), resolved by the host at
 *   the request's arrival and passed as ISO 8601 UTC (`2024-05-01T10:00:00.000Z`).
 * - list: items without whitespace, joined by single spaces (`id1 id2 id3`).
 * An argument not given, or given empty, is absent from `args`.
 */
export const ARG_TYPES = ['string', 'integer', 'boolean', 'time', 'list'] as const
export type ArgType = (typeof ARG_TYPES)[number]

export interface CommandArg {
  name: string
  type: ArgType
  /** The form field's label (XEP-0050) and the API docs' wording. */
  label?: string
  enum?: string[]
  minimum?: number
  maximum?: number
}

export interface AdminCommandSpec {
  name: string
  /** What it does, one line: the XEP-0050 command's name in disco. */
  description?: string
  args: CommandArg[]
  /** `/api/hosts/:host/plugins/:id/<path>`; GET takes args from the query, POST from a JSON object. */
  http?: { method: 'GET' | 'POST'; path: string }
  /** An XEP-0050 node on the server's JID, for general.admins; its form asks for `host` and the args. */
  adhoc?: { node: string }
}

export const ADHOC_NODE_PREFIX = 'urn:xmppd:admin#'

const NAME = '^[a-z][a-z0-9_-]*$'
const validate = new Ajv({ allErrors: true, strict: false }).compile({
  type: 'array',
  items: {
    anyOf: [
      { type: 'string', pattern: NAME },
      {
        type: 'object',
        additionalProperties: false,
        required: ['name'],
        properties: {
          name: { type: 'string', pattern: NAME },
          description: { type: 'string' },
          args: {
            type: 'array',
            items: {
              type: 'object',
              additionalProperties: false,
              required: ['name'],
              properties: {
                // `host` is the form's own field (the vhost), so no argument may take that name.
                name: { type: 'string', pattern: '^[a-z][a-z0-9_]*$', not: { const: 'host' } },
                type: { enum: [...ARG_TYPES] },
                label: { type: 'string' },
                enum: { type: 'array', items: { type: 'string', minLength: 1 }, minItems: 1, uniqueItems: true },
                minimum: { type: 'integer' },
                maximum: { type: 'integer' },
              },
            },
          },
          http: {
            type: 'object',
            additionalProperties: false,
            required: ['method', 'path'],
            properties: { method: { enum: ['GET', 'POST'] }, path: { type: 'string', pattern: '^[a-z0-9-]+(/[a-z0-9-]+)*$' } },
          },
          adhoc: {
            type: 'object',
            additionalProperties: false,
            required: ['node'],
            properties: { node: { type: 'string', pattern: `^${ADHOC_NODE_PREFIX}[a-z0-9-]+$` } },
          },
        },
      },
    ],
  },
})

/** Checks a manifest's `admin_commands` and gives every entry the object form; errors name the file and the entry. */
export function checkManifestCommands(file: string, commands: unknown): AdminCommandSpec[] {
  if (commands === undefined) return []
  const at = (i: number, rest = '') => `${file}: admin_commands[${i}]${rest}`
  if (!Array.isArray(commands)) throw new Error(`${file}: admin_commands must be an array`)
  for (const [i, c] of commands.entries()) {
    if (validate([c])) continue
    // anyOf reports both branches; the object branch's errors say what is wrong with an object.
    const errors = validate.errors!.filter((e) => (typeof c === 'string' ? e.instancePath === '/0' : e.instancePath !== '/0' || e.keyword !== 'type'))
    const e = errors.find((x) => x.keyword !== 'anyOf') ?? validate.errors![0]
    const where = e.instancePath
      .replace(/^\/0/, '')
      .replace(/\/(\d+)/g, '[$1]')
      .replace(/\//g, '.')
    const detail =
      e.keyword === 'enum'
        ? ` (${(e.params as { allowedValues: string[] }).allowedValues.join(', ')})`
        : e.keyword === 'additionalProperties'
          ? ` ("${(e.params as { additionalProperty: string }).additionalProperty}")`
          : e.keyword === 'not'
            ? ' ("host" is the form\'s vhost field)'
            : ''
    throw new Error(`${at(i, where)} ${e.message}${detail}`)
  }
  const list: AdminCommandSpec[] = commands.map((c) => (typeof c === 'string' ? { name: c, args: [] } : { ...c, args: c.args ?? [] }))
  const seen = new Map<string, string>()
  const once = (key: string, what: string, i: number) => {
    if (seen.has(key)) throw new Error(`${at(i)} ${what} is already declared by ${seen.get(key)}`)
    seen.set(key, `admin_commands[${i}]`)
  }
  for (const [i, c] of list.entries()) {
    once(`name ${c.name}`, `name "${c.name}"`, i)
    if (c.http) once(`http ${c.http.method} ${c.http.path}`, `http ${c.http.method} ${c.http.path}`, i)
    if (c.adhoc) once(`adhoc ${c.adhoc.node}`, `adhoc node ${c.adhoc.node}`, i)
    const names = new Set<string>()
    for (const [j, a] of c.args.entries()) {
      a.type ??= 'string'
      if (names.has(a.name)) throw new Error(`${at(i, `.args[${j}].name`)} "${a.name}" is declared twice`)
      names.add(a.name)
      if (a.enum && a.type !== 'string') throw new Error(`${at(i, `.args[${j}].enum`)} only a string argument takes an enum`)
      if ((a.minimum !== undefined || a.maximum !== undefined) && a.type !== 'integer')
        throw new Error(`${at(i, `.args[${j}]`)} only an integer argument takes a minimum or maximum`)
    }
  }
  return list
}
