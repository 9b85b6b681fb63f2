/**
 * hook_probe's counterpart in pg-authsim: a ClientAuthentication_hook that
 * only chains, so every call reaching it shows in the trace under its
 * library name. Also a module file, so it can go first in
 * shared_preload_libraries exactly where oracle/hook_probe goes on the real
 * server: installed first, it is called last, after every hook that calls
 * its predecessor at the end (and never when such a hook ends the
 * connection with FATAL first).
 */
import type { ExtensionContext, ExtensionModule } from '../extensions/extension.js';
import { fileURLToPath } from 'node:url';

export const SIM_PROBE: ExtensionModule = {
  name: 'hook_probe',
  _PG_init(ctx: ExtensionContext) {
    const previous = ctx.hooks.ClientAuthentication_hook;
    ctx.hooks.ClientAuthentication_hook = async (port, status) => {
      if (previous) await previous(port, status);
    };
  },
};

export const _PG_init = SIM_PROBE._PG_init;

/** This module's path, for shared_preload_libraries (the trace names its hook calls by it). */
export const SIM_PROBE_LIBRARY = fileURLToPath(import.meta.url);
