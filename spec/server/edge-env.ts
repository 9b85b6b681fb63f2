/**
 * The one server configuration every edge case runs against, in pg-authsim
 * and in the real PostgreSQL 15 of the differential spec, plus the helpers
 * that turn a script run into a comparable observation.
 *
 * pg_hba.conf picks the method by database name, so one file covers every
 * method and the DETAIL line numbers are fixed.
 */
import { expect } from 'chai';
import * as net from 'node:net';
import { DEFAULT_ROLES, makeServer, devTls } from '../support/fixtures.js';
import { BYTES_ROLES_SQL } from './edge-bytes-roles.js';
import { VirtualClock } from '../support/virtual-clock.js';
import { runScript, latin1, logEntries, normaliseLog, type ErrorFieldList, type Step, type Target, type Transcript } from '../support/wire-script.js';
import { stringToBytes } from '../../src/bytes.js';
import { renderServerLog } from '../../src/views/server-log.js';
import { defaultDatabases, type ServerSettings } from '../../src/server/settings.js';
import type { ServerEvent } from '../../src/events.js';
import type { PgServer } from '../../src/server/server.js';

export const HBA_LINES = [
  'host    trustdb      all   127.0.0.1/32   trust',
  'host    passworddb   all   127.0.0.1/32   password',
  'host    md5db        all   127.0.0.1/32   md5',
  'host    scramdb      all   127.0.0.1/32   scram-sha-256',
  'host    rejectdb     all   127.0.0.1/32   reject',
  'host    nosuchdb     all   127.0.0.1/32   trust',
  'host    template0    all   127.0.0.1/32   trust',
  'host    limitdb      all   127.0.0.1/32   trust',
  'host    all          dbbytes 127.0.0.1/32 trust',
] as const;
export const HBA = `${HBA_LINES.join('\n')}\n`;
/** Where both servers' `connection authenticated` lines say pg_hba.conf is (the real path is rewritten to this). */
export const HBA_PATH = '/data/pg_hba.conf';

/**
 * The fixtures' roles plus one with a connection limit. Runs unchanged in
 * pg-authsim's roles parser and in psql against the real cluster (whose
 * bootstrap superuser is not called postgres, so CREATE ROLE postgres works).
 */
export const ROLES_SQL = `${DEFAULT_ROLES}
CREATE ROLE limited LOGIN PASSWORD 'secret' CONNECTION LIMIT 1;
${BYTES_ROLES_SQL}`;

/** Databases besides initdb's postgres/template0/template1. nosuchdb is deliberately absent. */
export const EXTRA_DATABASES = ['trustdb', 'passworddb', 'md5db', 'scramdb'] as const;
/** A database with CONNECTION LIMIT 1. */
export const LIMITED_DATABASE = 'limitdb';

/**
 * Both servers log with %e (the SQLSTATE) in front of every line, so the
 * SQLSTATE of errors that are only logged (COMMERROR, the timeout) is checked too.
 */
export const LOG_LINE_PREFIX = '%e ';

export const AUTH_TIMEOUT_MS = 1000;
export const MAX_CONNECTIONS = 4;
export const RESERVED_CONNECTIONS = 1;

/** The same settings as postgresql.conf lines for the real server. */
export const REAL_SETTINGS: Record<string, string> = {
  log_line_prefix: `'[%p] ${LOG_LINE_PREFIX}'`,
  max_connections: String(MAX_CONNECTIONS),
  superuser_reserved_connections: String(RESERVED_CONNECTIONS),
  authentication_timeout: `${AUTH_TIMEOUT_MS / 1000}s`,
};

export function simSettings(ssl: boolean, extra: Partial<ServerSettings> = {}): Partial<ServerSettings> {
  return {
    ssl,
    tls: devTls(true),
    maxConnections: MAX_CONNECTIONS,
    superuserReservedConnections: RESERVED_CONNECTIONS,
    authenticationTimeoutMs: AUTH_TIMEOUT_MS,
    logConnections: true,
    logLinePrefix: LOG_LINE_PREFIX,
    hbaPath: HBA_PATH,
    timezone: 'Etc/UTC',
    databases: [
      ...defaultDatabases(),
      ...EXTRA_DATABASES.map((name) => ({ name, allowConnections: true, connectionLimit: -1 })),
      { name: LIMITED_DATABASE, allowConnections: true, connectionLimit: 1 },
    ],
    ...extra,
  };
}

// ---- expectations -----------------------------------------------------------------------

/** An expected ErrorResponse: its token in `received` and its exact fields. */
export interface ExpectedError { token: string; fields: ErrorFieldList }

