/**
 * Field-by-field comparison of what a client and the server log showed for
 * one case on the real server and on pg-authsim, and the reports built from
 * it: agreement per version, differences per field, every difference in full.
 */
import { renderTable, type Table, type TableFormat } from '../views/table.js';
import type { PgMajor } from './probe.js';
import type { Scenario } from './scenarios.js';

/** What one side showed for one case, normalised (ports, PIDs, data directory, certificate paths). */
export interface Observation {
  /** The client's exit code (psql: 0 ok, 2 connection failed; the psycopg script: 0 ok, 2 psycopg error). */
  exitCode: number | null;
  stdout: string;
  /** The client's standard error: psql's `psql: error: ...` or the psycopg exception. */
  clientError: string;
  /** `connection received` lines: one per TCP connection the server accepted. */
  tcpConnections: number;
  /** ClientAuthentication_hook calls in order, as `STATUS/ssl` or `STATUS/plain`. */
  hookCalls: string[];
  /** SQLSTATEs of the WARNING/ERROR/FATAL/PANIC messages the server logged, in order. */
  sqlstates: string[];
  /** Per connection: the WARNING/ERROR/FATAL/PANIC messages and their DETAIL/HINT/CONTEXT lines. */
  errorLog: string[][];
  /** Per connection: every other log line (connection received/authenticated/authorized, COMMERROR LOGs). */
  connectionLog: string[][];
  /** Extension differential: what the harness's SQL before the run (reset, before) printed; empty for later runs of a case. */
  setup?: string;
  /** Extension differential: what the state query printed after the run (timestamps normalised, rows sorted unless ordered). */
  state?: string;
}

export type ObservationField = keyof Observation;

/** The fields compared, in the order differences are listed. */
export const FIELDS: readonly ObservationField[] = [
  'exitCode', 'stdout', 'clientError', 'tcpConnections', 'hookCalls', 'sqlstates', 'errorLog', 'connectionLog',
];

/** The extension differential's: the conformance fields, then the harness's SQL output and the extension's state. */
export const DIFFERENTIAL_FIELDS: readonly ObservationField[] = [...FIELDS, 'setup', 'state'];

/** What a result needs of its case: an id (conformance Scenarios, extension differential cases and runs). */
export interface CaseRef { id: string }

export interface CaseResult<S extends CaseRef = Scenario> {
  major: PgMajor;
  scenario: S;
  real: Observation | null;
  sim: Observation | null;
  /** The case could not be run on both sides (a server did not start, a client could not run, ...). */
  error?: string;
  /** Not run, and why (e.g. psycopg is not installed): neither agreeing nor differing. */
  skipped?: string;
}

export interface FieldDifference {
  field: ObservationField;
  real: string;
  sim: string;
}

export interface Difference extends FieldDifference {
  major: PgMajor;
  caseId: string;
}

/** A field's value as text: log fields one line per message, `[n]` naming the connection. */
export function formatField(field: ObservationField, o: Observation): string {
  const v = o[field];
  if (field === 'errorLog' || field === 'connectionLog') {
    const conns = v as string[][];
    const lines = conns.flatMap((c, i) => c.map((l) => `[${i + 1}] ${l}`));
    return lines.length === 0 ? `(nothing in ${conns.length} connection${conns.length === 1 ? '' : 's'})` : lines.join('\n');
  }
  if (Array.isArray(v)) return v.length === 0 ? '(none)' : v.join(', ');
  if (typeof v === 'string') return v === '' ? '(empty)' : v.replace(/\n$/, '');
  return String(v);
}

export function compareObservations(real: Observation, sim: Observation, fields: readonly ObservationField[] = FIELDS): FieldDifference[] {
  const out: FieldDifference[] = [];
  for (const field of fields) {
    if (JSON.stringify(real[field]) !== JSON.stringify(sim[field])) {
      out.push({ field, real: formatField(field, real), sim: formatField(field, sim) });
    }
  }
  return out;
}

export type CaseOutcome = 'agree' | 'differ' | 'error' | 'skipped';

export function caseOutcome(r: CaseResult<CaseRef>, fields: readonly ObservationField[] = FIELDS): CaseOutcome {
  if (r.skipped !== undefined) return 'skipped';
  if (r.error !== undefined || !r.real || !r.sim) return 'error';
  return compareObservations(r.real, r.sim, fields).length === 0 ? 'agree' : 'differ';
}

export function differences(results: readonly CaseResult<CaseRef>[], fields: readonly ObservationField[] = FIELDS): Difference[] {
  return results.flatMap((r) => (r.real && r.sim && r.error === undefined && r.skipped === undefined
    ? compareObservations(r.real, r.sim, fields).map((d) => ({ major: r.major, caseId: r.scenario.id, ...d }))
    : []));
}

