import type { Clock } from '../clock.js';
import type { Random } from '../random.js';
import type { EventBody, ServerEvent } from '../events.js';
import type { ServerSettings } from './settings.js';
import type { HbaLine } from '../hba/index.js';
import type { RoleCatalog } from '../roles/index.js';
import type { ClientAuthenticationHook } from '../hooks/hook.js';
import type { Backend } from './backend.js';
import type { SqlRegistry } from '../sql/registry.js';
import type { GucRegistry } from '../config/index.js';

/** What a backend may see of the postmaster: shared state and services. */
export interface ServerContext {
  readonly settings: ServerSettings;
  readonly clock: Clock;
  readonly random: Random;
  readonly hba: readonly HbaLine[];
  readonly roles: RoleCatalog;
  /** Functions, views and utility statements the session's SQL can reach (built-ins and extensions'). */
  readonly sql: SqlRegistry;
  /** The postmaster's parameters; each session starts from a copy. */
  readonly gucs: GucRegistry;
  /** The installed ClientAuthentication_hook (top of the chain), if any. */
  clientAuthenticationHook(): ClientAuthenticationHook | null;
  emit(body: EventBody, backend?: Backend): ServerEvent;
  allocatePid(): number;
  /** Backends holding a PGPROC slot. */
  procCount(): number;
  /** Live backends, for cancel requests and per-role / per-database limits. */
  backends(): readonly Backend[];
  backendExited(b: Backend): void;
}
