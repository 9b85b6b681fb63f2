import type { Clock } from '../clock.js';
import type { Random } from '../random.js';
import type { EventBody, ServerEvent } from '../events.js';
import type { ServerSettings } from './settings.js';
import type { HbaLine } from '../hba/index.js';
import type { RoleCatalog } from '../roles/index.js';
import type { ClientAuthenticationHook } from '../hooks/hook.js';
import type { Backend } from './backend.js';

/** What a backend may see of the postmaster: shared state and services. */
export interface ServerContext {
  readonly settings: ServerSettings;
  readonly clock: Clock;
  readonly random: Random;
  readonly hba: readonly HbaLine[];
  readonly roles: RoleCatalog;
  /** Report every byte crossing each new connection as `wire` events (PgServer.captureWire). */
  readonly captureWire: boolean;
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
