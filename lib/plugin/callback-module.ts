// Loads a handler's callback_module once, at start, and checks its shape. Every problem here is a
// config error located at the option that named the module.
import { createRequire } from 'node:module'
import path from 'node:path'
import { pathToFileURL } from 'node:url'
import type { Element, JID } from '../contract.js'
import { ConfigError } from '../errors.js'
import type { Notification } from './payload.js'

export interface CallbackModule {
  shouldMakeReq(packet: Element, from: JID, to: JID): boolean
  prepareBody?(n: Notification): string | Buffer
  prepareHeaders?(n: Notification): Record<string, string>
}

const isPath = (spec: string) => spec.startsWith('.') || path.isAbsolute(spec) || spec.startsWith('file:')

/**
 * A path (relative to the config file's folder) or a package name. Package names resolve from
 * the config file's folder first (an operator's own node_modules), then from this package.
 */
export async function loadCallbackModule(spec: string, configDir: string, at: string): Promise<CallbackModule> {
  let mod: Record<string, unknown>
  try {
    mod = await import(resolveSpecifier(spec, configDir))
  } catch (err) {
    throw new ConfigError(at, `cannot load callback module "${spec}": ${(err as Error).message}`, { cause: err })
  }
  return checkShape(mod, spec, at)
}

function resolveSpecifier(spec: string, configDir: string): string {
  if (spec.startsWith('file:')) return spec
  if (isPath(spec)) return pathToFileURL(path.resolve(configDir, spec)).href
  try {
    return pathToFileURL(createRequire(path.join(configDir, 'noop.js')).resolve(spec)).href
  } catch {
    // Not installed next to the config, or an import-only package: let import() resolve it.
    return spec
  }
}

function checkShape(mod: Record<string, unknown>, spec: string, at: string): CallbackModule {
  // A CommonJS module's exports arrive as `default` (named ones only where Node's lexer spots
  // them): prefer that object, so its functions keep their `this`.
  const fromDefault = asRecord(mod.default)
  const source = typeof fromDefault?.shouldMakeReq === 'function' ? fromDefault : mod
  if (typeof source.shouldMakeReq !== 'function') {
    throw new ConfigError(at, `callback module "${spec}" does not export a shouldMakeReq function`)
  }
  for (const name of ['prepareBody', 'prepareHeaders'] as const) {
    if (source[name] !== undefined && typeof source[name] !== 'function') {
      throw new ConfigError(at, `callback module "${spec}": ${name} is exported but is not a function`)
    }
  }
  const bound = (name: keyof CallbackModule) =>
    typeof source[name] === 'function' ? (source[name] as (...args: unknown[]) => unknown).bind(source) : undefined
  return {
    shouldMakeReq: bound('shouldMakeReq') as CallbackModule['shouldMakeReq'],
    prepareBody: bound('prepareBody') as CallbackModule['prepareBody'],
    prepareHeaders: bound('prepareHeaders') as CallbackModule['prepareHeaders'],
  }
}

function asRecord(value: unknown): Record<string, unknown> | undefined {
  return typeof value === 'object' && value !== null ? (value as Record<string, unknown>) : undefined
}