/**
 * A FATAL as PostgreSQL 15.20 sends it: S, V, C, M, [D], [H], F, L, R in that
 * order. `site` is "file:line:routine".
 */
export function fatal(code: string, message: string, site: string, extra: { detail?: string; hint?: string } = {}): ExpectedError {
  const [file, line, routine] = site.split(':');
  const fields: ErrorFieldList = [['S', 'FATAL'], ['V', 'FATAL'], ['C', code], ['M', message]];
  if (extra.detail !== undefined) fields.push(['D', extra.detail]);
  if (extra.hint !== undefined) fields.push(['H', extra.hint]);
  fields.push(['F', file!], ['L', line!], ['R', routine!]);
  return { token: `error FATAL ${code} ${message}`, fields };
}

/** A plain LOG line (SQLSTATE 00000). */
export const logLine = (text: string) => `00000 LOG:  ${text}`;
/** A COMMERROR: logged with 08P01, never sent. */
export const commError = (text: string) => `08P01 LOG:  ${text}`;
export const RECEIVED = logLine('connection received: host=127.0.0.1 port=PORT');
export const TLS_SUFFIX = ' SSL enabled (protocol=TLSv1.3, cipher=TLS_AES_256_GCM_SHA384, bits=256)';
export const authorized = (user: string, database: string, suffix = '') => logLine(`connection authorized: user=${user} database=${database}${suffix}`);
export const authenticated = (identity: string, method: string, line: number) =>
  logLine(`connection authenticated: identity="${identity}" method=${method} (${HBA_PATH}:${line})`);

/** The log lines of a FATAL: message, then DETAIL (the log-only one when given) and HINT, each with the SQLSTATE in front. */
export function fatalLog(e: ExpectedError, detailLog?: string): string[] {
  const f = new Map(e.fields);
  const code = f.get('C')!;
  const lines = [`${code} FATAL:  ${f.get('M')!}`];
  const detail = detailLog ?? f.get('D');
  if (detail !== undefined) lines.push(`${code} DETAIL:  ${detail.replaceAll('\n', '\n\t')}`);
  if (f.get('H') !== undefined) lines.push(`${code} HINT:  ${f.get('H')!}`);
  return lines;
}

/** auth_failed()'s log-only DETAIL: the method's reason (if any), then the matched line. */
export function matched(line: number, reason?: string): string {
  const m = `Connection matched pg_hba.conf line ${line}: "${HBA_LINES[line - 1]!}"`;
  return reason ? `${reason}\n${m}` : m;
}

/** What a session's first flush holds after AuthenticationOk, as tokens. */
export function sessionStart(user: string, opts: { applicationName?: string; superuser?: boolean } = {}): string[] {
  return [
    `ParameterStatus application_name=${opts.applicationName ?? ''}`,
    'ParameterStatus client_encoding=UTF8',
    'ParameterStatus DateStyle=ISO, MDY',
    'ParameterStatus default_transaction_read_only=off',
    'ParameterStatus in_hot_standby=off',
    'ParameterStatus integer_datetimes=on',
    'ParameterStatus IntervalStyle=postgres',
    `ParameterStatus is_superuser=${opts.superuser ? 'on' : 'off'}`,
    'ParameterStatus server_encoding=UTF8',
    'ParameterStatus server_version=15.20 (Debian 15.20-0+deb12u1)',
    `ParameterStatus session_authorization=${user}`,
    'ParameterStatus standard_conforming_strings=on',
    'ParameterStatus TimeZone=Etc/UTC',
    'BackendKeyData',
    'ReadyForQuery I',
  ];
}

export interface EdgeCase {
  name: string;
  /** Server ssl setting (default on, with the dev certificates and CA). */
  ssl?: boolean;
  script: Step[];
  /** Tokens received, in order; ExpectedErrors stand for their ErrorResponse. */
  received: Array<string | ExpectedError>;
  /** Server log lines (log_connections on, empty prefix), ports and PIDs normalised. */
  log: string[];
  /** ClientAuthentication_hook calls: "STATUS ssl=on|off user=name". */
  hooks?: string[];
  /** Why the case is not compared with the real server (a documented, intended difference). */
  simOnly?: string;
}

/** What a case run shows, in comparable form. */
export interface Observation {
  received: string[];
  errors: ErrorFieldList[];
  log: string[];
  hooks: string[];
  scramSalts: string[];
}

