/**
 * What one side showed for a case, read off its client run and its server
 * log: the fields of an Observation, with ports, PIDs, the data directory
 * and certificate paths normalised so both sides can be compared.
 */
import { hookCallLabel } from '../testing/trace.js';
import { logRecordsFor, type LogSettings } from '../views/server-log.js';
import { formatLogRecord } from '../log/index.js';
import type { ServerEvent } from '../events.js';
import { parseHookProbeLine } from './probe.js';
import type { ServerLogEntry } from './real-server.js';
import { CERTS_DIR } from './scenarios.js';
import type { ClientRun } from './client-run.js';
import type { Observation } from './compare.js';

/** One log message as text from its severity on (`FATAL:  28P01: ...` under log_error_verbosity = verbose). */
export interface LogMessage {
  connection: string | number;
  text: string;
}

const PRIMARY = new Set(['LOG', 'INFO', 'NOTICE', 'WARNING', 'ERROR', 'FATAL', 'PANIC', 'DEBUG1', 'DEBUG2', 'DEBUG3', 'DEBUG4', 'DEBUG5']);
const ERRORS = new Set(['WARNING', 'ERROR', 'FATAL', 'PANIC']);
const ENTRY_RE = /^([A-Z0-9]+): {2}([\s\S]*)$/;
const SQLSTATE_RE = /^([0-9A-Z]{5}): ([\s\S]*)$/;

export interface Normaliser {
  /** The data directory and the server's port of this side. */
  dataDir: string;
  port: number;
}

export function normalise(text: string, n: Normaliser): string {
  return text
    .split(n.dataDir).join('$DATA')
    .split(CERTS_DIR).join('$CERTS')
    .replace(/(connection received: host=\S+ port=)\d+/g, '$1$CLIENTPORT')
    .replace(new RegExp(`\\b${n.port}\\b`, 'g'), '$PORT');
}

/**
 * The log fields of an observation from verbose log messages grouped by
 * connection: SQLSTATEs come off the primary lines, LOCATION lines go (their
 * file:line is the server's source, not behaviour), hook_probe lines become
 * hook calls.
 */
export function logObservation(messages: readonly LogMessage[], n: Normaliser): Pick<Observation, 'tcpConnections' | 'hookCalls' | 'sqlstates' | 'errorLog' | 'connectionLog'> {
  const conns = new Map<string | number, { errors: string[]; other: string[] }>();
  const hookCalls: string[] = [];
  const sqlstates: string[] = [];
  let tcpConnections = 0;
  let lastWasError = false;
  for (const m of messages) {
    let conn = conns.get(m.connection);
    if (!conn) conns.set(m.connection, conn = { errors: [], other: [] });
    const e = ENTRY_RE.exec(m.text);
    if (!e) {
      (lastWasError ? conn.errors : conn.other).push(normalise(m.text, n));
      continue;
    }
    const severity = e[1]!;
    let body = e[2]!;
    if (severity === 'LOCATION') continue;
    if (PRIMARY.has(severity)) {
      const s = SQLSTATE_RE.exec(body);
      if (s) {
        body = s[2]!;
        if (ERRORS.has(severity)) sqlstates.push(s[1]!);
      }
      const call = parseHookProbeLine(`${severity}:  ${body}`);
      if (call) {
        hookCalls.push(hookCallLabel({ status: call.status, ssl: call.ssl }));
        lastWasError = false;
        continue;
      }
      if (severity === 'LOG' && body.startsWith('connection received:')) tcpConnections++;
      lastWasError = ERRORS.has(severity);
    }
    (lastWasError ? conn.errors : conn.other).push(normalise(`${severity}:  ${body}`, n));
  }
  return {
    tcpConnections,
    hookCalls,
    sqlstates,
    errorLog: [...conns.values()].map((c) => c.errors),
    connectionLog: [...conns.values()].map((c) => c.other),
  };
}

export function clientFields(r: ClientRun, n: Normaliser): Pick<Observation, 'exitCode' | 'stdout' | 'clientError'> {
  return { exitCode: r.exitCode, stdout: normalise(r.stdout, n), clientError: normalise(r.stderr, n) };
}

/** The real server's log since a case began, as messages per backend. */
export function realMessages(entries: readonly ServerLogEntry[]): LogMessage[] {
  return entries.filter((e) => !e.background).map((e) => ({ connection: e.pid, text: e.text }));
}

/**
 * pg-authsim's events as the messages its log would hold, rendered as PostgreSQL does under
 * log_error_verbosity = verbose: what an emit_log_hook left of them included (a hidden
 * STATEMENT, a report kept out of the log), as the server log view shows them.
 */
export function simMessages(events: readonly ServerEvent[], settings: LogSettings): LogMessage[] {
  const out: LogMessage[] = [];
  for (const e of events) {
    if (e.connection === 0) continue;
    for (const rec of logRecordsFor(e, settings)) {
      // One entry per prefixed line, tab-indented continuation lines folded in, as the real log is read.
      for (const line of formatLogRecord('', rec, { verbosity: 'verbose' }).replace(/\n$/, '').split('\n')) {
        const last = out[out.length - 1];
        if (line.startsWith('\t') && last) last.text += `\n${line}`;
        else out.push({ connection: e.connection, text: line });
      }
    }
  }
  return out;
}
