import type { EventBody, ServerEvent } from '../events.js';
import type { BackendView, SharedState } from '../connection.js';
import type { MutablePort } from '../port.js';
import type { SessionGucs } from '../session/gucs.js';

/** Who an event is about: a backend's connection, for the envelope (PID, %u/%d/%a, session start). */
export interface EventSource {
  readonly pid: number;
  /** Connection number; 0 is the postmaster. */
  readonly id: number;
  readonly port: MutablePort;
  readonly session: SessionGucs | null;
  readonly sessionStart: number;
}

/** What a backend may see of the postmaster: shared state and services. */
export interface ServerContext extends SharedState {
  /** Report every byte crossing each new connection as `wire` events (PgServer.captureWire). */
  readonly captureWire: boolean;
  emit(body: EventBody, source?: EventSource): ServerEvent;
  allocatePid(): number;
  backendExited(b: BackendView): void;
}
