/**
 * log_line_prefix rendering, escape by escape as PostgreSQL 15's elog.c log_line_prefix() does,
 * including padding (%-10u, %10p), %q, and the "[unknown]" placeholders for a session whose
 * user or database is not known yet.
 */
import { byteLength } from '../bytes.js';
import { formatTimestamp, formatTimestampMs, zoneFor } from './timezone.js';

export interface LogLineContext {
  /** MyProcPid. */
  pid: number;
  /** MyStartTime in ms since the epoch (%c and %s use whole seconds). */
  sessionStart: number;
  /** The time of the message, ms since the epoch (from a Clock). */
  now: number;
  user?: string | null;
  database?: string | null;
  /** Client address, or "[local]" for a Unix socket (the resolved name with log_hostname). */
  remoteHost?: string | null;
  /** Client port; empty/absent for Unix sockets. */
  remotePort?: string | number | null;
  /** The application_name GUC; a connecting backend has not applied the startup packet's yet. */
  applicationName?: string | null;
  /** %b: "postmaster", "client backend", "not initialized" (a backend before its startup packet), ... */
  backendType: string;
  /** %e: the message's SQLSTATE; "00000" when absent. */
  sqlstate?: string;
  /** %l: this process's log line number, counting from 1. */
  lineNumber: number;
  /** MyProcPort != NULL: a backend serving a client. False for the postmaster and auxiliary processes (%q stops there). */
  isSessionProcess: boolean;
  /** %v: backend ID and local transaction ID; absent until the backend has a PGPROC slot. */
  backendId?: number | null;
  localTransactionId?: number;
  /** %x: top transaction ID, 0 outside a transaction. */
  transactionId?: number;
  /** %i: the ps display activity ("authentication", "idle", "SELECT", ...). */
  psDisplay?: string;
  /** %P: the parallel group leader's PID, for parallel workers only. */
  parallelLeaderPid?: number | null;
  /** %Q: query ID, 0 when none. */
  queryId?: number | bigint;
  /** log_timezone for %t, %m and %s; 'Etc/UTC' by default. */
  logTimezone?: string;
}

/** printf "%*s": width in bytes, negative width left-justifies, never truncates. */
function pad(text: string, padding: number): string {
  if (padding === 0) return text;
  const width = Math.abs(padding);
  const len = byteLength(text);
  if (len >= width) return text;
  const fill = ' '.repeat(width - len);
  return padding > 0 ? fill + text : text + fill;
}

const spaces = (padding: number) => ' '.repeat(Math.abs(padding));

/** Render `format` for one log line. */
export function renderLogLinePrefix(format: string, ctx: LogLineContext): string {
  let out = '';
  const zone = () => zoneFor(ctx.logTimezone ?? 'Etc/UTC');
  for (let i = 0; i < format.length; i++) {
    const ch = format[i]!;
    if (ch !== '%') { out += ch; continue; }
    i++;
    if (i >= format.length) break; // a lone trailing % is ignored
    if (format[i] === '%') { out += '%'; continue; }

    // process_log_prefix_padding: only '-' and digits can start a padding spec.
    let padding = 0;
    if (format[i]! <= '9') {
      let sign = 1;
      if (format[i] === '-') {
        i++;
        if (i >= format.length) break;
        sign = -1;
      }
      while (i < format.length && format[i]! >= '0' && format[i]! <= '9') {
        padding = padding * 10 + (format.charCodeAt(i) - 48);
        i++;
      }
      if (i >= format.length) break; // a format ending in its padding number is invalid
      padding *= sign;
    }

    switch (format[i]) {
      case 'a':
        if (ctx.isSessionProcess) out += pad(ctx.applicationName || '[unknown]', padding);
        else if (padding) out += spaces(padding);
        break;
      case 'b':
        out += pad(ctx.backendType, padding);
        break;
      case 'u':
        if (ctx.isSessionProcess) out += pad(ctx.user || '[unknown]', padding);
        else if (padding) out += spaces(padding);
        break;
      case 'd':
        if (ctx.isSessionProcess) out += pad(ctx.database || '[unknown]', padding);
        else if (padding) out += spaces(padding);
        break;
      case 'c':
        out += pad(`${Math.floor(ctx.sessionStart / 1000).toString(16)}.${ctx.pid.toString(16)}`, padding);
        break;
      case 'p':
        out += pad(String(ctx.pid), padding);
        break;
      case 'P':
        if (ctx.parallelLeaderPid != null && ctx.parallelLeaderPid !== ctx.pid) out += pad(String(ctx.parallelLeaderPid), padding);
        else out += spaces(padding);
        break;
      case 'l':
        out += pad(String(ctx.lineNumber), padding);
        break;
      case 'm':
        out += pad(formatTimestampMs(ctx.now, zone()), padding);
        break;
      case 't':
        out += pad(formatTimestamp(ctx.now, zone()), padding);
        break;
      case 'n': {
        const whole = Math.floor(ctx.now);
        const secs = Math.floor(whole / 1000);
        out += pad(`${secs}.${String(whole - secs * 1000).padStart(3, '0')}`, padding);
        break;
      }
      case 's':
        out += pad(formatTimestamp(Math.floor(ctx.sessionStart / 1000) * 1000, zone()), padding);
        break;
      case 'i':
        if (ctx.isSessionProcess) out += pad(ctx.psDisplay ?? '', padding);
        else if (padding) out += spaces(padding);
        break;
      case 'r':
        if (ctx.isSessionProcess && ctx.remoteHost) {
          const port = ctx.remotePort == null ? '' : String(ctx.remotePort);
          out += pad(port !== '' ? `${ctx.remoteHost}(${port})` : ctx.remoteHost, padding);
        } else if (padding) {
          out += spaces(padding);
        }
        break;
      case 'h':
        if (ctx.isSessionProcess && ctx.remoteHost) out += pad(ctx.remoteHost, padding);
        else if (padding) out += spaces(padding);
        break;
      case 'q':
        // Processes without a client connection stop here; backends ignore it.
        if (!ctx.isSessionProcess) return out;
        break;
      case 'v':
        if (ctx.backendId != null) out += pad(`${ctx.backendId}/${ctx.localTransactionId ?? 0}`, padding);
        else if (padding) out += spaces(padding);
        break;
      case 'x':
        out += pad(String(ctx.transactionId ?? 0), padding);
        break;
      case 'e':
        out += pad(ctx.sqlstate ?? '00000', padding);
        break;
      case 'Q':
        out += pad(String(ctx.queryId ?? 0), padding);
        break;
      default:
        // Unknown escapes print nothing.
        break;
    }
  }
  return out;
}
