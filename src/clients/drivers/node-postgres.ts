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
import { md5ClientResponse } from '../../common/md5.js';
import { tlsServerEndPointHash } from '../../common/cert-hash.js';
import type { ErrorFields, StartupParam } from '../../wire/codec.js';
import { nodeDefaultCa } from '../tls-context.js';
import { environOf, readFileOf, refusedBeforeConnecting, runDriver, sourceTable, src, type AttemptSpec, type AuthResponder, type Failure } from './engine.js';
import { DriverScram } from './scram.js';
import type { DriverEnv, DriverError, DriverResult, ReadFile } from './types.js';

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

const clientError = (message: string): DriverError => ({ message, name: 'Error' });

function databaseError(f: ErrorFields): DriverError {
  return { message: f.message, code: f.code, name: 'DatabaseError' };
}

const V = 'pg 8.23.1';
const CLIENT = 'pg/lib/client.js';
const CONNECTION = 'pg/lib/connection.js';
/** Where each step lives in pg 8.23.1 (and pg-connection-string 2.14.1). */
const SOURCES = sourceTable(V, CLIENT, {
  connect: ['Client._connect', 181],
  'ssl-request': ['Client._connect', 190],
  'direct-tls': [CONNECTION, 'Connection.connect', 73],
  'ssl-answer': [CONNECTION, 'Connection.connect', 81],
  tls: [CONNECTION, 'Connection.upgradeToSSL', 96],
  startup: ['Client._connect', 198],
  'auth-cleartext': ['Client._handleAuthCleartextPassword', 313],
  'auth-md5': ['Client._handleAuthMD5Password', 319],
  'auth-sasl': ['Client._handleAuthSASL', 330],
  'auth-sasl-continue': ['Client._handleAuthSASLContinue', 345],
  'auth-sasl-final': ['Client._handleAuthSASLFinal', 359],
  ready: ['Client._handleReadyForQuery', 373],
  'give-up': ['Client._handleErrorWhileConnecting', 400],
});
const PARSE = src('pg-connection-string 2.14.1', 'pg-connection-string/index.js', 'parse', 77);

/** What the ssl setting means, in words: the whole of it, and how the certificate is checked. */
function sslWords(p: NodePostgresParams, connectionString: string | undefined): { summary: string; check: string } {
  let mode: string | null = null;
  try {
    if (connectionString) mode = new URL(connectionString, 'postgres://base').searchParams.get('sslmode');
  } catch { /* not a URL: no sslmode */ }
  const from = mode !== null ? `sslmode=${mode} in the URL` : 'its settings';
  if (!p.ssl) return { summary: `ssl is off (from ${from}; pg's default is ssl: false)`, check: '' };
  const o = p.ssl === true ? {} : p.ssl;
  const check = o.rejectUnauthorized === false ? 'no certificate verification'
    : o.checkServerIdentity ? 'the CA chain checked, not the host name'
      : `full verification against ${o.ca ? 'sslrootcert' : "Node's CA store"}`;
  return { summary: `ssl is on (from ${from}: ${check}), and pg never falls back to plaintext`, check };
}

