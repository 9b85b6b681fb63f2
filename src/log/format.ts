/**
 * The server log's stderr text for one message, as elog.c's send_message_to_server_log writes
 * it: every line (the message and each DETAIL/HINT/QUERY/CONTEXT/LOCATION/STATEMENT line) gets
 * its own log_line_prefix, and embedded newlines continue on a tab-indented line.
 */
import type { Clock } from '../clock.js';
import type { PgErrorFields, Severity } from '../errors.js';
import { renderLogLinePrefix, type LogLineContext } from './log-line-prefix.js';

export type LogSeverity =
  | Severity | 'DEBUG1' | 'DEBUG2' | 'DEBUG3' | 'DEBUG4' | 'DEBUG5' | 'DEBUG' | 'INFO'
  /** LOG_SERVER_ONLY / COMMERROR: logged as LOG, never sent to the client. */
  | 'LOG_SERVER_ONLY' | 'COMMERROR';

export interface LogRecord {
  severity: LogSeverity;
  message: string;
  sqlstate?: string;
  detail?: string;
  /** errdetail_log(): replaces `detail` in the server log. */
  detailLog?: string;
  hint?: string;
  /** An internally generated query (QUERY: line). */
  internalQuery?: string;
  context?: string;
  /** The client's statement, when log_min_error_statement says to log it. */
  statement?: string;
  /** Cursor position: " at character N". */
  position?: number;
  /** Source location for log_error_verbosity = verbose. */
  file?: string;
  line?: number;
  routine?: string;
}

export type LogErrorVerbosity = 'terse' | 'default' | 'verbose';

/** error_severity(): the word printed before the message. */
export function severityLabel(severity: LogSeverity): string {
  switch (severity) {
    case 'DEBUG1': case 'DEBUG2': case 'DEBUG3': case 'DEBUG4': case 'DEBUG5': case 'DEBUG':
      return 'DEBUG';
    case 'LOG_SERVER_ONLY': case 'COMMERROR':
      return 'LOG';
    default:
      return severity;
  }
}

/** append_with_tabs: every newline inside a field is followed by a tab. */
export function appendWithTabs(text: string): string {
  return text.replace(/\n/g, '\n\t');
}

/**
 * A log_line_prefix for every line: a fixed string, or a function called once per line in
 * order (PostgreSQL evaluates the prefix anew for each line, so %l advances).
 */
export type PrefixSource = string | ((lineIndex: number) => string);

/** The stderr text of one message: one or more lines, each ending in "\n". */
export function formatLogRecord(
  prefix: PrefixSource, record: LogRecord | PgErrorFields, options: { verbosity?: LogErrorVerbosity } = {},
): string {
  const r = record as LogRecord;
  const verbosity = options.verbosity ?? 'default';
  let lineIndex = 0;
  const nextPrefix = () => (typeof prefix === 'string' ? prefix : prefix(lineIndex++));
  let out = `${nextPrefix()}${severityLabel(r.severity)}:  `;
  if (verbosity === 'verbose') out += `${r.sqlstate ?? '00000'}: `;
  out += appendWithTabs(r.message ?? 'missing error text');
  if (r.position !== undefined && r.position > 0) out += ` at character ${r.position}`;
  out += '\n';
  if (verbosity !== 'terse') {
    const detail = r.detailLog ?? r.detail;
    if (detail !== undefined) out += `${nextPrefix()}DETAIL:  ${appendWithTabs(detail)}\n`;
    if (r.hint !== undefined) out += `${nextPrefix()}HINT:  ${appendWithTabs(r.hint)}\n`;
    if (r.internalQuery !== undefined) out += `${nextPrefix()}QUERY:  ${appendWithTabs(r.internalQuery)}\n`;
    if (r.context !== undefined) out += `${nextPrefix()}CONTEXT:  ${appendWithTabs(r.context)}\n`;
    if (verbosity === 'verbose' && r.file !== undefined) {
      out += r.routine !== undefined
        ? `${nextPrefix()}LOCATION:  ${r.routine}, ${r.file}:${r.line ?? 0}\n`
        : `${nextPrefix()}LOCATION:  ${r.file}:${r.line ?? 0}\n`;
    }
  }
  if (r.statement !== undefined) out += `${nextPrefix()}STATEMENT:  ${appendWithTabs(r.statement)}\n`;
  return out;
}

