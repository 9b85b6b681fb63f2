/**
 * What the session needs of its backend: the narrow handle PostgresMain runs on. The backend
 * (src/server) provides it; nothing in src/session reaches further into the server.
 */
import type { EventBody } from '../events.js';
import type { MutablePort } from '../port.js';
import type { ServerSettings } from '../server/settings.js';
import type { BackendMessage } from '../wire/messages.js';
import type { MessageBodyRead } from '../wire/reader.js';
import type { GucRegistry } from '../config/index.js';
import type { RoleCatalog } from '../roles/index.js';
import type { SqlRegistry } from '../sql/registry.js';
import type { Clock } from '../clock.js';

export interface SessionConnection {
  readonly pid: number;
  readonly port: MutablePort;
  readonly settings: ServerSettings;
  /** The client's messages, one at a time: the type byte (null at EOF), then pq_getmessage. */
  readonly reader: { readMessageType(): Promise<number | null>; readMessageBody(maxLength: number): Promise<MessageBodyRead> };
  /** Queue a message; flush() sends what is queued. */
  send(msg: BackendMessage): void;
  flush(): void;
  emit(body: EventBody): void;
  /** ereport(COMMERROR): logged, never sent. */
  logCommError(message: string): void;
  readonly ctx: {
    readonly sql: SqlRegistry;
    readonly gucs: GucRegistry;
    readonly roles: RoleCatalog;
    readonly clock: Clock;
  };
}