export function expectedObservation(c: EdgeCase): Omit<Observation, 'scramSalts'> {
  return {
    received: c.received.map((r) => (typeof r === 'string' ? r : r.token)),
    errors: c.received.filter((r): r is ExpectedError => typeof r !== 'string').map((e) => e.fields),
    log: c.log,
    hooks: c.hooks ?? [],
  };
}

export function observation(t: Transcript, logLines: string[], extraHooks: string[] = []): Observation {
  const norm = normaliseLog(logEntries(logLines), t.pids);
  return { received: t.received, errors: t.errors, log: norm.log, hooks: [...extraHooks, ...norm.hooks], scramSalts: t.scramSalts };
}

/** Compare field by field, so a failure names what differs. */
export function expectSameObservation(actual: Omit<Observation, 'scramSalts'>, want: Omit<Observation, 'scramSalts'>, who: string): void {
  expect(actual.received, `${who}: messages received`).to.deep.equal(want.received);
  expect(actual.errors, `${who}: ErrorResponse fields`).to.deep.equal(want.errors);
  expect(actual.log, `${who}: server log`).to.deep.equal(want.log);
  expect(actual.hooks, `${who}: ClientAuthentication_hook calls`).to.deep.equal(want.hooks);
}

// ---- pg-authsim side -------------------------------------------------------------------

export interface SimHarness {
  server: PgServer;
  clock: VirtualClock;
  events: ServerEvent[];
  /** Run a script; over TCP when `tcp`, else in memory. */
  run(script: readonly Step[], opts?: { tcp?: boolean }): Promise<Observation>;
}

/**
 * Whether the server will run a TLS handshake in this case. Those cases go
 * over TCP: on the in-memory transport the backend's last TLS write is lost
 * (it destroys the raw stream before TLS has pushed the ciphertext through
 * a JS stream) and a client EOF during the handshake is never noticed.
 */
export function serverRunsTls(c: Pick<EdgeCase, 'ssl' | 'script'>): boolean {
  return (c.ssl ?? true) && c.script.some((s) => s.op === 'send' && s.bytes.length >= 8 && s.bytes.readInt32BE(0) === 8 && s.bytes.readInt32BE(4) === 80877103);
}

/**
 * A pg-authsim server with the edge configuration on a virtual clock,
 * recording every hook call. `roles` may add statements (the differential
 * spec copies the real cluster's secrets so SCRAM salts match).
 */
export function simHarness(opts: { ssl: boolean; roles?: string; settings?: Partial<ServerSettings> }): SimHarness {
  const clock = new VirtualClock();
  const hooks: string[] = [];
  const { server, events } = makeServer({
    hba: HBA,
    roles: opts.roles ?? ROLES_SQL,
    settings: simSettings(opts.ssl, opts.settings),
    clock,
    hook: (port, status) => {
      // The name's bytes, one char each, as hook_probe's log line shows them on the real side.
      hooks.push(`${status === 0 ? 'OK' : status === -1 ? 'ERROR' : 'EOF'} ssl=${port.ssl_in_use ? 'on' : 'off'} user=${latin1(port.raw.user_name)}`);
    },
  });
  let tcpPort: Promise<number> | null = null;
  const target = (tcp: boolean): Target => ({
    open: async () => {
      if (!tcp) return server.connect('127.0.0.1');
      tcpPort ??= server.listen(0, ['127.0.0.1']).then((a) => a[0]!.port);
      const s = net.connect({ host: '127.0.0.1', port: await tcpPort });
      await new Promise<void>((resolve, reject) => { s.once('connect', resolve); s.once('error', reject); });
      return s;
    },
    stall: async (conn) => {
      // Let the backend take in what was sent before time jumps.
      for (let i = 0; i < 20; i++) await new Promise<void>((r) => setImmediate(r));
      await clock.advance(AUTH_TIMEOUT_MS);
      await conn.untilClosed(1000);
    },
    patienceMs: 1000,
  });
  return {
    server, clock, events,
    async run(script, opts = {}) {
      events.length = 0;
      hooks.length = 0;
      const t = await runScript(target(opts.tcp ?? false), script);
      await server.idle();
      // Connection 0 is the postmaster (listen's startup lines); a case's log is its backends'.
      const text = renderServerLog(events.filter((e) => e.connection !== 0), {
        logConnections: true, logDisconnections: false, logLinePrefix: LOG_LINE_PREFIX, hbaPath: HBA_PATH, serverVersion: server.settings.serverVersion,
      });
      // The bytes serve writes to stderr, one char each, as the real server's log is read.
      return observation(t, latin1(stringToBytes(text)).split('\n'), hooks.splice(0));
    },
  };
}