/** What stays the same across one process's log lines (LogLineContext minus the per-line parts). */
export type ProcessLogContext = Omit<LogLineContext, 'now' | 'lineNumber' | 'sqlstate'>;

export interface ProcessLoggerOptions {
  /** log_line_prefix. */
  logLinePrefix: string;
  clock: Clock;
  context: ProcessLogContext;
  verbosity?: LogErrorVerbosity;
  /** Receives each message's text; collected in `output` when absent. */
  write?: (text: string) => void;
}

/**
 * One process's view of the server log: it owns the per-process %l counter, stamps each
 * message once from the Clock (every line of a message shares %m), and knows who the
 * session is as that becomes known (update()).
 */
export class ProcessLogger {
  private lineNumber = 0;
  private context: ProcessLogContext;
  logLinePrefix: string;
  verbosity: LogErrorVerbosity;
  readonly output: string[] = [];
  private readonly clock: Clock;
  private readonly write: (text: string) => void;

  constructor(options: ProcessLoggerOptions) {
    this.logLinePrefix = options.logLinePrefix;
    this.clock = options.clock;
    this.context = { ...options.context };
    this.verbosity = options.verbosity ?? 'default';
    this.write = options.write ?? ((t) => { this.output.push(t); });
  }

  /** Merge newly known facts (user, database, backendType, psDisplay, ...). */
  update(changes: Partial<ProcessLogContext>): void {
    if (changes.pid !== undefined && changes.pid !== this.context.pid) this.lineNumber = 0; // a new process
    this.context = { ...this.context, ...changes };
  }

  get currentContext(): Readonly<ProcessLogContext> {
    return this.context;
  }

  /** Format one message, hand it to the writer, and return it. */
  log(record: LogRecord | PgErrorFields): string {
    const now = this.clock.now();
    const sqlstate = record.sqlstate ?? defaultSqlstate(record.severity);
    const text = formatLogRecord(
      () => renderLogLinePrefix(this.logLinePrefix, { ...this.context, now, sqlstate, lineNumber: ++this.lineNumber }),
      record,
      { verbosity: this.verbosity },
    );
    this.write(text);
    return text;
  }
}

/** ereport's default errcode: ERRCODE_INTERNAL_ERROR for ERROR and above, else success (or 01000 for WARNING). */
function defaultSqlstate(severity: LogSeverity): string {
  switch (severity) {
    case 'ERROR': case 'FATAL': case 'PANIC': return 'XX000';
    case 'WARNING': return '01000';
    default: return '00000';
  }
}

/** log_disconnections' message (postgres.c log_disconnections). */
export function disconnectionMessage(p: {
  sessionMs: number; user: string; database: string; remoteHost: string; remotePort?: string | number | null;
}): string {
  const totalMs = Math.max(0, Math.floor(p.sessionMs));
  let secs = Math.floor(totalMs / 1000);
  const msecs = totalMs % 1000;
  const hours = Math.floor(secs / 3600);
  secs %= 3600;
  const minutes = Math.floor(secs / 60);
  const seconds = secs % 60;
  const port = p.remotePort == null ? '' : String(p.remotePort);
  const p2 = (n: number) => String(n).padStart(2, '0');
  return `disconnection: session time: ${hours}:${p2(minutes)}:${p2(seconds)}.${String(msecs).padStart(3, '0')} ` +
    `user=${p.user} database=${p.database} host=${p.remoteHost}${port ? ' port=' : ''}${port}`;
}
