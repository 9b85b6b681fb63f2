/**
 * The server log as a view of the event stream: each event that PostgreSQL
 * would log becomes the same text its stderr log would hold.
 */
import { formatLogRecord, renderLogLinePrefix, disconnectionMessage, type LogRecord } from '../log/index.js';
import type { ServerEvent } from '../events.js';
import type { ServerSettings } from '../server/settings.js';
import { versionString } from '../sql/builtins.js';

export type LogSettings = Pick<ServerSettings, 'logConnections' | 'logDisconnections' | 'logLinePrefix' | 'hbaPath' | 'serverVersion'> & {
  logTimezone?: string;
};

/** What PostgreSQL would write for one event, or null when it writes nothing. */
export function logRecordFor(e: ServerEvent, s: LogSettings): LogRecord | null {
  switch (e.type) {
    case 'connection-received':
      if (!s.logConnections) return null;
      return { severity: 'LOG', message: e.remotePort === null ? `connection received: host=${e.remoteHost}` : `connection received: host=${e.remoteHost} port=${e.remotePort}` };
    case 'authenticated':
      if (!s.logConnections) return null;
      return { severity: 'LOG', message: `connection authenticated: ${e.form === 'user' ? 'user' : 'identity'}="${e.identity}" method=${e.method} (${e.hbaFile}:${e.lineNumber})` };
    case 'connection-authorized': {
      if (!s.logConnections) return null;
      let m = `connection authorized: user=${e.user} database=${e.database}`;
      if (e.applicationName !== null) m += ` application_name=${e.applicationName}`;
      if (e.ssl) m += ` SSL enabled (protocol=${e.ssl.protocol}, cipher=${e.ssl.cipher}, bits=${e.ssl.bits})`;
      return { severity: 'LOG', message: m };
    }
    case 'error':
      if (!e.toLog) return null;
      return { ...e.error, severity: e.error.severity, ...(e.statement !== undefined ? { statement: e.statement } : {}) };
    case 'log':
      if (e.toLog === false) return null;
      if (e.toLog === undefined && e.severity.startsWith('DEBUG')) return null;
      return {
        severity: e.severity, message: e.message,
        ...(e.detail !== undefined ? { detail: e.detail } : {}),
        ...(e.hint !== undefined ? { hint: e.hint } : {}),
        ...(e.context !== undefined ? { context: e.context } : {}),
        ...(e.sqlstate !== undefined ? { sqlstate: e.sqlstate } : {}),
      };
    case 'session-ended':
      if (!s.logDisconnections) return null;
      return { severity: 'LOG', message: disconnectionMessage({ sessionMs: e.sessionMs, user: e.user, database: e.database, remoteHost: e.remoteHost ?? '', remotePort: e.remotePort ?? null }) };
    default:
      return null;
  }
}

/** Postmaster lines that are not tied to a connection. */
function postmasterLines(e: ServerEvent, s: LogSettings): LogRecord[] {
  if (e.type === 'server-started') {
    return [
      { severity: 'LOG', message: `starting ${versionString(s.serverVersion)}` },
      ...e.addresses.map((a): LogRecord => {
        const m = /^\[?([^\]]+)\]?:(\d+)$/.exec(a);
        const host = m?.[1] ?? a;
        const port = m?.[2] ?? '';
        return { severity: 'LOG', message: `listening on ${host.includes(':') ? 'IPv6' : 'IPv4'} address "${host}", port ${port}` };
      }),
      { severity: 'LOG', message: 'database system is ready to accept connections' },
    ];
  }
  if (e.type === 'server-stopped') {
    return [{ severity: 'LOG', message: 'received fast shutdown request' }, { severity: 'LOG', message: 'database system is shut down' }];
  }
  return [];
}

/**
 * Every log record one event writes, in order: what an emit_log_hook left of them when one
 * was installed (`e.logRecords`), else what PostgreSQL would write.
 */
export function logRecordsFor(e: ServerEvent, s: LogSettings): LogRecord[] {
  if (e.logRecords) return e.logRecords;
  if (e.connection === 0) {
    const lines = postmasterLines(e, s);
    if (lines.length > 0) return lines;
    // The postmaster's own reports (extensions' _PG_init, reload messages, exit callbacks).
    if (e.type !== 'log' && e.type !== 'error') return [];
  }
  const r = logRecordFor(e, s);
  return r ? [r] : [];
}

/** Renders events to log text, keeping each process's %l line counter. */
export class ServerLog {
  private lineNumbers = new Map<number, number>();
  constructor(private readonly settings: LogSettings, private readonly write: (text: string) => void) {}

  handle(e: ServerEvent): void {
    for (const r of logRecordsFor(e, this.settings)) this.write(this.format(e, r));
  }

  private format(e: ServerEvent, r: LogRecord): string {
    const session = e.connection !== 0;
    const prefix = (): string => {
      const n = (this.lineNumbers.get(e.pid) ?? 0) + 1;
      this.lineNumbers.set(e.pid, n);
      return renderLogLinePrefix(this.settings.logLinePrefix, {
        pid: e.pid,
        sessionStart: e.sessionStart ?? e.time,
        now: e.time,
        user: e.user ?? null,
        database: e.database ?? null,
        remoteHost: e.remoteHost ?? null,
        remotePort: e.remotePort ?? null,
        applicationName: e.applicationName ?? null,
        backendType: session ? 'client backend' : 'postmaster',
        sqlstate: r.sqlstate ?? (r.severity === 'FATAL' || r.severity === 'ERROR' ? 'XX000' : '00000'),
        lineNumber: n,
        isSessionProcess: session,
        ...(this.settings.logTimezone ? { logTimezone: this.settings.logTimezone } : {}),
      });
    };
    return formatLogRecord(prefix, r);
  }
}

/** The whole log for a list of events, e.g. a test's transcript. */
export function renderServerLog(events: readonly ServerEvent[], settings: LogSettings): string {
  let out = '';
  const log = new ServerLog(settings, (t) => { out += t; });
  for (const e of events) log.handle(e);
  return out;
}
