/** Reading spec/data/pg15/*.json and putting the simulator's events in the same shape. */
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { renderServerLog } from '../../src/views/server-log.js';
import type { ServerEvent } from '../../src/events.js';
import { ROOT } from './fixtures.js';

export interface OracleCase {
  group: string; hba: string; method: string; serverSsl: boolean; password: 'right' | 'wrong' | 'none' | 'typed';
  typed?: string; tty?: string;
  sslmode: string; user: string; conninfo: string; exitCode: number; stdout: string; stderr: string;
  tcpConnections: number; hookCalls: Array<{ status: string; ssl: boolean }>;
  connections: Array<{ log: string[] }>;
}
export interface PsqlGridOracle { passwords: Record<string, string>; cases: OracleCase[] }

export function loadPsqlGrid(): PsqlGridOracle {
  return JSON.parse(readFileSync(path.join(ROOT, 'spec/data/pg15/psql-grid.json'), 'utf8')) as PsqlGridOracle;
}

/** One entry per log message, tab-indented continuation lines folded in, as the oracle stores them. */
export function logEntries(text: string): string[] {
  const out: string[] = [];
  for (const line of text.split('\n')) {
    if (line === '') continue;
    if (line.startsWith('\t') && out.length > 0) out[out.length - 1] += `\n${line}`;
    else out.push(line);
  }
  return out;
}

/** Each connection's log lines with no prefix, the hba path and client port normalised like the oracle's. */
export function perConnectionLogs(events: readonly ServerEvent[]): string[][] {
  const byConn = new Map<number, ServerEvent[]>();
  for (const e of events) {
    if (e.connection === 0) continue;
    byConn.set(e.connection, [...(byConn.get(e.connection) ?? []), e]);
  }
  return [...byConn.values()].map((evs) => logEntries(renderServerLog(evs, {
    logConnections: true, logDisconnections: false, logLinePrefix: '', hbaPath: '$DATA/pg_hba.conf', serverVersion: '15',
  })).map((l) => l.replace(/port=\d+$/, 'port=$CLIENTPORT')));
}

/** The oracle's per-connection logs without the C probe's own lines. */
export function expectedLogs(c: OracleCase): string[][] {
  return c.connections.map((conn) => conn.log.filter((l) => !l.startsWith('LOG:  hook_probe:')));
}
