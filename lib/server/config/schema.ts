// JSON Schema of xmppd.toml (everything but the plugin sections' options, which each plugin's
// plugin.json describes). ajv applies the defaults written here. The TypeScript types are
// generated from it (scripts/gen-config-types.mjs → schema.generated.ts), so the two cannot drift;
// each `title` names a generated type.
/** general.data_dir when the file has none: next to the config file (the embedded default's: the working directory). */
export const DEFAULT_DATA_DIR = 'xmppd-data'

export const configSchema = {
  title: 'Config',
  type: 'object',
  additionalProperties: false,
  required: ['general'],
  properties: {
    general: {
      title: 'GeneralConfig',
      type: 'object',
      additionalProperties: false,
      required: ['hosts'],
      properties: {
        hosts: { type: 'array', minItems: 1, uniqueItems: true, items: { type: 'string', minLength: 1, pattern: '^[^@/\\s]+$' } },
        admins: { type: 'array', default: [], items: { type: 'string', minLength: 3 } },
        loglevel: { enum: ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'], default: 'info' },
        data_dir: {
          type: 'string',
          minLength: 1,
          default: DEFAULT_DATA_DIR,
          description: "Where the server and its plugins keep state. Written relative to the config file's folder; absolute once loaded.",
        },
        max_offline_messages: {
          type: 'integer',
          minimum: 0,
          maximum: 1000000,
          default: 1000,
          description:
            'Messages kept per account while it has no available resource (offline storage, XEP-0160); past it the sender gets service-unavailable. 0 turns offline storage off.',
        },
        roster: {
          enum: ['stored', 'shared'],
          default: 'stored',
          description:
            'stored: each account keeps its own roster in data_dir/roster.sqlite, presence goes to subscribed contacts (RFC 6121). shared: every account of a vhost is a contact of every other one, read-only. host_config."<vhost>".roster overrides it.',
        },
      },
    },
    listen: {
      title: 'ListenConfig',
      type: 'object',
      additionalProperties: false,
      default: {},
      properties: {
        c2s: {
          title: 'C2SListenConfig',
          type: 'object',
          additionalProperties: false,
          default: {},
          properties: {
            ip: { type: 'string', minLength: 1, default: '127.0.0.1' },
            port: { type: 'integer', minimum: 0, maximum: 65535, default: 5222 },
            max_stanza_size: { type: 'integer', minimum: 1024, maximum: 16777216, default: 65536 },
            handshake_timeout: { type: 'integer', minimum: 1, maximum: 3600, default: 30, description: 'Seconds for TLS, SASL and resource binding.' },
            idle_timeout: {
              type: 'integer',
              minimum: 1,
              maximum: 86400,
              default: 300,
              description: 'Seconds of silence before a bound session is pinged (XEP-0199).',
            },
            ping_timeout: { type: 'integer', minimum: 1, maximum: 3600, default: 30, description: 'Seconds a pinged session has to answer.' },
            max_connections: { type: 'integer', minimum: 1, maximum: 1000000, default: 10000 },
            max_connections_per_ip: { type: 'integer', minimum: 1, maximum: 1000000, default: 100 },
            max_send_buffer: { type: 'integer', minimum: 65536, maximum: 1073741824, default: 1048576, description: 'Bytes queued for one session.' },
            max_depth: { type: 'integer', minimum: 2, maximum: 1024, default: 32 },
            resume_timeout: {
              type: 'integer',
              minimum: 1,
              maximum: 86400,
              default: 300,
              description: 'Seconds a session whose connection dropped waits for an XEP-0198 <resume/> before it ends.',
            },
            max_unacked_stanzas: {
              type: 'integer',
              minimum: 10,
              maximum: 1000000,
              default: 10000,
              description: 'Stanzas sent to a session and not acknowledged (XEP-0198) before it is closed with policy-violation.',
            },
            certfile: { type: 'string', minLength: 1 },
            keyfile: { type: 'string', minLength: 1 },
          },
        },
        http: {
          title: 'HttpListenConfig',
          type: 'object',
          additionalProperties: false,
          default: {},
          properties: {
            ip: { type: 'string', minLength: 1, default: '127.0.0.1' },
            port: { type: 'integer', minimum: 0, maximum: 65535, default: 5280 },
            admin_token: { type: 'string', minLength: 16 },
          },
        },
      },
    },
    auth: {
      title: 'AuthConfig',
      type: 'object',
      additionalProperties: false,
      default: {},
      properties: {
        users: { type: 'object', default: {}, additionalProperties: { type: 'string', minLength: 1 } },
        min_failure_delay: {
          type: 'integer',
          minimum: 0,
          maximum: 60000,
          default: 250,
          description: 'ms: every failed login is answered no sooner, so timing does not tell which accounts exist',
        },
        max_failure_delay: {
          type: 'number',
          minimum: 0,
          maximum: 3600,
          default: 5,
          description: 's: the most a failed login is delayed; the delay doubles with recent failures from its IP or for its account',
        },
      },
    },
    http_connections: {
      type: 'object',
      default: {},
      additionalProperties: {
        title: 'PoolConfig',
        type: 'object',
        additionalProperties: false,
        required: ['server'],
        properties: {
          server: { type: 'string', pattern: '^https?://' },
          pool_size: { type: 'integer', minimum: 1, maximum: 10000, default: 50 },
          path_prefix: { type: 'string', default: '' },
          request_timeout: { type: 'integer', minimum: 1, maximum: 600000, default: 2000 },
          tls: {
            title: 'PoolTlsConfig',
            type: 'object',
            additionalProperties: false,
            default: {},
            properties: {
              verify: { type: 'boolean', default: true },
              cacertfile: { type: 'string', minLength: 1 },
            },
          },
        },
      },
    },
    plugins: { type: 'object', default: {}, additionalProperties: { $ref: '#/definitions/plugin_section' } },
    host_config: {
      type: 'object',
      default: {},
      additionalProperties: {
        title: 'HostConfig',
        type: 'object',
        additionalProperties: false,
        properties: {
          plugins: { type: 'object', additionalProperties: { $ref: '#/definitions/plugin_section' } },
          roster: { enum: ['stored', 'shared'], description: "This vhost's general.roster." },
        },
      },
    },
  },
  definitions: {
    // A plugin's section: `enabled` is the host's; the rest is the plugin's, checked against its
    // plugin.json once the sections of each vhost are merged.
    plugin_section: {
      title: 'PluginSection',
      type: 'object',
      additionalProperties: true,
      properties: { enabled: { type: 'boolean' } },
    },
  },
} as const

export type {
  Config,
  GeneralConfig,
  ListenConfig,
  C2SListenConfig,
  HttpListenConfig,
  AuthConfig,
  PoolConfig,
  PoolTlsConfig,
  HostConfig,
  PluginSection,
} from './schema.generated.js'
