/** A test's view of the event stream: hook calls, connections, errors and the rendered log. */
import type { ServerEvent, StatusName } from '../events.js';
import type { PgErrorFields } from '../errors.js';
import { renderServerLog, type LogSettings } from '../views/server-log.js';
import { stringToBytes } from '../bytes.js';

export interface HookCall {
  /** The extension whose hook ran (the name it was loaded under). */
  hook: string;
  status: StatusName;
  ssl: boolean;
  pid: number;
  connection: number;
  /** Clock time of the call. */
  time: number;
}

/** `STATUS/ssl` or `STATUS/plain`: the compact form used in assertions and tables. */
export function hookCallLabel(c: Pick<HookCall, 'status' | 'ssl'>): string {
  return `${c.status}/${c.ssl ? 'ssl' : 'plain'}`;
}

export class Trace {
  readonly events: ServerEvent[] = [];

  constructor(private readonly logSettings: () => LogSettings) {}

  record = (e: ServerEvent): void => { this.events.push(e); };

  clear(): void { this.events.length = 0; }

  /**
   * ClientAuthentication_hook calls. Without a name: one entry per call of
   * the hook slot (the outermost hook of the chain); with a name: each call
   * of that extension's hook.
   */
  hookCalls(hook?: string): HookCall[] {
    const calls: HookCall[] = [];
    const seenOutermost = new Set<string>();
    for (const e of this.events) {
      if (e.type === 'hook-invoked') {
        const key = `${e.connection}`;
        if (hook === undefined) {
          if (seenOutermost.has(key)) continue;
          seenOutermost.add(key);
        } else if (e.hook !== hook) continue;
        calls.push({ hook: e.hook, status: e.status, ssl: e.sslInUse, pid: e.pid, connection: e.connection, time: e.time });
      }
    }
    return calls;
  }

  /** TCP (or in-memory) connections the server accepted. */
  connectionCount(): number {
    return this.events.filter((e) => e.type === 'connection-received').length;
  }

  /** Errors as the client received them (ErrorResponse sent). */
  errorsSent(): PgErrorFields[] {
    return this.events.flatMap((e) => (e.type === 'error' && e.toClient ? [e.error] : []));
  }

  /** Errors as the server log holds them. */
  errorsLogged(): PgErrorFields[] {
    return this.events.flatMap((e) => (e.type === 'error' && e.toLog ? [e.error] : []));
  }

  /**
   * The server log PostgreSQL would have written, with the server's log_line_prefix unless
   * given. Client bytes that are not UTF-8 appear as U+DC80–U+DCFF (src/bytes.ts); logBytes()
   * has the file's exact bytes.
   */
  log(logLinePrefix?: string): string {
    const s = this.logSettings();
    return renderServerLog(this.events, logLinePrefix === undefined ? s : { ...s, logLinePrefix });
  }

  /** The server log as the bytes PostgreSQL's stderr would hold. */
  logBytes(logLinePrefix?: string): Buffer {
    return stringToBytes(this.log(logLinePrefix));
  }

  /** Events of one connection, in order. */
  connection(n: number): ServerEvent[] {
    return this.events.filter((e) => e.connection === n);
  }
}
