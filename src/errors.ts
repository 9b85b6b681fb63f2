/**
 * An error as PostgreSQL's ereport() would raise it. `detailLog` is errdetail_log():
 * written to the server log but never sent to the client.
 */
export type Severity = 'FATAL' | 'ERROR' | 'LOG' | 'WARNING' | 'NOTICE' | 'PANIC'
  | 'INFO' | 'DEBUG1' | 'DEBUG2' | 'DEBUG3' | 'DEBUG4' | 'DEBUG5';

export interface PgErrorFields {
  severity: Severity;
  sqlstate: string;
  message: string;
  detail?: string;
  detailLog?: string;
  hint?: string;
  context?: string;
  /** errposition(): 1-based character offset into the client's query (the P field; "at character N" in the log). */
  position?: number;
  /** Source location PostgreSQL reports in the F/L/R fields. */
  file?: string;
  line?: number;
  routine?: string;
}

export class PgError extends Error implements PgErrorFields {
  severity: Severity;
  sqlstate: string;
  detail?: string;
  detailLog?: string;
  hint?: string;
  context?: string;
  position?: number;
  file?: string;
  line?: number;
  routine?: string;

  constructor(fields: PgErrorFields) {
    super(fields.message);
    this.name = 'PgError';
    this.severity = fields.severity;
    this.sqlstate = fields.sqlstate;
    Object.assign(this, stripUndefined(fields));
  }

  get fields(): PgErrorFields {
    return stripUndefined({
      severity: this.severity, sqlstate: this.sqlstate, message: this.message,
      detail: this.detail, detailLog: this.detailLog, hint: this.hint, context: this.context, position: this.position,
      file: this.file, line: this.line, routine: this.routine,
    });
  }
}

/** errcodes.h names for the SQLSTATEs extensions use most (ERRCODE_*). */
export const ERRCODE = {
  SUCCESSFUL_COMPLETION: '00000',
  WARNING: '01000',
  FEATURE_NOT_SUPPORTED: '0A000',
  INVALID_PARAMETER_VALUE: '22023',
  INVALID_TEXT_REPRESENTATION: '22P02',
  INVALID_AUTHORIZATION_SPECIFICATION: '28000',
  INVALID_PASSWORD: '28P01',
  SYNTAX_ERROR: '42601',
  INSUFFICIENT_PRIVILEGE: '42501',
  UNDEFINED_OBJECT: '42704',
  UNDEFINED_FUNCTION: '42883',
  DUPLICATE_OBJECT: '42710',
  RESERVED_NAME: '42939',
  INVALID_NAME: '42602',
  TOO_MANY_CONNECTIONS: '53300',
  PROGRAM_LIMIT_EXCEEDED: '54000',
  OBJECT_NOT_IN_PREREQUISITE_STATE: '55000',
  CANT_CHANGE_RUNTIME_PARAM: '55P02',
  QUERY_CANCELED: '57014',
  ADMIN_SHUTDOWN: '57P01',
  CONFIG_FILE_ERROR: 'F0000',
  INTERNAL_ERROR: 'XX000',
} as const;

export function fatal(sqlstate: string, message: string, extra: Partial<PgErrorFields> = {}): PgError {
  return new PgError({ severity: 'FATAL', sqlstate, message, ...extra });
}

/** A problem in a configuration file, reported as PostgreSQL does: message plus "line N of configuration file". */
export class ConfigFileError extends Error {
  constructor(
    message: string,
    readonly file: string,
    readonly lineNumber: number,
    readonly hint?: string,
  ) {
    super(message);
    this.name = 'ConfigFileError';
  }
  /** PostgreSQL's CONTEXT line for the error. */
  get context(): string {
    return `line ${this.lineNumber} of configuration file "${this.file}"`;
  }
  override toString(): string {
    return `${this.file}:${this.lineNumber}: ${this.message}${this.hint ? ` (HINT: ${this.hint})` : ''}`;
  }
}

function stripUndefined<T extends object>(o: T): T {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as T;
}