/** One Client's connect(): a single TCP connection, no fallback, no retry (Pool does not retry either). */
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
    return refusedBeforeConnecting(driver, env, clientError((err as Error).message), PARSE);
  }
  const { summary: ssl, check } = sslWords(p, config.connectionString);
  const openFail = (message: string): Failure<DriverError> => ({ fail: clientError(message), outcome: 'client-error-open', message, socket: 'keep' });
  const auth: AuthResponder<DriverError> = {
    cleartext: () => {
      if (p.password === null) {
        // connection.password(null): the serializer throws inside a socket 'data' handler, which takes the process down.
        const message = 'The "string" argument must be of type string or an instance of Buffer or ArrayBuffer. Received null';
        return { fail: { message, code: 'ERR_INVALID_ARG_TYPE', name: 'TypeError' }, outcome: 'client-hangup', message, socket: 'destroy', hangUp: 'The server asks for a clear-text password and pg has none: serializing null throws inside the socket handler, and the process dies (the server sees a reset).' };
      }
      return { send: [{ type: 'PasswordMessage', password: p.password }], why: 'The server asks for the password in clear text: pg sends it.' };
    },
    // postgresMd5PasswordHash(user, password, salt) concatenates password + user: null becomes "null".
    md5: (_ctx, salt) => ({ send: [{ type: 'PasswordMessage', password: md5ClientResponse(p.user, String(p.password), salt) }], why: 'The server asks for an MD5-hashed password: pg sends md5(md5(password + user) + salt).' }),
    sasl: (ctx, mechanisms) => {
      const bind = p.enableChannelBinding && ctx.sslInUse;
      const candidates = p.enableChannelBinding ? ['SCRAM-SHA-256-PLUS', 'SCRAM-SHA-256'] : ['SCRAM-SHA-256'];
      const mechanism = candidates.find((m) => mechanisms.includes(m));
      if (!mechanism) return openFail(`SASL: Only mechanism(s) ${candidates.join(' and ')} are supported`);
      // With enableChannelBinding the stream is passed even in plaintext, so the header says 'y'.
      const gs2 = mechanism === 'SCRAM-SHA-256-PLUS' ? 'p' : p.enableChannelBinding ? 'y' : 'n';
      const scram = new DriverScram({
        mechanism, gs2, username: '*', nonceBytes: 18, saslprep: true, random: ctx.random,
        ...(bind && mechanism === 'SCRAM-SHA-256-PLUS' && ctx.peerCertificate ? { channelBindingData: tlsServerEndPointHash(ctx.peerCertificate) } : {}),
      });
      return {
        send: [{ type: 'SASLInitialResponse', mechanism, data: scram.clientFirst() }], scram,
        why: `The server offers ${mechanisms.join(', ')}: pg picks ${mechanism} (${p.enableChannelBinding ? 'enableChannelBinding is on' : 'channel binding only with enableChannelBinding'}), before it has even looked for a password.`,
      };
    },
    saslContinue: (ctx, data) => {
      if (ctx.scram === null) return openFail('SASL: Last message was not SASLInitialResponse');
      if (typeof p.password !== 'string') return openFail('SASL: SCRAM-SERVER-FIRST-MESSAGE: client password must be a string');
      if (p.password === '') return openFail('SASL: SCRAM-SERVER-FIRST-MESSAGE: client password must be a non-empty string');
      const out = ctx.scram.serverFirst(data, p.password);
      if ('error' in out) {
        return openFail(out.error === 'nonce'
          ? 'SASL: SCRAM-SERVER-FIRST-MESSAGE: server nonce does not start with client nonce'
          : 'SASL: SCRAM-SERVER-FIRST-MESSAGE: message invalid');
      }
      return { send: [{ type: 'SASLResponse', data: out }], why: 'The server sent its SCRAM challenge: pg answers with the proof of the password.' };
    },
    saslFinal: (ctx, data) => {
      if (ctx.scram === null || !ctx.scram.serverFinalVerifies(data)) return openFail('SASL: SCRAM-SERVER-FINAL-MESSAGE: server signature does not match');
      return { ok: true, why: "The server's SCRAM signature checks out.", scram: null };
    },
  };
  const first: AttemptSpec<DriverError> = {
    host: p.host,
    port: p.port,
    // Direct negotiation starts TLS at once; otherwise SSLRequest first.
    start: !p.ssl ? 'plain' : p.sslnegotiation === 'direct' ? 'direct-tls' : 'ssl-request',
    why: !p.ssl ? `${ssl}: pg sends the startup packet in plaintext.`
      : p.sslnegotiation === 'direct' ? `${ssl}; sslnegotiation=direct: pg starts TLS at once (ALPN postgresql).` : `${ssl}: pg sends SSLRequest first.`,
    connectFailed: (code, message) => ({ fail: { message, code, name: 'Error' }, outcome: 'connect-failed', message, socket: 'destroy' }),
    // stream.once('data') consumed the whole chunk the answer came in.
    discardAfterAnswer: true,
    sslAnswer: (answer) => {
      if (answer === 0x53) return { then: 'tls' };
      if (answer === null) return { then: 'fail', why: 'The server closed the connection instead of answering the SSLRequest.', fail: clientError('Connection terminated unexpectedly'), outcome: 'closed', socket: 'end' };
      const message = answer === 0x4e ? 'The server does not support SSL connections' : 'There was an error establishing an SSL connection';
      return {
        then: 'fail', fail: clientError(message), outcome: answer === 0x4e ? 'ssl-refused' : 'ssl-error-response', message, socket: 'end',
        why: `The server answered ${answer === 0x4e ? 'N (no SSL)' : 'something other than S or N'}: ${ssl}, so it fails with "${message}".`,
      };
    },
    tls: () => {
      const options: tls.ConnectionOptions = { host: p.host, ...(p.ssl === true || p.ssl === false ? {} : p.ssl) };
      if (p.sslnegotiation === 'direct') options.ALPNProtocols = ['postgresql'];
      // SNI never carries an IP address (RFC 6066).
      if (net.isIP(p.host) === 0) options.servername = p.host;
      // No ca of its own: Node's roots plus NODE_EXTRA_CA_CERTS (from the model's environment).
      if (options.ca === undefined && options.rejectUnauthorized !== false) options.ca = nodeDefaultCa(environOf(env), readFileOf(env));
      return { options, why: check };
    },
    tlsFailed: (e) => ({ fail: { message: e.message, code: e.code, name: 'Error' }, outcome: 'tls-failed', message: e.message, socket: 'destroy' }),
    startup: () => {
      const params: StartupParam[] = [['user', p.user], ['database', p.database]];
      if (p.applicationName) params.push(['application_name', p.applicationName]);
      // pg-protocol's serializer appends client_encoding after the Client's keys.
      params.push(['client_encoding', 'UTF8']);
      return params;
    },
    auth,
    serverError: (f) => ({ fail: databaseError(f), outcome: 'server-error', sqlstate: f.code, message: f.message, socket: 'end' }),
    closed: () => ({ fail: clientError('Connection terminated unexpectedly'), outcome: 'closed', socket: 'end' }),
    garbage: (reason) => ({ fail: clientError(reason), outcome: 'closed', message: reason, socket: 'end' }),
  };
  const after = opts.afterRejection ?? 'end';
  return runDriver({
    driver, sources: SOURCES, first,
    next: (end) => ({
      stop: true,
      why: end.failure.outcome === 'client-error-open'
        ? `connect() rejects (${end.failure.message}) but the socket stays open; the application then ${after === 'end' ? 'calls client.end() (Terminate, then FIN)' : after === 'destroy' ? 'exits (the socket is reset)' : 'does nothing, so the server waits until authentication_timeout'}.`
        : 'pg never retries and never falls back: connect() rejects with this error.',
    }),
    report: (e) => e,
    ...(opts.keepOpen ? { keepOpen: true } : {}),
    afterRejection: after,
  }, env);
}
