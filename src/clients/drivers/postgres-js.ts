/**
 * postgres.js (`postgres` 3.4.9) opening the connection for a first query.
 *
 * Sources, read in the installed package:
 * - src/index.js `parseOptions()`: `?sslmode=` is copied into `ssl` (`disable`/`false` in the
 *   URL become false; the same words given as the `ssl` option or in PGSSL stay truthy strings);
 *   `sslrootcert=system` forces 'verify-full'; the environment variable is PGSSL, never
 *   PGSSLMODE; the password defaults to '' (PGPASSWORD, else ''); URL parameters that are not
 *   options go into the startup packet.
 * - src/connection.js `secure()`: SSLRequest, then only "was the first byte 'S'?". Not 'S' and
 *   ssl === 'prefer' → startup in plaintext on the same socket; otherwise TLS is started anyway
 *   (against a server that said 'N' that sends a ClientHello where a startup packet is
 *   expected). require/allow/prefer → rejectUnauthorized: false; an object is spread into
 *   tls.connect(); any other truthy value → Node's default verification.
 * - src/connection.js `SASL()`/`SASLContinue()`: always SCRAM-SHA-256, `n,,n=*`, the password's
 *   raw UTF-8 (no SASLprep): an empty password is sent as a proof, so the server says 28P01.
 * - src/connection.js `closed()`: a close while the first query is still pending (no
 *   ErrorResponse processed) reconnects at once, with no limit; `connect_timeout` is reset by
 *   each new socket. An ErrorResponse or a socket error settles the query and stops that.
 */
import * as net from 'node:net';
import type * as tls from 'node:tls';
import { match } from 'ts-pattern';
import { md5ClientResponse } from '../../auth/secrets.js';
import type { StartupParam } from '../../wire/codec.js';
import { AttemptLog, environOf, nextAuthEvent, openSocket, randomOf, startupMessage, type AuthEvent } from './exchange.js';
import { DriverScram } from './scram.js';
import type { DriverEnv, DriverError, DriverResult, Encryption } from './types.js';
import type { DriverSocket } from './wire.js';

export type PostgresJsSsl = boolean | string | (tls.ConnectionOptions & Record<string, unknown>);

/** postgres(url, options): the options that matter while connecting. */
export interface PostgresJsOptions {
  host?: string;
  hostname?: string;
  port?: number;
  user?: string;
  username?: string;
  pass?: string;
  password?: string;
  database?: string;
  db?: string;
  ssl?: PostgresJsSsl;
  sslnegotiation?: 'direct' | null;
  connection?: Record<string, string>;
}

export interface PostgresJsModelOptions {
  /** Silent closes before the model stops the reconnect loop the driver would keep up (default 5). */
  stormLimit?: number;
  keepOpen?: boolean;
}

export interface PostgresJsParams {
  host: string;
  port: number;
  user: string;
  database: string;
  pass: string;
  ssl: PostgresJsSsl;
  sslnegotiation: 'direct' | null;
  /** Startup parameters beyond user/database/client_encoding, in order. */
  connection: StartupParam[];
}

export function postgresJsParams(url: string | null, o: PostgresJsOptions, env: DriverEnv): PostgresJsParams {
  const environ = environOf(env);
  let u: URL | null = null;
  const query: Record<string, string> = {};
  if (url) {
    // parseUrl(): only the first of several comma-separated hosts goes through URL.
    const afterScheme = url.slice(url.indexOf('://') + 3).split(/[?/]/)[0] ?? '';
    const hostPart = decodeURIComponent(afterScheme.slice(afterScheme.indexOf('@') + 1));
    u = new URL(url.replace(hostPart, hostPart.split(',')[0] ?? ''));
    for (const [k, v] of u.searchParams) query[k] = v;
  }
  if (query.sslmode) {
    query.ssl = query.sslmode;
    delete query.sslmode;
  }
  if (query.sslrootcert === 'system') query.ssl = 'verify-full';

  const host = o.hostname || o.host || u?.hostname || environ.PGHOST || 'localhost';
  const port = o.port || Number(u?.port || 0) || Number(environ.PGPORT || 0) || 5432;
  const user = o.user || o.username || (u ? decodeURIComponent(u.username) : '') || environ.PGUSERNAME || environ.PGUSER || environ.USER || '';
  const pass = o.pass || o.password || (u ? decodeURIComponent(u.password) : '') || environ.PGPASSWORD || '';
  const database = o.database || o.db || (u?.pathname ?? '').slice(1) || environ.PGDATABASE || user;

  // The defaults loop: an explicit option, else the URL (where disable/false mean false), else PG<KEY>, else the default.
  const pick = <T>(key: string, fallback: T): unknown => {
    if (key in o) return (o as Record<string, unknown>)[key];
    if (key in query) return query[key] === 'disable' || query[key] === 'false' ? false : query[key];
    return environ[`PG${key.toUpperCase()}`] || fallback;
  };
  const ssl = pick('ssl', false) as PostgresJsSsl;
  const sslnegotiation = (pick('sslnegotiation', null) as 'direct' | null);

  const known = new Set(['ssl', 'sslnegotiation', 'idle_timeout', 'connect_timeout', 'max_lifetime', 'max_pipeline', 'backoff', 'keep_alive', 'prepare', 'debug', 'fetch_types', 'publications', 'target_session_attrs', 'max']);
  const connection: Record<string, string> = { application_name: environ.PGAPPNAME || 'postgres.js', ...o.connection };
  for (const [k, v] of Object.entries(query)) if (!known.has(k)) connection[k] = v;
  return { host, port, user, database, pass, ssl, sslnegotiation, connection: Object.entries(connection) };
}

