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
import { md5ClientResponse } from '../../common/md5.js';
import type { StartupParam } from '../../wire/codec.js';
import { nodeDefaultCa } from '../tls-context.js';
import { environOf, readFileOf, refusedBeforeConnecting, runDriver, sourceTable, src, type AttemptSpec, type AuthResponder, type Failure } from './engine.js';
import { DriverScram } from './scram.js';
import type { DriverEnv, DriverError, DriverResult } from './types.js';

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

const V = 'postgres 3.4.9';
const CONN = 'postgres/src/connection.js';
/** Where each step lives in postgres 3.4.9. */
const SOURCES = sourceTable(V, CONN, {
  connect: ['connect', 354],
  'ssl-request': ['secure', 268],
  'direct-tls': ['secure', 267],
  'ssl-answer': ['secure', 271],
  tls: ['secure', 284],
  startup: ['connected', 374],
  'auth-cleartext': ['AuthenticationCleartextPassword', 686],
  'auth-md5': ['AuthenticationMD5Password', 693],
  'auth-sasl': ['SASL', 707],
  'auth-sasl-continue': ['SASLContinue', 714],
  'auth-sasl-final': ['SASLFinal', 741],
  ready: ['ReadyForQuery', 535],
  'server-error': ['ErrorResponse', 812],
  retry: ['closed', 450],
  'give-up': ['errored', 390],
});
const PARSE = src(V, 'postgres/src/index.js', 'parseOptions', 443);

