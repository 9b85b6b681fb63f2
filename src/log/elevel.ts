/**
 * elog.h's message levels and elog.c's two routing decisions: is a message written to the
 * server log (log_min_messages) and is it sent to the client (client_min_messages, and
 * nothing below ERROR while authentication is in progress).
 */

/** The levels as elog.h numbers them (PostgreSQL 15). */
export const DEBUG5 = 10;
export const DEBUG4 = 11;
export const DEBUG3 = 12;
export const DEBUG2 = 13;
export const DEBUG1 = 14;
export const LOG = 15;
/** LOG_SERVER_ONLY and COMMERROR share a number: logged as LOG, never sent to the client. */
export const LOG_SERVER_ONLY = 16;
export const COMMERROR = 16;
export const INFO = 17;
export const NOTICE = 18;
export const WARNING = 19;
export const WARNING_CLIENT_ONLY = 20;
export const ERROR = 21;
export const FATAL = 22;
export const PANIC = 23;

export type ElevelName =
  | 'DEBUG5' | 'DEBUG4' | 'DEBUG3' | 'DEBUG2' | 'DEBUG1' | 'LOG' | 'LOG_SERVER_ONLY' | 'COMMERROR'
  | 'INFO' | 'NOTICE' | 'WARNING' | 'WARNING_CLIENT_ONLY' | 'ERROR' | 'FATAL' | 'PANIC';

export const ELEVELS: Readonly<Record<ElevelName, number>> = {
  DEBUG5, DEBUG4, DEBUG3, DEBUG2, DEBUG1, LOG, LOG_SERVER_ONLY, COMMERROR, INFO, NOTICE, WARNING,
  WARNING_CLIENT_ONLY, ERROR, FATAL, PANIC,
};

/** A level given by name or by number, as extension code may hold either. */
export type Elevel = ElevelName | number;

export function elevelNumber(level: Elevel): number {
  if (typeof level === 'number') return level;
  const n = ELEVELS[level];
  if (n === undefined) throw new TypeError(`unknown message level "${String(level)}"`);
  return n;
}

/** The name a number goes by (LOG_SERVER_ONLY for 16, WARNING_CLIENT_ONLY for 20). */
export function elevelName(level: Elevel): ElevelName {
  if (typeof level === 'string') return level;
  const found = (Object.entries(ELEVELS) as Array<[ElevelName, number]>).find(([name, n]) => n === level && name !== 'COMMERROR');
  if (!found) throw new TypeError(`unknown message level ${level}`);
  return found[0];
}

/** error_severity(): the word the log and the client see. */
export function severityWord(level: Elevel): string {
  const n = elevelNumber(level);
  if (n <= DEBUG1) return 'DEBUG';
  if (n === LOG || n === LOG_SERVER_ONLY) return 'LOG';
  if (n === INFO) return 'INFO';
  if (n === NOTICE) return 'NOTICE';
  if (n === WARNING || n === WARNING_CLIENT_ONLY) return 'WARNING';
  if (n === ERROR) return 'ERROR';
  if (n === FATAL) return 'FATAL';
  return 'PANIC';
}

/** errstart()'s default SQLSTATE when the report gives no errcode(). */
export function defaultSqlstate(level: Elevel): string {
  const n = elevelNumber(level);
  if (n >= ERROR) return 'XX000';
  if (n >= WARNING) return '01000';
  return '00000';
}

/** log_min_messages' values (server_message_level_options). */
export const LOG_MIN_MESSAGES_OPTIONS = ['debug5', 'debug4', 'debug3', 'debug2', 'debug1', 'info', 'notice', 'warning', 'error', 'log', 'fatal', 'panic'] as const;
/** client_min_messages' values (client_message_level_options). */
export const CLIENT_MIN_MESSAGES_OPTIONS = ['debug5', 'debug4', 'debug3', 'debug2', 'debug1', 'log', 'notice', 'warning', 'error'] as const;

/** A *_min_messages setting ('warning', 'debug1', ...; 'debug' means debug2) as a level number. */
export function minMessagesLevel(setting: string): number {
  const s = setting.toLowerCase();
  if (s === 'debug') return DEBUG2;
  const n = ELEVELS[s.toUpperCase() as ElevelName];
  if (n === undefined) throw new TypeError(`unknown message level setting "${setting}"`);
  return n;
}

/**
 * is_log_level_output(): LOG sorts between ERROR and FATAL for the server log, so
 * `log_min_messages = error` still writes LOG lines and `= fatal` does not.
 */
export function isLogLevelOutput(level: Elevel, logMinLevel: number): boolean {
  const n = elevelNumber(level);
  if (n === LOG || n === LOG_SERVER_ONLY) return logMinLevel === LOG || logMinLevel <= ERROR;
  if (n === WARNING_CLIENT_ONLY) return false;
  if (logMinLevel === LOG) return n >= FATAL;
  return n >= logMinLevel;
}

/**
 * should_output_to_client(): never LOG_SERVER_ONLY; while ClientAuthentication runs only
 * ERROR and above (a client that is not yet authenticated learns nothing else); afterwards
 * what reaches client_min_messages, and INFO always.
 */
export function isClientLevelOutput(level: Elevel, clientMinLevel: number, clientAuthInProgress: boolean): boolean {
  const n = elevelNumber(level);
  if (n === LOG_SERVER_ONLY) return false;
  if (clientAuthInProgress) return n >= ERROR;
  return n >= clientMinLevel || n === INFO;
}

/** The Severity a report carries in events and PgError: DEBUG1..DEBUG5 keep their number. */
export function severityOf(level: Elevel): 'DEBUG5' | 'DEBUG4' | 'DEBUG3' | 'DEBUG2' | 'DEBUG1' | 'LOG' | 'INFO' | 'NOTICE' | 'WARNING' | 'ERROR' | 'FATAL' | 'PANIC' {
  const n = elevelNumber(level);
  if (n <= DEBUG1) return elevelName(n) as 'DEBUG1';
  return severityWord(n) as 'LOG';
}
