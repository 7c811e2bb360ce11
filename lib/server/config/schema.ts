// JSON Schema of xmppd.toml (everything but the plugin sections, which each plugin's plugin.json
// describes). ajv applies the defaults written here.
export const configSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['general'],
  properties: {
    general: {
      type: 'object',
      additionalProperties: false,
      required: ['hosts'],
      properties: {
        hosts: { type: 'array', minItems: 1, uniqueItems: true, items: { type: 'string', minLength: 1, pattern: '^[^@/\\s]+$' } },
        admins: { type: 'array', default: [], items: { type: 'string', minLength: 3 } },
        loglevel: { enum: ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'], default: 'info' },
      },
    },
    listen: {
      type: 'object',
      additionalProperties: false,
      default: {},
      properties: {
        c2s: {
          type: 'object',
          additionalProperties: false,
          default: {},
          properties: {
            ip: { type: 'string', minLength: 1, default: '127.0.0.1' },
            port: { type: 'integer', minimum: 0, maximum: 65535, default: 5222 },
            max_stanza_size: { type: 'integer', minimum: 1024, maximum: 16777216, default: 65536 },
            certfile: { type: 'string', minLength: 1 },
            keyfile: { type: 'string', minLength: 1 },
          },
        },
        http: {
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
      type: 'object',
      additionalProperties: false,
      default: {},
      properties: {
        users: { type: 'object', default: {}, additionalProperties: { type: 'string', minLength: 1 } },
      },
    },
    http_connections: {
      type: 'object',
      default: {},
      additionalProperties: {
        type: 'object',
        additionalProperties: false,
        required: ['server'],
        properties: {
          server: { type: 'string', pattern: '^https?://' },
          pool_size: { type: 'integer', minimum: 1, maximum: 10000, default: 50 },
          path_prefix: { type: 'string', default: '' },
          request_timeout: { type: 'integer', minimum: 1, maximum: 600000, default: 2000 },
          tls: {
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
    plugins: { type: 'object', default: {}, additionalProperties: { type: 'object' } },
    host_config: {
      type: 'object',
      default: {},
      additionalProperties: {
        type: 'object',
        additionalProperties: false,
        properties: { plugins: { type: 'object', additionalProperties: { type: 'object' } } },
      },
    },
  },
} as const

export interface PoolConfig {
  server: string
  pool_size: number
  path_prefix: string
  request_timeout: number
  tls: { verify: boolean; cacertfile?: string }
}

export type PluginSection = Record<string, unknown> & { enabled?: boolean }

export interface Config {
  general: { hosts: string[]; admins: string[]; loglevel: string }
  listen: {
    c2s: { ip: string; port: number; max_stanza_size: number; certfile?: string; keyfile?: string }
    http: { ip: string; port: number; admin_token?: string }
  }
  auth: { users: Record<string, string> }
  http_connections: Record<string, PoolConfig>
  plugins: Record<string, PluginSection>
  host_config: Record<string, { plugins?: Record<string, PluginSection> }>
}