/** A close before any ErrorResponse: the first query is still pending, so connect() runs again. */
type Silent = { silent: true };
type PgjsFailure = DriverError | Silent;
const isSilent = (f: PgjsFailure): f is Silent => 'silent' in f;

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
    return refusedBeforeConnecting(driver, env, { message: (err as Error).message, name: (err as Error).name }, PARSE);
  }
  const stormLimit = opts.stormLimit ?? 5;
  const silentClose: Failure<PgjsFailure> = { fail: { silent: true }, outcome: 'closed', socket: 'destroy' };
  const sslText = p.ssl === false ? 'ssl: false' : `ssl: ${typeof p.ssl === 'object' ? 'an options object' : JSON.stringify(p.ssl)}`;
  const verify = p.ssl === 'require' || p.ssl === 'allow' || p.ssl === 'prefer' ? 'rejectUnauthorized: false, no verification'
    : typeof p.ssl === 'object' ? 'the ssl object spread into tls.connect()' : "Node's default verification";
  const auth: AuthResponder<PgjsFailure> = {
    cleartext: () => ({ send: [{ type: 'PasswordMessage', password: p.pass }], why: `The server asks for the password in clear text: postgres.js sends it${p.pass === '' ? " (an empty one: the password defaults to '')" : ''}.` }),
    md5: (_ctx, salt) => ({ send: [{ type: 'PasswordMessage', password: md5ClientResponse(p.user, p.pass, salt) }], why: 'The server asks for an MD5-hashed password: postgres.js sends md5(md5(password + user) + salt).' }),
    // The server's list is not looked at.
    sasl: (ctx) => {
      const scram = new DriverScram({ mechanism: 'SCRAM-SHA-256', gs2: 'n', username: '*', nonceBytes: 18, saslprep: false, random: ctx.random });
      return { send: [{ type: 'SASLInitialResponse', mechanism: 'SCRAM-SHA-256', data: scram.clientFirst() }], scram, why: 'postgres.js always answers SASL with SCRAM-SHA-256, whatever the server offers (no channel binding).' };
    },
    saslContinue: (ctx, data) => {
      const out = ctx.scram?.serverFirst(data, p.pass);
      // Only a server that is not PostgreSQL sends an unusable server-first message.
      if (!out || 'error' in out) return silentClose;
      return { send: [{ type: 'SASLResponse', data: out }], why: `The server sent its SCRAM challenge: postgres.js answers with a proof of ${p.pass === '' ? "the empty password (it has none, and '' is its default)" : 'the password'}.` };
    },
    saslFinal: (ctx, data) => {
      if (ctx.scram?.serverFinalVerifies(data)) return { ok: true, why: "The server's SCRAM signature checks out.", scram: null };
      return {
        fail: { message: 'SASL_SIGNATURE_MISMATCH: The server did not return the correct signature', code: 'SASL_SIGNATURE_MISMATCH', name: 'Error' },
        outcome: 'client-hangup', message: 'The server did not return the correct signature', socket: 'destroy',
      };
    },
  };
  const spec: AttemptSpec<PgjsFailure> = {
    host: p.host,
    port: p.port,
    start: !p.ssl ? 'plain' : p.sslnegotiation === 'direct' ? 'direct-tls' : 'ssl-request',
    why: !p.ssl ? `${sslText} (postgres.js reads PGSSL, not PGSSLMODE): the startup packet goes in plaintext.`
      : p.sslnegotiation === 'direct' ? `${sslText}, sslnegotiation=direct: postgres.js starts TLS at once (ALPN postgresql).`
        : `${sslText}: postgres.js sends SSLRequest and only checks whether the first byte of the answer is S.`,
    connectFailed: (code, message) => ({ fail: { message, code, name: 'Error' }, outcome: 'connect-failed', message, socket: 'destroy' }),
    // socket.once('data') took the whole first chunk: whatever followed the answer byte (an 'E' error's text) is gone.
    discardAfterAnswer: true,
    sslAnswer: (answer) => {
      // No answer at all: 'data' never comes, 'close' does, with the query still pending.
      if (answer === null) return { then: 'fail', why: 'The server closed the connection instead of answering the SSLRequest.', ...silentClose };
      if (answer === 0x53) return { then: 'tls' };
      if (p.ssl === 'prefer') return { then: 'plaintext', why: `The server did not answer S, and ${sslText} goes on in plaintext on the same socket.` };
      return { then: 'tls-anyway', why: `The server did not answer S, but postgres.js only falls back under ssl: 'prefer': with ${sslText} it starts the TLS handshake anyway.` };
    },
    tls: () => {
      const o: tls.ConnectionOptions = {};
      if (net.isIP(p.host) === 0) o.servername = p.host;
      if (p.sslnegotiation === 'direct') o.ALPNProtocols = ['postgresql'];
      if (p.ssl === 'require' || p.ssl === 'allow' || p.ssl === 'prefer') o.rejectUnauthorized = false;
      else if (typeof p.ssl === 'object') Object.assign(o, p.ssl);
      // No ca of its own: Node's roots plus NODE_EXTRA_CA_CERTS (from the model's environment).
      if (o.ca === undefined && o.rejectUnauthorized !== false) o.ca = nodeDefaultCa(environOf(env), readFileOf(env));
      return { options: o, why: verify };
    },
    // The socket's 'error' settles the query before 'close' can reconnect.
    tlsFailed: (e) => ({ fail: { message: e.message, code: e.code, name: 'Error' }, outcome: 'tls-failed', message: e.message, socket: 'destroy' }),
    startup: () => {
      // Object.assign({ user, database, client_encoding }, connection): an override keeps its place; empty values are dropped.
      const merged = new Map<string, string>([['user', p.user], ['database', p.database], ['client_encoding', 'UTF8']]);
      for (const [k, v] of p.connection) merged.set(k, v);
      return [...merged].filter(([, v]) => v !== '');
    },
    auth,
    serverError: (f) => ({ fail: { message: f.message, code: f.code, name: 'PostgresError' }, outcome: 'server-error', sqlstate: f.code, message: f.message, socket: 'end-async' }),
    closed: () => silentClose,
    garbage: () => silentClose,
  };
  return runDriver<PgjsFailure>({
    driver, sources: SOURCES, first: spec,
    next: (end, history) => {
      if (!isSilent(end.failure.fail)) return { stop: true, why: 'An error settles the pending query: postgres.js reports it and does not reconnect.' };
      const closes = history.length;
      if (closes >= stormLimit) {
        return {
          stop: true, why: `postgres.js would go on reconnecting without limit; the model stops after ${closes} connections.`,
          fail: { message: `postgres.js reconnects without limit after a silent close while connecting (model stopped after ${closes} connections)`, code: 'RECONNECT_STORM', name: 'Error' },
        };
      }
      return { retry: spec, why: 'The server closed the connection without an error while the first query was still pending: closed() calls connect() again at once, with no limit and no delay.' };
    },
    report: (f) => (isSilent(f) ? { message: 'connection closed', name: 'Error' } : f),
    ...(opts.keepOpen ? { keepOpen: true } : {}),
  }, env);
}
