// XEP-0050 ad-hoc commands from a real client: one `execute` of a node on the vhost, with the
// fields of a submitted data form (a field may have several values), and the JSON a plugin
// command answers in its form's `result` field (one value per line).
import { xml, type TestClient } from './client.js'

export const COMMANDS_NS = 'http://jabber.org/protocol/commands'

export const executeCommand = (c: TestClient, node: string, fields?: Record<string, string | string[]>, extra: Record<string, string> = {}) =>
  c.iq(
    xml(
      'iq',
      { type: 'set', to: 'localhost' },
      xml(
        'command',
        { xmlns: COMMANDS_NS, node, action: 'execute', ...extra },
        fields
          ? xml(
              'x',
              { xmlns: 'jabber:x:data', type: 'submit' },
              ...Object.entries(fields).map(([k, v]) => xml('field', { var: k }, ...[v].flat().map((one) => xml('value', {}, one)))),
            )
          : undefined,
      ),
    ),
  )

export const commandResultJson = (reply: any) =>
  JSON.parse(
    reply
      .getChild('command', COMMANDS_NS)
      .getChild('x', 'jabber:x:data')
      .getChildren('field')
      .find((f: any) => f.attrs.var === 'result')
      .getChildren('value')
      .map((v: any) => v.getText())
      .join('\n'),
  )
