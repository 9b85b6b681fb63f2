/**
 * elog.h's reporting API for extensions: ereport(level, errcode(...), errmsg(...), ...) and
 * elog(level, fmt, ...), with C's defaults and C's routing:
 *
 * - ERROR, FATAL and PANIC throw (the C call does not return). An ERROR thrown during
 *   authentication or in the postmaster ends up FATAL, as errstart() promotes it there.
 * - Anything lower is reported and returns: log_min_messages decides whether the server log
 *   gets it, client_min_messages whether the client does (nothing below ERROR reaches a client
 *   that is still authenticating; LOG_SERVER_ONLY/COMMERROR never do).
 * - Without errcode(): XX000 for ERROR and above, 01000 for WARNING, 00000 below.
 */
import { PgError, type PgErrorFields, type Severity } from '../errors.js';
import { defaultSqlstate, elevelNumber, ERROR, severityOf, type Elevel } from '../log/elevel.js';

/** One errxxx() call's contribution to a report: any of PgErrorFields but the severity. */
export type ErrorPart = Partial<Omit<PgErrorFields, 'severity'>>;

/** The fields of a report below ERROR, as a server hands it on. */
export type ReportFields = Omit<PgErrorFields, 'severity'> & { severity: Severity };

/**
 * A printf subset for errmsg/elog formats: %s %d %i %u %ld %lu %lld %llu %zu %f %g %x %c %%.
 * (%m is not modelled: there is no errno.)
 */
export function pgPrintf(format: string, args: readonly unknown[]): string {
  let i = 0;
  return format.replace(/%(-?\d*)(?:\.(\d+))?(l{0,2}|z|h)?([sdiufgxXc%])/g, (_m, width: string, precision: string | undefined, _len, conv: string) => {
    if (conv === '%') return '%';
    const arg = args[i++];
    let out: string;
    switch (conv) {
      case 'd': case 'i': case 'u': out = typeof arg === 'bigint' ? arg.toString() : String(Math.trunc(Number(arg))); break;
      case 'f': out = Number(arg).toFixed(precision === undefined ? 6 : Number(precision)); break;
      case 'g': out = String(Number(arg)); break;
      case 'x': out = Number(arg).toString(16); break;
      case 'X': out = Number(arg).toString(16).toUpperCase(); break;
      case 'c': out = typeof arg === 'number' ? String.fromCharCode(arg) : String(arg).slice(0, 1); break;
      default: out = arg === null ? '(null)' : String(arg);
    }
    const w = Number(width || '0');
    if (Math.abs(w) > out.length) out = w < 0 ? out.padEnd(-w) : out.padStart(w);
    return out;
  });
}

const fmt = (format: string, args: readonly unknown[]) => (args.length > 0 ? pgPrintf(format, args) : format);

export const errcode = (sqlstate: string): ErrorPart => ({ sqlstate });
export const errmsg = (format: string, ...args: unknown[]): ErrorPart => ({ message: fmt(format, args) });
/** errmsg_internal: the same text, not translated (nothing is translated here). */
export const errmsg_internal = errmsg;
export const errdetail = (format: string, ...args: unknown[]): ErrorPart => ({ detail: fmt(format, args) });
export const errdetail_internal = errdetail;
/** errdetail_log: replaces the DETAIL in the server log only; the client gets errdetail's. */
export const errdetail_log = (format: string, ...args: unknown[]): ErrorPart => ({ detailLog: fmt(format, args) });
export const errhint = (format: string, ...args: unknown[]): ErrorPart => ({ hint: fmt(format, args) });
export const errcontext = (format: string, ...args: unknown[]): ErrorPart => ({ context: fmt(format, args) });

/** Merge errxxx() parts into a report at `level`, with errstart()'s default SQLSTATE. */
export function buildReport(level: Elevel, parts: readonly ErrorPart[]): ReportFields {
  const merged: ErrorPart = {};
  for (const p of parts) Object.assign(merged, Object.fromEntries(Object.entries(p).filter(([, v]) => v !== undefined)));
  return {
    ...merged,
    severity: severityOf(level) as Severity,
    sqlstate: merged.sqlstate ?? defaultSqlstate(level),
    message: merged.message ?? 'missing error text',
  };
}

/** True when a report at this level does not return (ERROR, FATAL, PANIC). */
export function isThrowingLevel(level: Elevel): boolean {
  return elevelNumber(level) >= ERROR;
}

/** The error a report at ERROR or above throws. */
export function reportError(level: Elevel, parts: readonly ErrorPart[]): PgError {
  return new PgError(buildReport(level, parts));
}
