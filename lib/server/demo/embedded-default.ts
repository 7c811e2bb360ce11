// The embedded default that `xmppd` runs without --config: one vhost, demo accounts, the plugin
// enabled and pointed at the built-in receiver. Its state (the admin token, each plugin's folder)
// lives in one folder of the working directory, DATA_DIR: its general.data_dir, which resolves
// against the working directory (the embedded default's config folder) and is created at start.
export const DATA_DIR = 'xmppd-data'

export const DEMO_USERS = { 'alice@localhost': 'alice', 'bob@localhost': 'bob', 'admin@localhost': 'admin' }

export function defaultConfigToml(receiverUrl: string): string {
  const users = Object.entries(DEMO_USERS)
    .map(([jid, pw]) => `"${jid}" = "${pw}"`)
    .join('\n')
  return `
[general]
hosts = ["localhost"]
admins = ["admin@localhost"]
data_dir = "${DATA_DIR}"

[listen.c2s]
ip = "127.0.0.1"
port = 5222

[listen.http]
ip = "127.0.0.1"
port = 5280

[auth.users]
${users}

[http_connections.http_pool]
server = "${receiverUrl}"
pool_size = 50
path_prefix = "/webservice"
request_timeout = 2000

[plugins.mod_event_pusher_http]
enabled = true
pool_name = "http_pool"
path = "/notifications"
`
}
