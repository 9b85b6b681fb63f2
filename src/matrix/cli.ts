/**
 * `pg-authsim matrix`: the command line over runMatrix(). One client gives one row per case;
 * several (`--client all`, or --client given more than once) give one row per case with a
 * column per client, the view a team picks a driver (or a default) from.
 */
import { parseArgs } from 'node:util';
import { StartupError, type StartupMessage } from '../server/datadir.js';
import { formatLogRecord, renderLogLinePrefix } from '../log/index.js';
import type { PgErrorFields } from '../errors.js';
import { renderTable, type TableFormat } from '../views/table.js';
import { ALL_PASSWORD_KINDS, MATRIX_SSLMODES, runMatrix, type MatrixResult, type MatrixRow, type MatrixSslMode, type PasswordKind } from './matrix.js';
import { MATRIX_CLIENTS, matrixClient } from './clients.js';

const CLIENT_NAMES = Object.keys(MATRIX_CLIENTS).join(', ');

export const MATRIX_HELP = `Usage: pg-authsim matrix -D DIR [options]

For the data directory DIR, try every user (each role that can log in, plus one that does not
exist) x sslmode x password with a client's connection logic, in-process on virtual time, and
print the TCP connections, the ClientAuthentication_hook calls (status/TLS per call), the time
auth_delay slept, the outcome and the client's error text.

Options:
  --client NAME          ${CLIENT_NAMES}
                         "all" (or --client more than once): the clients side by side, one
                         column each with its hook calls (default sslmodes then include unset)
  --sslmode M            disable, allow, prefer, require, verify-ca, verify-full, unset (no
                         sslmode at all: each client's own default), or all (repeatable)
  --password P           right (the PASSWORD literal from the roles file), wrong, none (nothing
                         stored: psql runs with -w), prompt (psql asks and a wrong password is
                         typed; clients without a prompt behave as with none), or all (repeatable)
  --user U               only this user (repeatable)
  --gssencmode M         \\
  --sslnegotiation M      > libpq's options, given to each client in its own words where it has
  --channel-binding M    /  an equivalent (the table says which clients ignore them)
  --after-rejection A    node-postgres, when connect() rejects with the socket open (no
                         password): end (client.end(), the default), destroy (the process
                         exits), keep-open (the server waits for authentication_timeout)
  --format F             table (default), markdown, json, csv
  --seed S, --pg-version N
`;

function fail(message: string): number {
  process.stderr.write(`pg-authsim: ${message}\n`);
  return 2;
}

function pick<T extends string>(given: string[] | undefined, all: readonly T[], what: string): T[] | string | undefined {
  if (!given) return undefined;
  if (given.includes('all')) return [...all];
  const bad = given.find((g) => !(all as readonly string[]).includes(g));
  return bad !== undefined ? `invalid ${what} value: "${bad}"` : (given as T[]);
}

