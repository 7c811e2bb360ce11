// The package's public surface: the plugin contract, the server, and the plugin.
export type {
  Element,
  Hook,
  HookHandlers,
  Hooks,
  HttpPoolSettings,
  Logger,
  Plugin,
  PluginContext,
  PluginRole,
  PluginFactory,
  PluginModule,
  PluginCheck,
  CheckContext,
  ConfigIssue,
  SendPacketHandler,
  PresenceHandler,
  Sessions,
  Admin,
  AdminCommand,
} from './contract.js'
export { HOOKS } from './contract.js'
export { ConfigError, ConfigErrors } from './errors.js'
export { startServer, type XmppServer, type ServerOptions } from './server/main.js'
export { startDeliveryWorker, type DeliveryWorker } from './server/deliver.js'
export { readConfigFile, parseConfig, type LoadedConfig, type Config } from './server/config/load.js'
export { default as createEventPusherHttp } from './plugin/index.js'
