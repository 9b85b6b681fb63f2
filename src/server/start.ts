/**
 * Bring a server up from a data directory the way the postmaster does:
 * configuration, pg_hba.conf, roles, then shared_preload_libraries (whose
 * _PG_init may define GUCs that postgresql.conf already set).
 */
import * as path from 'node:path';
import type { Clock } from '../clock.js';
import type { Random } from '../random.js';
import type { PgErrorFields } from '../errors.js';
import { PgServer } from './server.js';
import { loadDataDirectory, runRolesFile, StartupError, type StartupMessage } from './datadir.js';
import { loadSharedPreloadLibraries } from '../extensions/loader.js';
import type { PasswordEncryption } from '../auth/secrets.js';
import type { ExtensionModule } from '../extensions/extension.js';
import { PgError } from '../errors.js';

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

/**
 * The postmaster's order: configuration and pg_hba.conf, shared_preload_libraries (each
 * _PG_init), shared memory (shmem_request_hook, shmem_startup_hook), and then the roles file,
 * run as the bootstrap superuser through the same CREATE/ALTER ROLE code a session uses, so
 * check_password_hook sees its passwords.
 */
export async function startFromDataDirectory(dir: string, opts: StartOptions): Promise<Started> {
  const loaded = loadDataDirectory(dir, opts.random, opts.overrides ?? {}, { deferRoles: true });
  const server = new PgServer({
    hba: loaded.hba, roles: loaded.roles, settings: loaded.settings, gucs: loaded.gucs, random: opts.random, clock: opts.clock,
    deferSharedMemory: true,
  });
  server.dataDirectoryBinding = { dataDirectory: loaded.dataDirectory, configFile: path.join(loaded.dataDirectory, 'postgresql.conf') };
  if (opts.onEvent) server.on(opts.onEvent);
  const before = loaded.gucs.messages.length;
  try {
    await loadSharedPreloadLibraries(server, loaded.sharedPreloadLibraries, loaded.dataDirectory, opts.extraExtensions ?? []);
    server.startSharedMemory();
  } catch (err) {
    if (err instanceof PgError) throw new StartupError(new PgError({ ...err.fields, severity: err.severity === 'ERROR' ? 'FATAL' : err.severity }), loaded.startupMessages);
    throw err;
  }
  if (loaded.rolesFile) {
    runRolesFile(loaded.rolesFile.text, loaded.rolesFile.path, {
      catalog: server.roles,
      passwordEncryption: loaded.gucs.getString('password_encryption') as PasswordEncryption,
      random: opts.random,
      checkPasswordHook: server.hooks.check_password_hook,
    }, loaded.startupMessages);
  }
  return {
    server,
    port: loaded.port,
    listenAddresses: loaded.listenAddresses,
    dataDirectory: loaded.dataDirectory,
    startupMessages: [...loaded.startupMessages, ...loaded.gucs.messages.slice(before)],
  };
}
