/**
 * Log messages produced while loading pg_hba.conf, in the shape PostgreSQL writes them.
 */

/** ERRCODE_CONFIG_FILE_ERROR: every hba.c parse complaint uses it. */
export const CONFIG_FILE_ERROR = 'F0000';

export interface HbaLoadMessage {
  severity: 'LOG' | 'FATAL';
  sqlstate: string;
  message: string;
  hint?: string;
  /**
   * `line N of configuration file "<path>"`; absent for tokenizer and @file messages (PG15).
   * 16+ tokenizer messages name every file being read, innermost first, one per line
   * (separated by `\n`, as in PG's ErrorData; the log indents the continuation lines).
   */
  context?: string;
  /** The line the message is about, when PG attaches one. */
  lineNumber?: number;
  /** 16+: the file holding `lineNumber` (pg_hba.conf or an included file). */
  fileName?: string;
}

/** Render as the server log shows it with log_line_prefix='' (message, HINT, CONTEXT, in that order). */
export function formatLogMessage(m: HbaLoadMessage, opts: { verbose?: boolean } = {}): string {
  const code = opts.verbose ? `${m.sqlstate}: ` : '';
  let out = `${m.severity}:  ${code}${m.message}`;
  if (m.hint !== undefined) out += `\nHINT:  ${m.hint}`;
  // The log writes continuation lines of a field with a leading tab.
  if (m.context !== undefined) out += `\nCONTEXT:  ${m.context.replace(/\n/g, '\n\t')}`;
  return out;
}

export function lineContext(lineNumber: number, file: string): string {
  return `line ${lineNumber} of configuration file "${file}"`;
}

/** What a file access failure looks like in PG: strerror text and errcode_for_file_access(). */
export interface FileAccessError {
  errno: string;
  text: string;
  sqlstate: string;
}

const ERRNO_TABLE: Record<string, [string, string]> = {
  ENOENT: ['No such file or directory', '58P01'],
  EACCES: ['Permission denied', '42501'],
  EPERM: ['Operation not permitted', '42501'],
  EROFS: ['Read-only file system', '42501'],
  EISDIR: ['Is a directory', '42809'],
  ENOTDIR: ['Not a directory', '42809'],
  ENAMETOOLONG: ['File name too long', 'XX000'],
  ELOOP: ['Too many levels of symbolic links', 'XX000'],
  EMFILE: ['Too many open files', '53000'],
  ENFILE: ['Too many open files in system', '53000'],
  EIO: ['Input/output error', '58030'],
};

/** Map a Node errno code (or anything thrown by a readFile) to PG's text and SQLSTATE. */
export function fileAccessError(err: unknown): FileAccessError {
  const code = typeof err === 'object' && err !== null && 'code' in err ? String((err as { code: unknown }).code) : 'EIO';
  const known = ERRNO_TABLE[code];
  if (known) return { errno: code, text: known[0], sqlstate: known[1] };
  const msg = err instanceof Error ? err.message : String(err);
  // errcode_for_file_access() files every other errno under ERRCODE_INTERNAL_ERROR.
  return { errno: code, text: msg, sqlstate: 'XX000' };
}
