/**
 * Extensions, PostgreSQL style: a module whose `_PG_init(ctx)` runs once when
 * the server starts (shared_preload_libraries order). It may define GUCs,
 * reserve its GUC prefix, and install hooks — saving the previous hook and
 * calling it itself, exactly as C extensions chain.
 */
import { PgError, type PgErrorFields } from '../errors.js';
import type { GucRegistry } from '../config/index.js';
import type { Clock } from '../clock.js';
import type { HookSlots } from '../hooks/slots.js';
import { currentBackend } from '../server/current.js';

export interface ExtensionContext {
  /** The library name from shared_preload_libraries (or the module's own name). */
  readonly name: string;
  /** Hook variables: read the previous value, then assign your own. */
  readonly hooks: HookSlots;
  /** DefineCustom*Variable, markPrefixReserved (MarkGUCPrefixReserved), get/getNumber/show. */
  readonly gucs: GucRegistry;
  /** GetCurrentTimestamp(), in ms since the epoch, from the server's clock (virtual in tests). */
  now(): number;
  /**
   * pg_usleep(): sleep on the server's clock. Like the C function it returns
   * early when the backend's authentication_timeout fires.
   */
  pg_usleep(ms: number): Promise<void>;
  /** elog(): a log line attributed to the backend that is running your code (or the postmaster). */
  elog(level: 'LOG' | 'WARNING' | 'DEBUG1', message: string, extra?: { detail?: string; hint?: string }): void;
  /** ereport(ERROR/FATAL, ...): returns the error to throw; during authentication it ends the connection with FATAL. */
  error(fields: Omit<PgErrorFields, 'severity'> & { severity?: 'ERROR' | 'FATAL' }): PgError;
}

export interface ExtensionModule {
  /** Optional display name; defaults to the library name. */
  name?: string;
  _PG_init(ctx: ExtensionContext): void;
}

/** The server side that backs an ExtensionContext. */
export interface ExtensionHost {
  readonly hooks: HookSlots;
  readonly gucs: GucRegistry;
  readonly clock: Clock;
  postmasterLog(level: 'LOG' | 'WARNING' | 'DEBUG1', message: string, extra?: { detail?: string; hint?: string }): void;
}

export function extensionContext(host: ExtensionHost, name: string): ExtensionContext {
  return {
    name,
    hooks: host.hooks,
    gucs: host.gucs,
    now: () => host.clock.now(),
    pg_usleep: async (ms: number) => {
      if (ms <= 0) return;
      const be = currentBackend.getStore();
      try {
        await host.clock.sleep(ms, be?.interrupt ?? undefined);
      } catch {
        // Interrupted by the authentication timer: return early, as the signal would wake pg_usleep.
      }
    },
    elog: (level, message, extra = {}) => {
      const be = currentBackend.getStore();
      if (be) be.log(level, message, extra);
      else host.postmasterLog(level, message, extra);
    },
    error: (fields) => new PgError({ ...fields, severity: fields.severity ?? 'ERROR' }),
  };
}