export interface VersionSummary {
  major: PgMajor;
  /** The real server's server_version, e.g. `16.14`, when it was seen. */
  realVersion: string;
  cases: number;
  agreeing: number;
  differing: number;
  errors: number;
  skipped: number;
  /** Wall time of its groups added up (groups of different majors run at the same time). */
  seconds: number;
}

export interface ConformanceReport<S extends CaseRef = Scenario> {
  versions: VersionSummary[];
  results: CaseResult<S>[];
  /** The fields compared (default FIELDS). */
  fields?: readonly ObservationField[];
  /** Things the reader should know: the simulator's version knob missing, psycopg unavailable, ... */
  notes: string[];
  seconds: number;
}

/** Zero when every case ran on both sides and agreed; one otherwise. */
export function exitCodeFor(report: ConformanceReport<CaseRef>): number {
  return report.results.every((r) => { const o = caseOutcome(r, report.fields); return o === 'agree' || o === 'skipped'; }) ? 0 : 1;
}

export function summaryTable(report: ConformanceReport<CaseRef>): Table {
  return {
    columns: ['version', 'real server', 'cases', 'agreeing', 'differing', 'errors', 'skipped', 'seconds'],
    rows: report.versions.map((v) => [v.major, v.realVersion, v.cases, v.agreeing, v.differing, v.errors, v.skipped, Math.round(v.seconds)]),
  };
}

/** How many cases differ in each field, per version: the to-do list at a glance. */
export function fieldTable(report: ConformanceReport<CaseRef>): Table {
  const fields = report.fields ?? FIELDS;
  const diffs = differences(report.results, fields);
  return {
    columns: ['version', ...fields],
    rows: report.versions.map((v) => [v.major, ...fields.map((f) => new Set(diffs.filter((d) => d.major === v.major && d.field === f).map((d) => d.caseId)).size)]),
  };
}

export function differencesTable(report: ConformanceReport<CaseRef>): Table {
  return {
    columns: ['version', 'case', 'field', 'real', 'pg-authsim'],
    rows: differences(report.results, report.fields).map((d) => [d.major, d.caseId, d.field, d.real, d.sim]),
  };
}

export function errorsTable(report: ConformanceReport<CaseRef>): Table {
  return {
    columns: ['version', 'case', 'error'],
    rows: report.results.filter((r) => caseOutcome(r, report.fields) === 'error').map((r) => [r.major, r.scenario.id, r.error ?? 'no observation']),
  };
}

export type ReportFormat = Extract<TableFormat, 'table' | 'markdown' | 'json'>;

/** The whole report: agreement per version, differences per field, then every difference and error in full. */
export function renderReport(report: ConformanceReport<CaseRef>, format: ReportFormat): string {
  if (format === 'json') {
    return `${JSON.stringify({
      versions: report.versions,
      differences: differences(report.results, report.fields),
      errors: report.results.filter((r) => caseOutcome(r, report.fields) === 'error').map((r) => ({ major: r.major, caseId: r.scenario.id, error: r.error ?? 'no observation' })),
      skipped: report.results.filter((r) => r.skipped !== undefined).map((r) => ({ major: r.major, caseId: r.scenario.id, reason: r.skipped })),
      notes: report.notes,
      seconds: Math.round(report.seconds),
    }, null, 2)}\n`;
  }
  const diffs = differences(report.results, report.fields);
  const errors = errorsTable(report);
  const parts: string[] = [];
  const heading = (t: string) => (format === 'markdown' ? `### ${t}\n\n` : `${t}\n\n`);
  parts.push(heading('Agreement per version') + renderTable(summaryTable(report), format));
  if (diffs.length > 0) parts.push(heading('Cases differing, per field') + renderTable(fieldTable(report), format));
  if (report.notes.length > 0) parts.push(heading('Notes') + report.notes.map((n) => `- ${n}`).join('\n') + '\n');
  if (diffs.length > 0) {
    if (format === 'markdown') {
      parts.push(heading(`Differences (${diffs.length})`) + renderTable(differencesTable(report), format));
    } else {
      const indent = (label: string, text: string) => text.split('\n').map((l, i) => `  ${i === 0 ? label : ' '.repeat(label.length)}${l}`).join('\n');
      parts.push(heading(`Differences (${diffs.length})`) + diffs.map((d) =>
        `[${d.major}] ${d.caseId}  ${d.field}\n${indent('real:       ', d.real)}\n${indent('pg-authsim: ', d.sim)}\n`).join('\n'));
    }
  }
  if (errors.rows.length > 0) parts.push(heading(`Errors (${errors.rows.length})`) + renderTable(errors, format));
  return parts.join('\n');
}
