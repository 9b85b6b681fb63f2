/**
 * node-postgres (`pg` 8.23.1 with `pg-connection-string` 2.14.1) connecting one Client.
 *
 * Sources, read in the installed packages:
 * - pg-connection-string/index.js `parse()`: URL parameters; any sslmode/sslcert/sslkey/
 *   sslrootcert makes `ssl` an object (TLS on); default mode treats prefer/require/verify-ca as
 *   verify-full and leaves `allow` unhandled (TLS, verified); `uselibpqcompat=true` gives
 *   prefer/require no verification, still TLS-only.
 * - pg/lib/connection-parameters.js: `val()` falls back to PG* variables; `ssl` from PGSSLMODE
 *   only when the config has none (disable → off, prefer/require/verify-* → verified TLS,
 *   no-verify → unverified, anything else, `allow` included → off).
 * - pg/lib/connection.js `connect()`/`upgradeToSSL()`: SSLRequest; 'S' → tls.connect with the
 *   ssl object spread in; 'N' → "The server does not support SSL connections"; anything else →
 *   "There was an error establishing an SSL connection". No fallback of any kind.
 * - pg/lib/client.js `_handleAuth*`, pg/lib/crypto/sasl.js: SCRAM-SHA-256 (PLUS only with
 *   enableChannelBinding), `n=*`; a missing password fails in continueSession() ("client
 *   password must be a string") after the SASLInitialResponse went out, and the socket stays
 *   open: the server waits in the SCRAM exchange. md5 with no password hashes the string "null".
 *
 * One Client makes exactly one TCP connection; Pool does not retry a failed connect either.
 */
import * as net from 'node:net';
import type * as tls from 'node:tls';
import { match } from 'ts-pattern';
import { md5ClientResponse } from '../../auth/secrets.js';
import { tlsServerEndPointHash } from '../../auth/scram.js';
import type { ErrorFields, StartupParam } from '../../wire/codec.js';
import { AttemptLog, environOf, nextAuthEvent, openSocket, randomOf, readFileOf, startupMessage, type AuthEvent } from './exchange.js';
import { DriverScram } from './scram.js';
import type { DriverEnv, DriverError, DriverResult, ReadFile } from './types.js';
import type { DriverSocket } from './wire.js';

/** The TLS options pg spreads into tls.connect() (the parts the model can carry). */
export interface NodePgSslObject {
  rejectUnauthorized?: boolean;
  ca?: string | Buffer | Array<string | Buffer>;
  cert?: string | Buffer;
  key?: string | Buffer;
  checkServerIdentity?: tls.ConnectionOptions['checkServerIdentity'];
  servername?: string;
}

/** The Client config keys that matter while connecting. */
export interface NodePostgresConfig {
  connectionString?: string;
  host?: string;
  port?: number | string;
  user?: string;
  password?: string | null;
  database?: string;
  ssl?: boolean | string | NodePgSslObject;
  sslnegotiation?: string;
  application_name?: string;
  fallback_application_name?: string;
  enableChannelBinding?: boolean;
}

export interface NodePostgresModelOptions {
  /**
   * What the application does when connect() rejects with the socket still open (no
   * password): 'end' is `client.end()` (Terminate, then FIN; the default), 'destroy' a
   * process that dies, 'keep-open' returns the socket (the server gives up at
   * authentication_timeout).
   */
  afterRejection?: 'end' | 'destroy' | 'keep-open';
  /** Leave a successful session open instead of `client.end()`. */
  keepOpen?: boolean;
}

/** ConnectionParameters after pg-connection-string and the PG* fallbacks. */
export interface NodePostgresParams {
  host: string;
  port: number;
  user: string;
  database: string;
  password: string | null;
  /** false: plaintext; true: TLS with Node's defaults; an object: spread into tls.connect(). */
  ssl: false | true | NodePgSslObject;
  sslnegotiation: 'postgres' | 'direct';
  applicationName: string | null;
  enableChannelBinding: boolean;
  /** process.emitWarning() texts the parse would print (the sslmode alias warning). */
  warnings: string[];
}

