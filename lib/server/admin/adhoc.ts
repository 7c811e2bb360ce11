// The admin operations over XMPP: XEP-0050 ad-hoc commands on the server's JID, listed in
// disco#items under the commands node (the XEP-0133 way) for the accounts in general.admins.
// Anyone else gets `forbidden`. Commands take their input as a data form (XEP-0004), in one
// request (a submitted form with `execute`) or in two (execute → form → complete).
import { randomBytes } from 'node:crypto'
import type { JID } from '@xmpp/jid'
import type { CatalogEntry } from '../plugins/catalog.js'
import type { CommandArg } from '../plugins/admin-commands.js'
import type { PluginLoader } from '../plugins/loader.js'
import type { PluginStatusService } from '../plugins/status.js'
import type { ClientSession } from '../xmpp/sessions.js'
import type { IqExtension } from '../xmpp/server-iq.js'
import { formatList, formatStatus } from './status-text.js'
import { pluginCommands } from './adhoc-plugin-commands.js'
import { Element, errorReply, type LtxElement } from '../xmpp/transport.js'

export const NS_COMMANDS = 'http://jabber.org/protocol/commands'
const NS_DATA = 'jabber:x:data'
const NS_DISCO_ITEMS = 'http://jabber.org/protocol/disco#items'
const NODE_PREFIX = 'urn:xmppd:admin#'

export interface AdhocDeps {
  loader: PluginLoader
  /** Its plugins' declared commands with an `adhoc` node join the host's own. */
  catalog: ReadonlyMap<string, CatalogEntry>
  status: PluginStatusService
  hosts: readonly string[]
  isAdmin(bare: string): boolean
  reload(): Promise<{ restart_required: string[] }>
}

export interface Command {
  name: string
  /** Fields the form asks for (plugin, host); none (and no args): runs at once. */
  fields: Array<'plugin' | 'host' | 'host?'>
  /** A plugin command's declared arguments, asked after the host. */
  args?: CommandArg[]
  /** `values`: each field's first value; `all`: every value of each field (text-multi). */
  run(values: Record<string, string>, all: Record<string, string[]>): Promise<string | { note: string; payload: LtxElement }>
}

