// The plugins xmppd knows: each one's plugin.json (id, version, hooks, metrics, admin commands,
// the JSON Schema of its options) and its entry module, loaded by dynamic import() only.
import { readFileSync } from 'node:fs'
import path from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv'
import type { PluginModule } from '../../contract.js'
import { checkManifestMetrics, type ManifestMetric } from './metric-roles.js'
import { checkManifestCommands, type AdminCommandSpec } from './admin-commands.js'

export interface PluginManifest {
  id: string
  version: string
  description?: string
  /** Entry module, relative to the manifest's folder (the compiled .js under dist/). */
  entry: string
  hooks: string[]
  /** The series it registers, each with the role the host reads it by (metric-roles.ts). */
  metrics?: ManifestMetric[]
  /** Its admin commands (admin-commands.ts): plugin.json may give a plain name; loading gives every entry the object form. */
  admin_commands?: AdminCommandSpec[]
  options: Record<string, unknown>
}

export interface CatalogEntry {
  manifest: PluginManifest
  /** Validates (and fills defaults into) a copy of a section, `enabled` removed. */
  validate: ValidateFunction
  /** The entry module: its factory and its optional check. */
  load(): Promise<PluginModule>
}

const here = path.dirname(fileURLToPath(import.meta.url))
/** The package root: lib/server/plugins (sources, run by tsx) and dist/server/plugins both sit three levels down. */
const packageRoot = path.resolve(here, '..', '..', '..')
const runningFromSources = import.meta.url.endsWith('.ts')

// verbose: an unknown key's error then carries the schema listing the known ones ("did you mean").
const ajv = new Ajv({ allErrors: true, useDefaults: true, strict: false, verbose: true })

export function loadManifest(file: string): CatalogEntry {
  const manifest = JSON.parse(readFileSync(file, 'utf8')) as PluginManifest
  manifest.metrics = checkManifestMetrics(file, manifest.metrics)
  manifest.admin_commands = checkManifestCommands(file, manifest.admin_commands)
  const validate = ajv.compile(manifest.options)
  // From sources (specs under tsx) the entry's sibling under lib/ is loaded instead of dist/.
  const entry = runningFromSources ? manifest.entry.replace(/^dist\//, 'lib/').replace(/\.js$/, '.ts') : manifest.entry
  const url = pathToFileURL(path.resolve(path.dirname(file), entry)).href
  return {
    manifest,
    validate,
    async load() {
      const mod = (await import(url)) as Partial<Record<keyof PluginModule, unknown>>
      if (typeof mod.default !== 'function') throw new Error(`${url}: the default export is not a plugin factory`)
      if (mod.check !== undefined && typeof mod.check !== 'function') throw new Error(`${url}: the check export is not a function`)
      return { default: mod.default, check: mod.check } as PluginModule
    },
  }
}

/** The built-in plugins, by id. */
export function builtinCatalog(): Map<string, CatalogEntry> {
  const entry = loadManifest(path.join(packageRoot, 'plugin.json'))
  return new Map([[entry.manifest.id, entry]])
}

export type { ErrorObject }
