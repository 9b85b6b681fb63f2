/**
 * An error as PostgreSQL's ereport() would raise it. `detailLog` is errdetail_log():
 * written to the server log but never sent to the client.
 */
export type Severity = 'FATAL' | 'ERROR' | 'LOG' | 'WARNING' | 'NOTICE' | 'PANIC';

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
