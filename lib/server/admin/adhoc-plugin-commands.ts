// Plugins' own admin commands as XEP-0050 commands: each one plugin.json declares with an `adhoc`
// node. Its form asks for the vhost and the declared arguments (a list as text-multi, a boolean
// as boolean, an enum as list-single); the host checks them as the admin API does
// (command-args.ts). The host does not know what a result means, so it answers it as it is: a
// result form with one text-multi field `result` holding the JSON, a line per value.
import { commandArgs } from '../plugins/command-args.js'
import { Element } from '../xmpp/transport.js'
import type { AdhocDeps, Command } from './adhoc.js'

const NS_DATA = 'jabber:x:data'

export function pluginCommands(deps: Pick<AdhocDeps, 'catalog' | 'loader'>): Array<[string, Command]> {
  const list: Array<[string, Command]> = []
  for (const [id, entry] of deps.catalog) {
    for (const spec of entry.manifest.admin_commands ?? []) {
      if (!spec.adhoc) continue
      list.push([
        spec.adhoc.node,
        {
          name: spec.description ?? `${id}: ${spec.name}`,
          fields: ['host'],
          args: spec.args,
          async run(values, all) {
            const raw: Record<string, string[]> = {}
            // FORM_TYPE is XEP-0004's own hidden field; `host` is the form's vhost field.
            for (const [name, v] of Object.entries(all)) if (name !== 'host' && name !== 'FORM_TYPE') raw[name] = v
            const args = commandArgs(spec, raw, Date.now())
            const result = await deps.loader.command(id, values.host, spec.name, args)
            const x = new Element('x', { xmlns: NS_DATA, type: 'result' })
            x.c('title').t(`${id} ${spec.name} on ${values.host}`)
            const field = x.c('field', { var: 'result', type: 'text-multi', label: 'Result (JSON)' })
            for (const line of JSON.stringify(result ?? null, null, 2).split('\n')) field.c('value').t(line)
            return { note: `${id} ${spec.name} on ${values.host}: done`, payload: x }
          },
        },
      ])
    }
  }
  return list
}