const ALIAS_WARNING = "SECURITY WARNING: The SSL modes 'prefer', 'require', and 'verify-ca' are treated as aliases for 'verify-full'.";

/** pg-connection-string's parse() for a URL (Unix-socket strings and socket: URLs are not modelled). */
export function parseConnectionString(str: string, readFile: ReadFile, warnings: string[] = []): Record<string, unknown> {
  if (str.charAt(0) === '/') throw new Error('node-postgres model: Unix-domain socket connection strings are not modelled');
  const config: Record<string, unknown> = Object.create(null) as Record<string, unknown>;
  if (/ |%[^a-f0-9]|%[a-f0-9][^a-f0-9]/i.test(str)) str = encodeURI(str).replace(/%25(\d\d)/g, '%$1');
  let result: URL;
  let dummyHost = false;
  try {
    result = new URL(str, 'postgres://base');
  } catch {
    result = new URL(str.replace('@/', '@___DUMMY___/'), 'postgres://base');
    dummyHost = true;
  }
  for (const [k, v] of result.searchParams.entries()) config[k] = v;
  config.user = (config.user as string | undefined) || decodeURIComponent(result.username);
  config.password = (config.password as string | undefined) || decodeURIComponent(result.password);
  const hostname = (dummyHost ? '' : result.hostname).replace(/^\[(.+)\]$/, '$1');
  if (!config.host) config.host = decodeURIComponent(hostname);
  if (!config.port) config.port = result.port;
  const pathname = result.pathname.slice(1) || null;
  config.database = pathname ? decodeURI(pathname) : null;

  if (config.ssl === 'true' || config.ssl === '1') config.ssl = true;
  if (config.ssl === '0') config.ssl = false;
  if (config.sslcert || config.sslkey || config.sslrootcert || config.sslmode) config.ssl = {};
  if (config.sslnegotiation === 'direct' && config.ssl === undefined) config.ssl = true;

  const read = (p: string): string => {
    const b = readFile(p);
    if (b === null) throw Object.assign(new Error(`ENOENT: no such file or directory, open '${p}'`), { code: 'ENOENT' });
    return b.toString();
  };
  const ssl = config.ssl as NodePgSslObject;
  if (config.sslcert) ssl.cert = read(config.sslcert as string);
  if (config.sslkey) ssl.key = read(config.sslkey as string);
  if (config.sslrootcert) ssl.ca = read(config.sslrootcert as string);

  const noop = () => undefined;
  if (config.uselibpqcompat === 'true') {
    switch (config.sslmode) {
      case 'disable': config.ssl = false; break;
      case 'prefer': ssl.rejectUnauthorized = false; break;
      case 'require':
        // With a root CA, require behaves like verify-ca.
        if (config.sslrootcert) ssl.checkServerIdentity = noop;
        else ssl.rejectUnauthorized = false;
        break;
      case 'verify-ca':
        if (!ssl.ca) {
          throw new Error('SECURITY WARNING: Using sslmode=verify-ca requires specifying a CA with sslrootcert. If a public CA is used, verify-ca allows connections to a server that somebody else may have registered with the CA, making you vulnerable to Man-in-the-Middle attacks. Either specify a custom CA certificate with sslrootcert parameter or use sslmode=verify-full for proper security.');
        }
        ssl.checkServerIdentity = noop;
        break;
      default: break; // verify-full, and `allow`, which neither branch handles: TLS, verified
    }
  } else {
    switch (config.sslmode) {
      case 'disable': config.ssl = false; break;
      case 'prefer': case 'require': case 'verify-ca': warnings.push(ALIAS_WARNING); break;
      case 'no-verify': ssl.rejectUnauthorized = false; break;
      default: break;
    }
  }
  return config;
}

