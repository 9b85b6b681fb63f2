/**
 * A tiny simple-query responder: enough for real clients to finish
 * connecting and ask what they got. Everything else is a clean ERROR.
 */
import { PgError } from '../errors.js';
import type { ClientConnection } from '../connection.js';

export const OID = { bool: 16, name: 19, int4: 23, text: 25 } as const;
const TYPLEN: Record<number, number> = { 16: 1, 19: 64, 23: 4, 25: -1 };

export interface Column { name: string; typeOid: number }
export interface QueryResult {
  /** Empty for utility commands (BEGIN, SET, ...), which send no RowDescription. */
  columns: Column[];
  rows: Array<Array<string | null>>;
  tag: string;
  /** Transaction-block effect, for ReadyForQuery's status byte. */
  transaction?: 'begin' | 'end';
}

const command = (tag: string, transaction?: 'begin' | 'end'): QueryResult => ({ columns: [], rows: [], tag, ...(transaction ? { transaction } : {}) });

type Responder = { pattern: RegExp; answer: (be: ClientConnection, m: RegExpExecArray) => QueryResult };

const one = (name: string, typeOid: number, value: string | null): QueryResult => ({ columns: [{ name, typeOid }], rows: [[value]], tag: 'SELECT 1' });

const RESPONDERS: Responder[] = [
  // Drivers wrap work in transactions and set session parameters; accept those so they get going.
  { pattern: /^(begin|start\s+transaction)\b.*$/is, answer: () => command('BEGIN', 'begin') },
  { pattern: /^(commit|end)(\s+(work|transaction))?$/i, answer: () => command('COMMIT', 'end') },
  { pattern: /^(rollback|abort)(\s+(work|transaction))?$/i, answer: () => command('ROLLBACK', 'end') },
  { pattern: /^set\s+(session\s+|local\s+)?[a-z_][a-z0-9_.]*\s*(=|\s+to\s+).+$/is, answer: () => command('SET') },
  { pattern: /^reset\s+[a-z_][a-z0-9_.]*$/i, answer: () => command('RESET') },
  { pattern: /^select\s+1$/i, answer: () => one('?column?', OID.int4, '1') },
  { pattern: /^select\s+(current_user|session_user|user)$/i, answer: (be, m) => one(m[1]!.toLowerCase(), OID.name, be.port.user_name) },
  { pattern: /^select\s+current_database\(\)$/i, answer: (be) => one('current_database', OID.name, be.port.database_name) },
  { pattern: /^show\s+ssl$/i, answer: (be) => one('ssl', OID.text, be.settings.ssl ? 'on' : 'off') },
  { pattern: /^show\s+server_version$/i, answer: (be) => one('server_version', OID.text, be.settings.serverVersion) },
  { pattern: /^show\s+application_name$/i, answer: (be) => one('application_name', OID.text, be.session?.application_name ?? '') },
  {
    pattern: /^select\s+ssl\s+from\s+pg_stat_ssl\s+where\s+pid\s*=\s*pg_backend_pid\(\)$/i,
    answer: (be) => one('ssl', OID.bool, be.port.ssl_in_use ? 't' : 'f'),
  },
  {
    pattern: /^select\s+ssl\s*,\s*version\s*,\s*cipher\s+from\s+pg_stat_ssl\s+where\s+pid\s*=\s*pg_backend_pid\(\)$/i,
    answer: (be) => ({
      columns: [{ name: 'ssl', typeOid: OID.bool }, { name: 'version', typeOid: OID.text }, { name: 'cipher', typeOid: OID.text }],
      rows: [[be.port.ssl_in_use ? 't' : 'f', be.port.ssl_protocol, be.port.ssl_cipher]],
      tag: 'SELECT 1',
    }),
  },
  { pattern: /^select\s+pg_backend_pid\(\)$/i, answer: (be) => one('pg_backend_pid', OID.int4, String(be.pid)) },
  { pattern: /^select\s+version\(\)$/i, answer: (be) => one('version', OID.text, versionString(be.settings.serverVersion)) },
];

export function versionString(serverVersion: string): string {
  return `PostgreSQL ${serverVersion} on x86_64-pc-linux-gnu, compiled by gcc (Debian 12.2.0-14+deb12u1) 12.2.0, 64-bit`;
}

export function answerQuery(be: ClientConnection, sql: string): QueryResult | 'empty' {
  const trimmed = sql.trim().replace(/;\s*$/, '').trim();
  if (trimmed === '') return 'empty';
  for (const r of RESPONDERS) {
    const m = r.pattern.exec(trimmed);
    if (m) return r.answer(be, m);
  }
  throw new PgError({
    severity: 'ERROR', sqlstate: '0A000',
    message: 'pg-authsim does not execute this query',
    detail: 'Only a few introspection queries are simulated: SELECT 1, SELECT current_user, SHOW ssl, SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid(), SELECT pg_backend_pid(), SELECT version().',
    routine: 'exec_simple_query',
  });
}

export function typeSize(oid: number): number {
  return TYPLEN[oid] ?? -1;
}
