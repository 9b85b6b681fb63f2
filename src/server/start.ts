/**
 * Bring a server up from a data directory the way the postmaster does:
 * configuration, pg_hba.conf, roles, then shared_preload_libraries (whose
 * _PG_init may define GUCs that postgresql.conf already set).
 */
import type { Clock } from '../clock.js';
import type { Random } from '../random.js';
import type { PgErrorFields } from '../errors.js';
import { PgServer } from './server.js';
import { loadDataDirectory, StartupError, type StartupMessage } from './datadir.js';
import { loadExtension, loadSharedPreloadLibraries } from '../extensions/loader.js';
import type { ExtensionModule } from '../extensions/extension.js';
import { PgError } from '../errors.js';
import { persistedMockNonce } from './mock-nonce.js';

export interface StartOptions {
  clock: Clock;
  random: Random;
  /** Modules to load after shared_preload_libraries, as if appended to it (tests pass their hook here). */
  extraExtensions?: ReadonlyArray<ExtensionModule>;
  /** Settings applied after postgresql.conf, like `postgres -c name=value`. */
  overrides?: Record<string, string>;
  /** Subscribed before anything is logged, so startup warnings from extensions are seen too. */
  onEvent?: Parameters<PgServer['on']>[0];
}

export interface Started {
  server: PgServer;
  port: number;
  listenAddresses: string[];
  dataDirectory: string;
  /** What the postmaster logged while starting: configuration notes and extension GUC warnings. */
  startupMessages: Array<StartupMessage | PgErrorFields>;
}

export async function startFromDataDirectory(dir: string, opts: StartOptions): Promise<Started> {
  const loaded = loadDataDirectory(dir, opts.random, opts.overrides ?? {});
  const server = new PgServer({
    hba: loaded.hba, roles: loaded.roles, settings: loaded.settings, gucs: loaded.gucs, random: opts.random, clock: opts.clock,
  });
  // Drawn by the server as always (so seeded runs keep their sequence), then replaced by the stored one.
  try {
    server.settings.mockAuthNonce = persistedMockNonce(loaded.dataDirectory, server.settings.mockAuthNonce, loaded.startupMessages);
  } catch (err) {
    if (err instanceof PgError) throw new StartupError(err, loaded.startupMessages);
    throw err;
  }
  if (opts.onEvent) server.on(opts.onEvent);
  const before = loaded.gucs.messages.length;
  try {
    await loadSharedPreloadLibraries(server, loaded.sharedPreloadLibraries, loaded.dataDirectory);
    for (const ext of opts.extraExtensions ?? []) loadExtension(server, ext);
  } catch (err) {
    if (err instanceof PgError) throw new StartupError(err, loaded.startupMessages);
    throw err;
  }
  return {
    server,
    port: loaded.port,
    listenAddresses: loaded.listenAddresses,
    dataDirectory: loaded.dataDirectory,
    startupMessages: [...loaded.startupMessages, ...loaded.gucs.messages.slice(before)],
  };
}
