/** shared_preload_libraries: find each library and run its _PG_init, in order. */
import * as path from 'node:path';
import { pathToFileURL } from 'node:url';
import { existsSync } from 'node:fs';
import { PgError } from '../errors.js';
import { authDelay } from './auth_delay.js';
import { passwordcheck } from './passwordcheck.js';
import { extensionContext, type ExtensionHost, type ExtensionModule } from './extension.js';

/** Libraries that ship with pg-authsim, by the name PostgreSQL users know them by. */
export const BUILTIN_EXTENSIONS: Readonly<Record<string, ExtensionModule>> = {
  auth_delay: authDelay,
  passwordcheck,
};

/** A library name is a built-in, or a path (relative to `baseDir`) to an ES module exporting _PG_init. */
export async function resolveExtension(name: string, baseDir: string): Promise<ExtensionModule> {
  const builtin = BUILTIN_EXTENSIONS[name];
  if (builtin) return builtin;
  const file = path.resolve(baseDir, name);
  const candidates = [file, `${file}.js`, `${file}.mjs`];
  const found = candidates.find((c) => existsSync(c));
  if (!found) {
    throw new PgError({
      severity: 'FATAL', sqlstate: '58P01',
      message: `could not access file "${name}": No such file or directory`,
      hint: `Built-in libraries: ${Object.keys(BUILTIN_EXTENSIONS).join(', ')}. Anything else is a path to an ES module (compiled JS) exporting _PG_init(ctx).`,
    });
  }
  const mod = (await import(pathToFileURL(found).href)) as Partial<ExtensionModule> & { default?: Partial<ExtensionModule> };
  const candidate = typeof mod._PG_init === 'function' ? mod : mod.default;
  if (!candidate || typeof candidate._PG_init !== 'function') {
    throw new PgError({
      severity: 'FATAL', sqlstate: '42883',
      message: `incompatible library "${found}": missing _PG_init`,
      hint: 'An extension module must export a function _PG_init(ctx), like PG_MODULE_MAGIC plus _PG_init in C.',
    });
  }
  return candidate as ExtensionModule;
}

/** Run one extension's _PG_init; hooks it installs are traced under `name`. */
export function loadExtension(host: ExtensionHost, module: ExtensionModule, name = module.name ?? 'extension'): void {
  host.hooks.installing = name;
  try {
    module._PG_init(extensionContext(host, name));
  } finally {
    host.hooks.installing = null;
  }
}

/** process_shared_preload_libraries(): `process_shared_preload_libraries_in_progress` is true meanwhile. */
export async function loadSharedPreloadLibraries(host: ExtensionHost & { preloadInProgress: boolean }, names: readonly string[], baseDir: string, extra: readonly ExtensionModule[] = []): Promise<void> {
  host.preloadInProgress = true;
  try {
    for (const name of names) loadExtension(host, await resolveExtension(name, baseDir), name);
    for (const ext of extra) loadExtension(host, ext);
  } finally {
    host.preloadInProgress = false;
  }
}