type State =
  | { s: 'connect' }
  | { s: 'ssl-request'; sock: DriverSocket }
  | { s: 'tls'; sock: DriverSocket; sslRequested: boolean }
  | { s: 'startup'; sock: DriverSocket; encryption: Encryption; sslRequested: boolean }
  | { s: 'auth'; sock: DriverSocket; encryption: Encryption; sslRequested: boolean; scram: DriverScram | null }
  /** closed(): the first query is still pending, so connect() runs again at once. */
  | { s: 'reconnect' }
  | { s: 'done'; ok: true; sock: DriverSocket }
  | { s: 'done'; ok: false; error: DriverError };

export async function connectPostgresJs(
  url: string | null,
  options: PostgresJsOptions,
  env: DriverEnv,
  opts: PostgresJsModelOptions & { driverName?: string } = {},
): Promise<DriverResult> {
  const driver = opts.driverName ?? 'postgres.js';
  let p: PostgresJsParams;
  try {
    p = postgresJsParams(url, options, env);
  } catch (err) {
    return { driver, ok: false, attempts: [], error: { message: (err as Error).message, name: (err as Error).name } };
  }
  const log = new AttemptLog();
  const random = randomOf(env);
  const stormLimit = opts.stormLimit ?? 5;
  let silentCloses = 0;

  const silentClose = (encryption: Encryption, sslRequested: boolean, sock: DriverSocket): State => {
    log.add(encryption, sslRequested, 'closed');
    sock.destroy();
    return { s: 'reconnect' };
  };

  const step = (st: Exclude<State, { s: 'done' }>): Promise<State> => match(st)
    .with({ s: 'connect' }, async (): Promise<State> => {
      const opened = await openSocket(env, p.host, p.port);
      if (!opened.ok) {
        log.add('plain', false, 'connect-failed', { message: opened.message });
        return { s: 'done', ok: false, error: { message: opened.message, code: opened.code, name: 'Error' } };
      }
      if (!p.ssl) return { s: 'startup', sock: opened.sock, encryption: 'plain', sslRequested: false };
      return p.sslnegotiation === 'direct' ? { s: 'tls', sock: opened.sock, sslRequested: false } : { s: 'ssl-request', sock: opened.sock };
    })
    .with({ s: 'reconnect' }, async (): Promise<State> => {
      silentCloses++;
      if (silentCloses >= stormLimit) {
        return {
          s: 'done', ok: false,
          error: { message: `postgres.js reconnects without limit after a silent close while connecting (model stopped after ${silentCloses} connections)`, code: 'RECONNECT_STORM', name: 'Error' },
        };
      }
      return { s: 'connect' };
    })
    .with({ s: 'ssl-request' }, async ({ sock }): Promise<State> => {
      sock.send({ type: 'SSLRequest' });
      const answer = await sock.readByte();
      // No answer at all: 'data' never comes, 'close' does, with the query still pending.
      if (answer === null) return silentClose('ssl', true, sock);
      // socket.once('data') took the whole first chunk: whatever followed the answer byte (an 'E' error's text) is gone.
      sock.discardBuffered();
      if (answer !== 0x53 && p.ssl === 'prefer') return { s: 'startup', sock, encryption: 'plain', sslRequested: true };
      return { s: 'tls', sock, sslRequested: true };
    })
    .with({ s: 'tls' }, async ({ sock, sslRequested }): Promise<State> => {
      const options: tls.ConnectionOptions = {};
      if (net.isIP(p.host) === 0) options.servername = p.host;
      if (p.sslnegotiation === 'direct') options.ALPNProtocols = ['postgresql'];
      if (p.ssl === 'require' || p.ssl === 'allow' || p.ssl === 'prefer') options.rejectUnauthorized = false;
      else if (typeof p.ssl === 'object') Object.assign(options, p.ssl);
      const r = await sock.startTls(options);
      if (!r.ok) {
        // The socket's 'error' settles the query before 'close' can reconnect.
        log.add('ssl', sslRequested, 'tls-failed', { message: r.error.message });
        return { s: 'done', ok: false, error: { message: r.error.message, code: r.error.code, name: 'Error' } };
      }
      return { s: 'startup', sock, encryption: 'ssl', sslRequested };
    })
    .with({ s: 'startup' }, async ({ sock, encryption, sslRequested }): Promise<State> => {
      // Object.assign({ user, database, client_encoding }, connection): an override keeps its place; empty values are dropped.
      const merged = new Map<string, string>([['user', p.user], ['database', p.database], ['client_encoding', 'UTF8']]);
      for (const [k, v] of p.connection) merged.set(k, v);
      sock.send(startupMessage([...merged].filter(([, v]) => v !== '')));
      return { s: 'auth', sock, encryption, sslRequested, scram: null };
    })
    .with({ s: 'auth' }, async ({ sock, encryption, sslRequested, scram }): Promise<State> => {
      const ev: AuthEvent = await nextAuthEvent(sock);
      const again = (next: DriverScram | null = scram): State => ({ s: 'auth', sock, encryption, sslRequested, scram: next });
      return match(ev)
        .with({ e: 'cleartext' }, (): State => {
          sock.send({ type: 'PasswordMessage', password: p.pass });
          return again();
        })
        .with({ e: 'md5' }, ({ salt }): State => {
          sock.send({ type: 'PasswordMessage', password: md5ClientResponse(p.user, p.pass, salt) });
          return again();
        })
        .with({ e: 'sasl' }, (): State => {
          // The server's list is not looked at.
          const next = new DriverScram({ mechanism: 'SCRAM-SHA-256', gs2: 'n', username: '*', nonceBytes: 18, saslprep: false, random });
          sock.send({ type: 'SASLInitialResponse', mechanism: 'SCRAM-SHA-256', data: next.clientFirst() });
          return again(next);
        })
        .with({ e: 'sasl-continue' }, ({ data }): State => {
          const out = scram?.serverFirst(data, p.pass);
          // Only a server that is not PostgreSQL sends an unusable server-first message.
          if (!out || 'error' in out) return silentClose(encryption, sslRequested, sock);
          sock.send({ type: 'SASLResponse', data: out });
          return again();
        })
        .with({ e: 'sasl-final' }, ({ data }): State => {
          if (scram?.serverFinalVerifies(data)) return again(null);
          log.add(encryption, sslRequested, 'client-hangup', { message: 'The server did not return the correct signature' });
          sock.destroy();
          return { s: 'done', ok: false, error: { message: 'SASL_SIGNATURE_MISMATCH: The server did not return the correct signature', code: 'SASL_SIGNATURE_MISMATCH', name: 'Error' } };
        })
        .with({ e: 'auth-ok' }, { e: 'info' }, (): State => again())
        .with({ e: 'ready' }, (): State => {
          log.add(encryption, sslRequested, 'authenticated');
          return { s: 'done', ok: true, sock };
        })
        .with({ e: 'error' }, ({ fields }): State => {
          log.add(encryption, sslRequested, 'server-error', { sqlstate: fields.code, message: fields.message });
          void sock.end();
          return { s: 'done', ok: false, error: { message: fields.message, code: fields.code, name: 'PostgresError' } };
        })
        .with({ e: 'eof' }, { e: 'garbage' }, (): State => silentClose(encryption, sslRequested, sock))
        .exhaustive();
    })
    .exhaustive();

  let state: State = { s: 'connect' };
  while (state.s !== 'done') state = await step(state);

  if (state.ok) {
    if (!opts.keepOpen) await state.sock.terminate();
    return { driver, ok: true, attempts: log.attempts };
  }
  return { driver, ok: false, attempts: log.attempts, error: state.error };
}