export async function matrixMain(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      pgdata: { type: 'string', short: 'D' },
      client: { type: 'string', multiple: true },
      format: { type: 'string' },
      user: { type: 'string', multiple: true },
      sslmode: { type: 'string', multiple: true },
      password: { type: 'string', multiple: true },
      gssencmode: { type: 'string' },
      sslnegotiation: { type: 'string' },
      'channel-binding': { type: 'string' },
      'after-rejection': { type: 'string' },
      seed: { type: 'string' },
      'pg-version': { type: 'string' },
      help: { type: 'boolean' },
    },
  });
  if (values.help) {
    process.stdout.write(MATRIX_HELP);
    return 0;
  }
  const dir = values.pgdata ?? process.env.PGDATA;
  if (!dir) return fail('no data directory specified\nUse -D DIR or set PGDATA. Try "pg-authsim --help".');
  const format = (values.format ?? 'table') as TableFormat;
  if (!['table', 'markdown', 'json', 'csv'].includes(format)) return fail(`unknown format "${values.format}" (table, markdown, json or csv)`);
  // A driver profile's alias (pq, pgconn, node-postgres, jdbc, ...) names its client.
  const names = (values.client ?? ['psql']).flatMap((n) => (n === 'all' ? Object.keys(MATRIX_CLIENTS) : [matrixClient(n)?.name ?? n]));
  const unknown = names.find((n) => !MATRIX_CLIENTS[n]);
  if (unknown !== undefined) return fail(`unknown client "${unknown}"; known clients: ${CLIENT_NAMES}, all`);
  const clients = [...new Set(names)].map((n) => MATRIX_CLIENTS[n]!);
  const sslmodes = pick<MatrixSslMode>(values.sslmode, MATRIX_SSLMODES, 'sslmode');
  if (typeof sslmodes === 'string') return fail(sslmodes);
  const passwords = pick<PasswordKind>(values.password, ALL_PASSWORD_KINDS, 'password');
  if (typeof passwords === 'string') return fail(passwords);
  const after = values['after-rejection'];
  if (after !== undefined && !['end', 'destroy', 'keep-open'].includes(after)) return fail(`invalid after-rejection value: "${after}" (end, destroy or keep-open)`);
  const options: Record<string, string> = {};
  if (values.gssencmode !== undefined) options.gssencmode = values.gssencmode;
  if (values.sslnegotiation !== undefined) options.sslnegotiation = values.sslnegotiation;
  if (values['channel-binding'] !== undefined) options.channel_binding = values['channel-binding'];
  if (after !== undefined) options.afterRejection = after;

  let result: MatrixResult;
  try {
    result = await runMatrix({
      dataDirectory: dir, clients,
      ...(values.user ? { users: values.user } : {}),
      ...(sslmodes ? { sslmodes } : {}),
      ...(passwords ? { passwords } : {}),
      ...(Object.keys(options).length > 0 ? { options } : {}),
      ...(values.seed !== undefined ? { seed: Number(values.seed) || 1 } : {}),
      ...(values['pg-version'] !== undefined ? { overrides: { server_version: values['pg-version'] } } : {}),
    });
  } catch (err) {
    if (!(err instanceof StartupError)) throw err;
    const prefix = renderLogLinePrefix('%m [%p] ', { pid: process.pid, sessionStart: Date.now(), now: Date.now(), backendType: 'postmaster', lineNumber: 1, isSessionProcess: false });
    for (const m of err.messages) process.stderr.write(formatLogRecord(prefix, m as StartupMessage & PgErrorFields));
    process.stderr.write(formatLogRecord(prefix, err.fatal.fields));
    return 1;
  }
  process.stdout.write(clients.length === 1 ? oneClient(result, dir, format) : sideBySide(result, dir, format));
  return 0;
}

function oneClient(result: MatrixResult, dir: string, format: TableFormat): string {
  const head = format === 'table' ? `${result.client} against PostgreSQL ${result.serverVersion} (simulated), ${dir}\n${ignoredNote(result)}\n` : '';
  return head + renderTable({
    columns: ['user', 'sslmode', 'password', 'connections', 'hook calls', 'auth_delay ms', 'outcome', 'client error'],
    rows: result.rows.map((r) => [r.user, r.sslmode, r.password, r.tcpConnections, r.hookCalls.join(' ') || '-', r.authDelayMs, r.outcome, r.message]),
  }, format);
}

/** A side-by-side cell: the hook calls, "+N" for connections that made none, ✓ when it logged in. */
export function matrixCell(r: MatrixRow): string {
  const calls = r.hookCalls.join(' ') || '-';
  const silent = r.tcpConnections - r.hookCalls.length;
  return `${calls}${silent > 0 ? ` +${silent}` : ''}${r.outcome === 'ok' ? ' ✓' : ''}`;
}

function sideBySide(result: MatrixResult, dir: string, format: TableFormat): string {
  const names = result.clients.map((c) => c.name);
  const byCase = new Map<string, Map<string, MatrixRow>>();
  for (const r of result.rows) {
    const key = `${r.user}\0${r.sslmode}\0${r.password}`;
    if (!byCase.has(key)) byCase.set(key, new Map());
    byCase.get(key)!.set(r.client!, r);
  }
  if (format === 'json') {
    const out = [...byCase.values()].map((m) => {
      const any = [...m.values()][0]!;
      return {
        user: any.user, sslmode: any.sslmode, password: any.password,
        clients: Object.fromEntries([...m].map(([n, r]) => [n, { connections: r.tcpConnections, hookCalls: r.hookCalls, authDelayMs: r.authDelayMs, outcome: r.outcome, message: r.message }])),
      };
    });
    return `${JSON.stringify(out, null, 2)}\n`;
  }
  const head = format === 'table'
    ? `Hook calls per client against PostgreSQL ${result.serverVersion} (simulated), ${dir}\n` +
      `each cell: STATUS/tls per hook call, +N connections without one, ✓ logged in\n${ignoredNote(result)}\n`
    : '';
  return head + renderTable({
    columns: ['user', 'sslmode', 'password', ...names],
    rows: [...byCase.values()].map((m) => {
      const any = [...m.values()][0]!;
      return [any.user, any.sslmode, any.password, ...names.map((n) => (m.get(n) ? matrixCell(m.get(n)!) : ''))];
    }),
  }, format);
}

function ignoredNote(result: MatrixResult): string {
  return result.clients.filter((c) => c.ignored.length > 0).map((c) => `${c.name} has no equivalent of ${c.ignored.join(', ')} (left out)\n`).join('');
}
