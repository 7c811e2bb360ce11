// A declared admin command's arguments (admin-commands.ts), from what the admin API and the
// XEP-0050 form received, to the strings the plugin gets. Checked here, once for every way in,
// so a typo is a 400 naming the argument before the plugin runs; what only the plugin can judge
// (which arguments go together) it refuses with the same coded error.
import { XMPPD_ERR_COMMAND_ARGS } from '../../errors.js'
import type { AdminCommandSpec, CommandArg } from './admin-commands.js'
import { parseTime } from './time-arg.js'

/** A received value: a query parameter or form field (several when repeated), or a JSON value. */
export type RawArg = unknown

/** The plugin's `args`: every declared argument that was given, as a string (see ARG_TYPES). */
export function commandArgs(spec: AdminCommandSpec, raw: Readonly<Record<string, RawArg>>, now: number): Record<string, string> {
  const args: Record<string, string> = {}
  for (const [name, value] of Object.entries(raw)) {
    const arg = spec.args.find((a) => a.name === name)
    if (!arg) {
      const known = spec.args.map((a) => a.name).join(', ') || 'none'
      throw new XMPPD_ERR_COMMAND_ARGS(name, `'${spec.name}' takes no such argument (it takes: ${known})`)
    }
    const text = arg.type === 'list' ? listOf(arg, value) : scalarOf(arg, value, now)
    if (text !== undefined) args[name] = text
  }
  return args
}

function scalarOf(arg: CommandArg, value: RawArg, now: number): string | undefined {
  if (Array.isArray(value)) {
    if (value.length > 1) throw new XMPPD_ERR_COMMAND_ARGS(arg.name, 'given more than once')
    value = value[0]
  }
  if (value === undefined || value === null) return undefined
  if (typeof value === 'boolean' && arg.type === 'boolean') return String(value)
  if (typeof value !== 'string' && !(typeof value === 'number' && Number.isFinite(value)))
    throw new XMPPD_ERR_COMMAND_ARGS(arg.name, `must be ${arg.type === 'boolean' ? 'true or false' : 'a string'}`)
  const text = String(value).trim()
  if (text === '') return undefined
  switch (arg.type) {
    case 'integer': {
      if (!/^-?\d{1,15}$/.test(text)) throw new XMPPD_ERR_COMMAND_ARGS(arg.name, `"${text}" is not a whole number`)
      const n = Number(text)
      if (arg.minimum !== undefined && n < arg.minimum) throw new XMPPD_ERR_COMMAND_ARGS(arg.name, `must be at least ${arg.minimum}`)
      if (arg.maximum !== undefined && n > arg.maximum) throw new XMPPD_ERR_COMMAND_ARGS(arg.name, `must be at most ${arg.maximum}`)
      return String(n)
    }
    case 'boolean':
      // XEP-0004 booleans are 1/0 or true/false.
      if (text === 'true' || text === '1') return 'true'
      if (text === 'false' || text === '0') return 'false'
      throw new XMPPD_ERR_COMMAND_ARGS(arg.name, `"${text}" is not true or false`)
    case 'time': {
      const at = parseTime(text, now)
      if (at instanceof Error) throw new XMPPD_ERR_COMMAND_ARGS(arg.name, at.message)
      return at.toISOString()
    }
    default:
      if (arg.enum && !arg.enum.includes(text)) throw new XMPPD_ERR_COMMAND_ARGS(arg.name, `"${text}" is not one of ${arg.enum.join(', ')}`)
      return text
  }
}

/** Items from an array, repeated fields, or one string: each split on whitespace, so a pasted line of ids works too. */
function listOf(arg: CommandArg, value: RawArg): string | undefined {
  const items: string[] = []
  for (const item of Array.isArray(value) ? value : [value]) {
    if (item === undefined || item === null) continue
    if (typeof item !== 'string' && !(typeof item === 'number' && Number.isFinite(item)))
      throw new XMPPD_ERR_COMMAND_ARGS(arg.name, 'must be a list of strings')
    items.push(...String(item).split(/\s+/).filter(Boolean))
  }
  return items.length ? items.join(' ') : undefined
}