/** ConnectionParameters: the config, then the connection string over it, then PG* and defaults. */
export function nodePostgresParams(config: NodePostgresConfig, env: DriverEnv): NodePostgresParams {
  const environ = environOf(env);
  const warnings: string[] = [];
  let c: Record<string, unknown> = { ...config };
  if (config.connectionString) c = { ...c, ...parseConnectionString(config.connectionString, readFileOf(env), warnings) };
  // val(): a falsy value ('' included) falls through to the environment and then the default.
  const val = (key: string, envVar: string | false = `PG${key.toUpperCase()}`): unknown =>
    c[key] || (envVar === false ? undefined : environ[envVar]) || undefined;

  const user = (val('user') as string | undefined) ?? environ.USER ?? '';
  const database = (val('database') as string | undefined) ?? user;
  const port = Number.parseInt(String(val('port') ?? '5432'), 10);
  const host = (val('host') as string | undefined) ?? 'localhost';
  const password = (val('password') as string | undefined) ?? null;

  let ssl: unknown = c.ssl === undefined ? sslFromEnvironment(environ.PGSSLMODE) : c.ssl;
  if (ssl === 'true') ssl = true;
  if (ssl === 'no-verify') ssl = { rejectUnauthorized: false };
  const sslnegotiation = (val('sslnegotiation', 'PGSSLNEGOTIATION') as string | undefined) ?? 'postgres';
  if (sslnegotiation !== 'postgres' && sslnegotiation !== 'direct') {
    throw new Error(`Invalid sslnegotiation value: "${sslnegotiation}". Valid values are "postgres" and "direct".`);
  }
  if (sslnegotiation === 'direct' && !ssl) throw new Error('sslnegotiation=direct requires SSL to be enabled');
  const applicationName = (val('application_name', 'PGAPPNAME') as string | undefined) ?? (val('fallback_application_name', false) as string | undefined) ?? null;
  return {
    host, port, user, database, password,
    // Any other truthy value (a string such as "require") is spread into tls.connect() as nothing: TLS with Node's defaults.
    ssl: !ssl ? false : typeof ssl === 'object' ? (ssl as NodePgSslObject) : true,
    sslnegotiation,
    applicationName,
    enableChannelBinding: config.enableChannelBinding === true,
    warnings,
  };
}

function sslFromEnvironment(mode: string | undefined): false | true | NodePgSslObject {
  switch (mode) {
    case 'disable': return false;
    case 'prefer': case 'require': case 'verify-ca': case 'verify-full': return true;
    case 'no-verify': return { rejectUnauthorized: false };
    default: return false; // defaults.ssl; PGSSLMODE=allow lands here too
  }
}

type State =
  | { s: 'connect' }
  | { s: 'ssl-request'; sock: DriverSocket }
  | { s: 'tls'; sock: DriverSocket; sslRequested: boolean }
  | { s: 'startup'; sock: DriverSocket }
  | { s: 'auth'; sock: DriverSocket; scram: DriverScram | null }
  | { s: 'done'; ok: true; sock: DriverSocket }
  | { s: 'done'; ok: false; error: DriverError; sock: DriverSocket | null; openAfter?: boolean };

const clientError = (message: string): DriverError => ({ message, name: 'Error' });

function databaseError(f: ErrorFields): DriverError {
  return { message: f.message, code: f.code, name: 'DatabaseError' };
}