export function createAdhoc(deps: AdhocDeps): IqExtension {
  const pluginIds = () => [...new Set(deps.loader.list().map((s) => s.id))]
  const commands = new Map<string, Command>(
    [
      { name: 'List plugins', node: 'plugin-list', fields: [], run: async () => formatList(deps.loader.list()) },
      {
        name: 'Enable a plugin on a vhost',
        node: 'plugin-enable',
        fields: ['plugin', 'host'],
        run: async (v: Record<string, string>) => (await deps.loader.enable(v.plugin, v.host), `${v.plugin} is now enabled on ${v.host}`),
      },
      {
        name: 'Disable a plugin on a vhost',
        node: 'plugin-disable',
        fields: ['plugin', 'host'],
        run: async (v: Record<string, string>) => (await deps.loader.disable(v.plugin, v.host), `${v.plugin} is now disabled on ${v.host}`),
      },
      {
        name: 'Plugin status',
        node: 'plugin-status',
        fields: ['host?'],
        run: async (v: Record<string, string>) => formatStatus(await deps.status.status(undefined, v.host || undefined)),
      },
      {
        name: 'Reload the config file',
        node: 'reload',
        fields: [],
        run: async () => {
          const r = await deps.reload()
          return r.restart_required.length ? `config reloaded; needs a restart: ${r.restart_required.join(', ')}` : 'config reloaded'
        },
      },
    ].map((c) => [`${NODE_PREFIX}${c.node}`, c as Command]),
  )
  for (const [node, command] of pluginCommands(deps)) {
    // Two plugins (or a plugin and the host) on one node: a packaging mistake, refused at start.
    if (commands.has(node)) throw new Error(`XEP-0050 node ${node} is declared twice (${command.name})`)
    commands.set(node, command)
  }

  function result(iq: LtxElement): LtxElement {
    return new Element('iq', { type: 'result', id: iq.attrs.id, from: iq.attrs.to, to: iq.attrs.from })
  }

  function items(from: ClientSession, iq: LtxElement, to: JID | null): void {
    const reply = result(iq)
    const query = reply.c('query', { xmlns: NS_DISCO_ITEMS, node: NS_COMMANDS })
    if (deps.isAdmin(from.bare)) {
      for (const [node, c] of commands) query.c('item', { jid: to?.toString() ?? from.host, node, name: c.name })
    }
    from.send(reply)
  }

  function form(command: Command): LtxElement {
    const x = new Element('x', { xmlns: NS_DATA, type: 'form' })
    x.c('title').t(command.name)
    for (const f of command.fields) {
      const name = f.replace('?', '')
      const field = x.c('field', { var: name, type: 'list-single', label: name === 'plugin' ? 'Plugin' : 'Virtual host' })
      if (!f.endsWith('?')) field.c('required')
      for (const option of name === 'plugin' ? pluginIds() : deps.hosts) field.c('option').c('value').t(option)
    }
    for (const a of command.args ?? []) {
      const type = a.type === 'boolean' ? 'boolean' : a.type === 'list' ? 'text-multi' : a.enum ? 'list-single' : 'text-single'
      const field = x.c('field', { var: a.name, type, label: a.label ?? a.name })
      for (const option of a.enum ?? []) field.c('option').c('value').t(option)
    }
    return x
  }

  function submitted(command: LtxElement): Record<string, string[]> | undefined {
    const x = command.getChild('x', NS_DATA)
    if (!x || x.attrs.type !== 'submit') return undefined
    const values: Record<string, string[]> = {}
    for (const f of x.getChildren('field')) if (f.attrs.var) values[f.attrs.var] = f.getChildren('value').map((v) => v.getText())
    return values
  }

  function respond(from: ClientSession, iq: LtxElement, node: string, sessionid: string, status: string, payload?: LtxElement, note?: [string, string]): void {
    const reply = result(iq)
    const cmd = reply.c('command', { xmlns: NS_COMMANDS, node, sessionid, status })
    if (status === 'executing') cmd.c('actions', { execute: 'complete' }).c('complete')
    if (note) cmd.c('note', { type: note[0] }).t(note[1])
    if (payload) cmd.cnode(payload)
    from.send(reply)
  }

  async function execute(from: ClientSession, iq: LtxElement, payload: LtxElement): Promise<void> {
    const node = String(payload.attrs.node ?? '')
    const command = commands.get(node)
    if (!command) return from.send(errorReply(iq, 'cancel', 'item-not-found'))
    const sessionid = payload.attrs.sessionid ?? randomBytes(8).toString('hex')
    const action = payload.attrs.action ?? 'execute'
    if (action === 'cancel') return respond(from, iq, node, sessionid, 'canceled')
    const all = submitted(payload)
    const values = all && Object.fromEntries(Object.entries(all).map(([k, v]) => [k, v[0] ?? '']))
    const missing = command.fields.filter((f) => !f.endsWith('?') && !values?.[f])
    if (command.fields.length > 0 && (!values || missing.length > 0)) {
      if (values) return from.send(errorReply(iq, 'modify', 'bad-request', `missing: ${missing.join(', ')}`))
      return respond(from, iq, node, sessionid, 'executing', form(command))
    }
    try {
      const out = await command.run(values ?? {}, all ?? {})
      if (typeof out === 'string') respond(from, iq, node, sessionid, 'completed', undefined, ['info', out])
      else respond(from, iq, node, sessionid, 'completed', out.payload, ['info', out.note])
    } catch (err) {
      const e = err as { message?: string; errors?: Array<{ message: string }> }
      const text = [e.message, ...(e.errors ?? []).map((x) => x.message)].filter(Boolean).join('\n')
      respond(from, iq, node, sessionid, 'completed', undefined, ['error', text || 'failed'])
    }
  }

  return function adhoc(from, iq, payload, to) {
    if (to?.local) return false // commands live on the server's JID
    const ns = payload.attrs.xmlns
    if (iq.attrs.type === 'get' && ns === NS_DISCO_ITEMS && payload.attrs.node === NS_COMMANDS) {
      items(from, iq, to)
      return true
    }
    if (ns !== NS_COMMANDS) return false
    if (iq.attrs.type !== 'set') {
      from.send(errorReply(iq, 'modify', 'bad-request'))
      return true
    }
    if (!deps.isAdmin(from.bare)) {
      from.send(errorReply(iq, 'auth', 'forbidden', 'admin commands are for general.admins'))
      return true
    }
    void execute(from, iq, payload)
    return true
  }
}