export async function connectNodePostgres(
  config: NodePostgresConfig,
  env: DriverEnv,
  opts: NodePostgresModelOptions & { driverName?: string } = {},
): Promise<DriverResult> {
  const driver = opts.driverName ?? 'pg';
  let p: NodePostgresParams;
  try {
    p = nodePostgresParams(config, env);
  } catch (err) {
    // Thrown by the Client constructor: nothing was sent.
    return { driver, ok: false, attempts: [], error: clientError((err as Error).message) };
  }
  const log = new AttemptLog();
  const random = randomOf(env);
  let sslRequested = false;
  let encryption: 'ssl' | 'plain' = 'plain';

  const step = (st: Exclude<State, { s: 'done' }>): Promise<State> => match(st)
    .with({ s: 'connect' }, async (): Promise<State> => {
      const opened = await openSocket(env, p.host, p.port);
      if (!opened.ok) {
        log.add('plain', false, 'connect-failed', { message: opened.message });
        return { s: 'done', ok: false, error: { message: opened.message, code: opened.code, name: 'Error' }, sock: null };
      }
      if (!p.ssl) return { s: 'startup', sock: opened.sock };
      // Direct negotiation starts TLS at once; otherwise SSLRequest first.
      return p.sslnegotiation === 'direct' ? { s: 'tls', sock: opened.sock, sslRequested: false } : { s: 'ssl-request', sock: opened.sock };
    })
    .with({ s: 'ssl-request' }, async ({ sock }): Promise<State> => {
      sslRequested = true;
      encryption = 'ssl';
      sock.send({ type: 'SSLRequest' });
      const answer = await sock.readByte();
      // stream.once('data') consumed the whole chunk the answer came in.
      sock.discardBuffered();
      if (answer === 0x53) return { s: 'tls', sock, sslRequested: true };
      if (answer === null) {
        log.add('ssl', true, 'closed');
        return { s: 'done', ok: false, error: clientError('Connection terminated unexpectedly'), sock };
      }
      if (answer === 0x4e) {
        log.add('ssl', true, 'ssl-refused', { message: 'The server does not support SSL connections' });
        return { s: 'done', ok: false, error: clientError('The server does not support SSL connections'), sock };
      }
      log.add('ssl', true, 'ssl-error-response', { message: 'There was an error establishing an SSL connection' });
      return { s: 'done', ok: false, error: clientError('There was an error establishing an SSL connection'), sock };
    })
    .with({ s: 'tls' }, async ({ sock, sslRequested: requested }): Promise<State> => {
      encryption = 'ssl';
      const options: tls.ConnectionOptions = { host: p.host, ...(p.ssl === true || p.ssl === false ? {} : p.ssl) };
      if (p.sslnegotiation === 'direct') options.ALPNProtocols = ['postgresql'];
      // SNI never carries an IP address (RFC 6066).
      if (net.isIP(p.host) === 0) options.servername = p.host;
      const r = await sock.startTls(options);
      if (!r.ok) {
        log.add('ssl', requested, 'tls-failed', { message: r.error.message });
        return { s: 'done', ok: false, error: { message: r.error.message, code: r.error.code, name: 'Error' }, sock: null };
      }
      return { s: 'startup', sock };
    })
    .with({ s: 'startup' }, async ({ sock }): Promise<State> => {
      const params: StartupParam[] = [['user', p.user], ['database', p.database]];
      if (p.applicationName) params.push(['application_name', p.applicationName]);
      // pg-protocol's serializer appends client_encoding after the Client's keys.
      params.push(['client_encoding', 'UTF8']);
      sock.send(startupMessage(params));
      return { s: 'auth', sock, scram: null };
    })
    .with({ s: 'auth' }, async ({ sock, scram }): Promise<State> => {
      const ev: AuthEvent = await nextAuthEvent(sock);
      const rejectOpen = (message: string): State => {
        log.add(encryption, sslRequested, 'client-error-open', { message });
        return { s: 'done', ok: false, error: clientError(message), sock, openAfter: true };
      };
      return match(ev)
        .with({ e: 'cleartext' }, (): State => {
          if (p.password === null) {
            // connection.password(null): the serializer throws inside a socket 'data' handler, which takes the process down.
            const message = 'The "string" argument must be of type string or an instance of Buffer or ArrayBuffer. Received null';
            log.add(encryption, sslRequested, 'client-hangup', { message });
            sock.destroy();
            return { s: 'done', ok: false, error: { message, code: 'ERR_INVALID_ARG_TYPE', name: 'TypeError' }, sock: null };
          }
          sock.send({ type: 'PasswordMessage', password: p.password });
          return { s: 'auth', sock, scram };
        })
        .with({ e: 'md5' }, ({ salt }): State => {
          // postgresMd5PasswordHash(user, password, salt) concatenates password + user: null becomes "null".
          sock.send({ type: 'PasswordMessage', password: md5ClientResponse(p.user, String(p.password), salt) });
          return { s: 'auth', sock, scram };
        })
        .with({ e: 'sasl' }, ({ mechanisms }): State => {
          const bind = p.enableChannelBinding && sock.sslInUse;
          const candidates = p.enableChannelBinding ? ['SCRAM-SHA-256-PLUS', 'SCRAM-SHA-256'] : ['SCRAM-SHA-256'];
          const mechanism = candidates.find((m) => mechanisms.includes(m));
          if (!mechanism) return rejectOpen(`SASL: Only mechanism(s) ${candidates.join(' and ')} are supported`);
          // With enableChannelBinding the stream is passed even in plaintext, so the header says 'y'.
          const gs2 = mechanism === 'SCRAM-SHA-256-PLUS' ? 'p' : p.enableChannelBinding ? 'y' : 'n';
          const next = new DriverScram({
            mechanism, gs2, username: '*', nonceBytes: 18, saslprep: true, random,
            ...(bind && mechanism === 'SCRAM-SHA-256-PLUS' && sock.peerCertificate ? { channelBindingData: tlsServerEndPointHash(sock.peerCertificate) } : {}),
          });
          sock.send({ type: 'SASLInitialResponse', mechanism, data: next.clientFirst() });
          return { s: 'auth', sock, scram: next };
        })
        .with({ e: 'sasl-continue' }, ({ data }): State => {
          if (scram === null) return rejectOpen('SASL: Last message was not SASLInitialResponse');
          if (typeof p.password !== 'string') return rejectOpen('SASL: SCRAM-SERVER-FIRST-MESSAGE: client password must be a string');
          if (p.password === '') return rejectOpen('SASL: SCRAM-SERVER-FIRST-MESSAGE: client password must be a non-empty string');
          const out = scram.serverFirst(data, p.password);
          if ('error' in out) {
            return rejectOpen(out.error === 'nonce'
              ? 'SASL: SCRAM-SERVER-FIRST-MESSAGE: server nonce does not start with client nonce'
              : 'SASL: SCRAM-SERVER-FIRST-MESSAGE: message invalid');
          }
          sock.send({ type: 'SASLResponse', data: out });
          return { s: 'auth', sock, scram };
        })
        .with({ e: 'sasl-final' }, ({ data }): State => {
          if (scram === null || !scram.serverFinalVerifies(data)) return rejectOpen('SASL: SCRAM-SERVER-FINAL-MESSAGE: server signature does not match');
          return { s: 'auth', sock, scram: null };
        })
        .with({ e: 'auth-ok' }, { e: 'info' }, (): State => ({ s: 'auth', sock, scram }))
        .with({ e: 'ready' }, (): State => {
          log.add(encryption, sslRequested, 'authenticated');
          return { s: 'done', ok: true, sock };
        })
        .with({ e: 'error' }, ({ fields }): State => {
          log.add(encryption, sslRequested, 'server-error', { sqlstate: fields.code, message: fields.message });
          return { s: 'done', ok: false, error: databaseError(fields), sock };
        })
        .with({ e: 'eof' }, (): State => {
          log.add(encryption, sslRequested, 'closed');
          return { s: 'done', ok: false, error: clientError('Connection terminated unexpectedly'), sock };
        })
        .with({ e: 'garbage' }, ({ reason }): State => {
          log.add(encryption, sslRequested, 'closed', { message: reason });
          return { s: 'done', ok: false, error: clientError(reason), sock };
        })
        .exhaustive();
    })
    .exhaustive();

  let state: State = { s: 'connect' };
  while (state.s !== 'done') state = await step(state);

  const result: DriverResult = { driver, ok: state.ok, attempts: log.attempts };
  if (state.ok) {
    if (!opts.keepOpen) await state.sock.terminate();
    return result;
  }
  result.error = state.error;
  const sock = state.sock;
  if (sock && state.openAfter) {
    const policy = opts.afterRejection ?? 'end';
    if (policy === 'end') await sock.terminate();
    else if (policy === 'destroy') sock.destroy();
    else result.openSocket = { end: () => sock.terminate(), destroy: () => sock.destroy() };
  } else if (sock) {
    await sock.end();
  }
  return result;
}
