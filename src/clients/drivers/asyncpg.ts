/**
 * asyncpg (0.27 to 0.31; measured with 0.31.0, the same logic since 0.27) connecting to one
 * TCP address with asyncpg.connect().
 *
 * Sources, read in the installed package:
 * - connect_utils.py `_parse_connect_dsn_and_args()`: `ssl` (an sslmode word, True, False) or
 *   PGSSLMODE; nothing at all on a TCP address means 'prefer'. allow/prefer use an SSL context
 *   with CERT_NONE; require verifies only when a root certificate is found (sslrootcert,
 *   PGSSLROOTCERT, ~/.postgresql/root.crt); verify-ca/verify-full need one; `ssl=True` is
 *   verify-full with the system store.
 * - connect_utils.py `_connect_addr()`: allow → first attempt plain, retry with SSL; prefer →
 *   first attempt SSL (advisory), retry plain; other modes one attempt.
 * - connect_utils.py `__connect_addr()`: the retry fires when the first attempt failed with
 *   InvalidAuthorizationSpecificationError (28000, and its subclass InvalidPasswordError 28P01)
 *   or ConnectionDoesNotExistError (the server closed mid-startup), and only if that attempt
 *   was plain under allow or actually encrypted under prefer. The retry's error is the one raised.
 * - connect_utils.py `TLSUpgradeProto.data_received()`: 'S' → TLS; 'N' → plaintext on the same
 *   socket only for prefer with CERT_NONE; anything else → ConnectionError "rejected SSL upgrade".
 * - protocol/coreproto.pyx: startup packet client_encoding="'utf-8'", user, database, then
 *   server_settings; SASL takes the first advertised mechanism it knows (SCRAM-SHA-256 only,
 *   gs2 "n,,", n=<user>, 24-byte nonce) and uses `password or ''`: no password is an empty one.
 * - asyncpg reads ~/.pgpass when no password is given; the model assumes there is none.
 */
import * as net from 'node:net';
import * as path from 'node:path';
import type * as tls from 'node:tls';
import { bundledRoots } from '../tls-context.js';
import { match } from 'ts-pattern';
import { md5ClientResponse } from '../../common/md5.js';
import type { ErrorFields, StartupParam } from '../../wire/codec.js';
import { environOf, readFileOf, refusedBeforeConnecting, runDriver, sourceTable, src, type AttemptSpec, type AuthResponder } from './engine.js';
import { DriverScram } from './scram.js';
import type { DriverEnv, DriverError, DriverResult } from './types.js';

export const ASYNCPG_SSLMODES = ['disable', 'allow', 'prefer', 'require', 'verify-ca', 'verify-full'] as const;
export type AsyncpgSslMode = typeof ASYNCPG_SSLMODES[number];

export interface AsyncpgConnectArgs {
  host: string;
  port: number;
  user: string;
  database: string;
  password?: string | null;
  /** An sslmode word, true (verify-full, system store) or false; absent: PGSSLMODE, else prefer. */
  ssl?: string | boolean;
  sslrootcert?: string;
  direct_tls?: boolean;
  server_settings?: Record<string, string>;
}

export interface AsyncpgModelOptions {
  keepOpen?: boolean;
}

/** How one attempt sets up TLS: null is no SSL at all. */
interface SslContext {
  verify: 'none' | 'chain' | 'full';
  ca: Buffer | null;
}

/** Exceptions asyncpg raises for the SQLSTATEs a connection attempt meets (exceptions/__init__.py). */
const EXCEPTION_BY_SQLSTATE: Record<string, string> = {
  '28000': 'InvalidAuthorizationSpecificationError',
  '28P01': 'InvalidPasswordError',
  '3D000': 'InvalidCatalogNameError',
  '53300': 'TooManyConnectionsError',
  '57P03': 'CannotConnectNowError',
  '08P01': 'ProtocolViolationError',
  '22023': 'InvalidParameterValueError',
  '42704': 'UndefinedObjectError',
  '0A000': 'FeatureNotSupportedError',
};

const V = 'asyncpg 0.31.0';
const CU = 'asyncpg/connect_utils.py';
const CORE = 'asyncpg/protocol/coreproto.pyx';
/** Where each step lives in asyncpg 0.31.0. */
const SOURCES = sourceTable(V, CU, {
  connect: ['__connect_addr', 1099],
  'ssl-request': ['_create_ssl_connection', 974],
  'direct-tls': ['__connect_addr', 1088],
  'ssl-answer': ['TLSUpgradeProto.data_received', 927],
  tls: ['_create_ssl_connection', 985],
  startup: [CORE, 'CoreProtocol._connect', 925],
  'auth-cleartext': [CORE, 'CoreProtocol._process__auth', 574],
  'auth-md5': [CORE, 'CoreProtocol._process__auth', 579],
  'auth-sasl': [CORE, 'CoreProtocol._process__auth', 585],
  'auth-sasl-continue': [CORE, 'CoreProtocol._process__auth', 617],
  'auth-sasl-final': [CORE, 'CoreProtocol._process__auth', 627],
  ready: [CORE, 'CoreProtocol._parse_msg_ready_for_query', 774],
  retry: ['__connect_addr', 1111],
  'give-up': ['_connect_addr', 1059],
});
const PARSE = src(V, CU, '_parse_connect_dsn_and_args', 682);
const SSL_ADVISORY = src(V, CU, 'TLSUpgradeProto.data_received', 929);
const SSL_REJECTED = src(V, CU, 'TLSUpgradeProto.data_received', 941);

/** PostgresMessage.__str__: the message, then DETAIL and HINT lines. */
function asyncpgServerMessage(f: ErrorFields): string {
  let s = f.message;
  if (f.detail) s += `\nDETAIL:  ${f.detail}`;
  if (f.hint) s += `\nHINT:  ${f.hint}`;
  return s;
}

type AsyncpgFailure =
  | { kind: 'server'; fields: ErrorFields }
  /** ConnectionDoesNotExistError: the server closed while the connection was being set up. */
  | { kind: 'closed' }
  | { kind: 'other'; error: DriverError };

export async function connectAsyncpg(args: AsyncpgConnectArgs, env: DriverEnv, opts: AsyncpgModelOptions & { driverName?: string } = {}): Promise<DriverResult> {
  const driver = opts.driverName ?? 'asyncpg';
  const environ = environOf(env);
  const readFile = readFileOf(env);
  const password = args.password ?? environ.PGPASSWORD ?? null;

  // _parse_connect_dsn_and_args(): the mode and its SSL context.
  let ssl: string | boolean | undefined = args.ssl ?? environ.PGSSLMODE;
  if (ssl === undefined) ssl = 'prefer';
  let sslmode: AsyncpgSslMode;
  let ctx: SslContext | null;
  if (typeof ssl === 'string') {
    const found = ASYNCPG_SSLMODES.find((m) => m === ssl);
    if (!found) {
      return refusedBeforeConnecting(driver, env, { message: `\`sslmode\` parameter must be one of: ${ASYNCPG_SSLMODES.join(', ')}`, name: 'ClientConfigurationError' }, PARSE);
    }
    sslmode = found;
    if (sslmode === 'disable') {
      ctx = null;
    } else if (sslmode === 'allow' || sslmode === 'prefer') {
      ctx = { verify: 'none', ca: null };
    } else {
      const rootPath = args.sslrootcert ?? environ.PGSSLROOTCERT ?? (env.homeDir ? path.join(env.homeDir, '.postgresql', 'root.crt') : null);
      const ca = rootPath ? readFile(rootPath) : null;
      if (ca === null && sslmode !== 'require') {
        // Raised while parsing the arguments: no connection is made.
        const shown = rootPath ?? '~/.postgresql/root.crt';
        let message = `root certificate file "${shown}" does not exist or cannot be accessed`;
        if (rootPath === null) message += '\nDETAIL:  Could not determine location of user home directory (HOME is either unset, inaccessible, or does not point to a valid directory)';
        message += `\nHINT:  Provide the certificate file directly or make sure "${shown}" exists and is readable.`;
        return refusedBeforeConnecting(driver, env, { message, name: 'ClientConfigurationError' }, PARSE);
      }
      ctx = ca === null ? { verify: 'none', ca: null } : { verify: sslmode === 'verify-full' ? 'full' : 'chain', ca };
    }
  } else if (ssl === true) {
    sslmode = 'verify-full';
    ctx = { verify: 'full', ca: null };
  } else {
    sslmode = 'disable';
    ctx = null;
  }

  const addr = `"${args.host}:${args.port}"`;
  const auth: AuthResponder<AsyncpgFailure> = {
    cleartext: () => (password === null
      // self.password.encode(): None has no encode().
      ? { fail: { kind: 'other', error: { message: "'NoneType' object has no attribute 'encode'", name: 'AttributeError' } }, outcome: 'client-hangup', socket: 'destroy' }
      : { send: [{ type: 'PasswordMessage', password }], why: 'The server asks for the password in clear text: asyncpg sends it.' }),
    md5: (_ctx, salt) => ({ send: [{ type: 'PasswordMessage', password: md5ClientResponse(args.user, password ?? '', salt) }], why: `The server asks for an MD5-hashed password: asyncpg sends md5(md5(password + user) + salt)${password === null ? ", with '' for the missing password" : ''}.` }),
    sasl: (ctx, mechanisms) => {
      if (!mechanisms.includes('SCRAM-SHA-256')) {
        const message = `unsupported SASL Authentication methods requested by the server: '${mechanisms.join(', ')}'`;
        return { fail: { kind: 'other', error: { message, name: 'InterfaceError' } }, outcome: 'client-hangup', message, socket: 'destroy' };
      }
      const scram = new DriverScram({ mechanism: 'SCRAM-SHA-256', gs2: 'n', username: args.user, nonceBytes: 24, saslprep: true, random: ctx.random });
      return {
        send: [{ type: 'SASLInitialResponse', mechanism: 'SCRAM-SHA-256', data: scram.clientFirst() }], scram,
        why: `The server offers ${mechanisms.join(', ')}: asyncpg takes SCRAM-SHA-256 (it has no channel binding)${password === null ? " and uses '' as the password it does not have" : ''}.`,
      };
    },
    saslContinue: (ctx, data) => {
      const out = ctx.scram?.serverFirst(data, password ?? '');
      if (!out || 'error' in out) return { fail: { kind: 'other', error: { message: 'invalid server-first-message', name: 'InterfaceError' } }, outcome: 'client-hangup', socket: 'destroy' };
      return { send: [{ type: 'SASLResponse', data: out }], why: 'The server sent its SCRAM challenge: asyncpg answers with the proof of the password.' };
    },
    saslFinal: (ctx, data) => {
      if (ctx.scram?.serverFinalVerifies(data)) return { ok: true, why: "The server's SCRAM signature checks out." };
      const message = 'could not verify server signature for SCRAM authentciation: scram-sha-256';
      return { fail: { kind: 'other', error: { message, name: 'InterfaceError' } }, outcome: 'client-hangup', message, socket: 'destroy' };
    },
  };

  /** __connect_addr(): one TCP connection, with SSL (`c`) or without (null). */
  const attempt = (c: SslContext | null): AttemptSpec<AsyncpgFailure> => ({
    host: args.host,
    port: args.port,
    start: c === null ? 'plain' : args.direct_tls ? 'direct-tls' : 'ssl-request',
    why: c === null
      ? (sslmode === 'disable' ? 'sslmode=disable: asyncpg sends the startup packet in plaintext.' : `sslmode=${sslmode}: this attempt is the plaintext one.`)
      : args.direct_tls ? `sslmode=${sslmode}, direct_tls: asyncpg starts TLS at once (ALPN postgresql).`
        : `sslmode=${sslmode}: asyncpg sends SSLRequest first (_create_ssl_connection).`,
    connectFailed: (_code, message) => ({
      fail: { kind: 'other', error: { message: `[Errno 111] Connect call failed ('${args.host}', ${args.port})`, name: 'ConnectionRefusedError' } },
      outcome: 'connect-failed', message, socket: 'destroy',
    }),
    sslAnswer: (answer) => {
      if (answer === null) return { then: 'fail', fail: { kind: 'other', error: { message: 'unexpected connection_lost() call', name: 'ConnectionError' } }, outcome: 'closed', socket: 'destroy' };
      if (answer === 0x53) return { then: 'tls' };
      if (answer === 0x4e && sslmode === 'prefer' && c!.verify === 'none') {
        return { then: 'plaintext', why: 'The server answered N (no SSL): under sslmode=prefer (SSL advisory, no verification) asyncpg goes on in plaintext on the same connection.', source: SSL_ADVISORY };
      }
      const message = `PostgreSQL server at ${addr} rejected SSL upgrade`;
      return {
        then: 'fail', fail: { kind: 'other', error: { message, name: 'ConnectionError' } }, outcome: answer === 0x4e ? 'ssl-refused' : 'ssl-error-response', message, socket: 'destroy',
        why: `The server answered ${answer === 0x4e ? 'N (no SSL)' : 'neither S nor N'}, and sslmode=${sslmode} does not let asyncpg go on without SSL.`, source: SSL_REJECTED,
      };
    },
    tls: () => {
      const options: tls.ConnectionOptions = { rejectUnauthorized: c!.verify !== 'none' };
      // Python's ssl module sends SNI for host names only.
      if (net.isIP(args.host) === 0) options.servername = args.host;
      // ssl=True without a root file: the system store, modelled by the bundled roots (not this process's extras).
      if (c!.ca) options.ca = c!.ca;
      else if (c!.verify !== 'none') options.ca = bundledRoots();
      if (c!.verify !== 'full') options.checkServerIdentity = () => undefined;
      if (args.direct_tls) options.ALPNProtocols = ['postgresql'];
      return { options, why: c!.verify === 'none' ? 'CERT_NONE: no certificate verification' : c!.verify === 'chain' ? 'the chain checked, not the host name' : 'full verification' };
    },
    tlsFailed: (e) => {
      // Python's ssl module over OpenSSL 3: the same X509 reason text as Node's, in CPython 3.11's frame.
      const verifyFailed = e.code !== undefined && e.code !== 'ECONNRESET';
      const error: DriverError = verifyFailed
        ? { message: `[SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed: ${e.message} (_ssl.c:1006)`, name: 'SSLCertVerificationError' }
        : { message: '[Errno 104] Connection reset by peer', name: 'ConnectionResetError' };
      return { fail: { kind: 'other', error }, outcome: 'tls-failed', message: error.message, socket: 'destroy' };
    },
    startup: () => {
      const params: StartupParam[] = [['client_encoding', "'utf-8'"], ['user', args.user], ['database', args.database]];
      for (const [k, v] of Object.entries(args.server_settings ?? {})) params.push([k, v]);
      return params;
    },
    auth,
    serverError: (fields) => ({ fail: { kind: 'server', fields }, outcome: 'server-error', sqlstate: fields.code, message: fields.message, socket: 'destroy' }),
    closed: () => ({ fail: { kind: 'closed' }, outcome: 'closed', socket: 'destroy' }),
    garbage: () => ({ fail: { kind: 'closed' }, outcome: 'closed', socket: 'destroy' }),
  });

  /** The exceptions that make _connect_addr() try again. */
  const retryable = (f: AsyncpgFailure): boolean => match(f)
    .with({ kind: 'server' }, ({ fields }) => fields.code === '28000' || fields.code === '28P01')
    .with({ kind: 'closed' }, () => true)
    .with({ kind: 'other' }, () => false)
    .exhaustive();

  // _connect_addr(): allow tries plaintext, then SSL; prefer SSL, then plaintext; the rest once.
  const first = sslmode === 'allow' ? attempt(null) : attempt(ctx);
  return runDriver<AsyncpgFailure>({
    driver, sources: SOURCES, first,
    next: (end, history) => {
      const f = end.failure.fail;
      if (history.length > 1) return { stop: true, why: 'The second attempt failed too: asyncpg raises its error.' };
      if (sslmode !== 'allow' && sslmode !== 'prefer') return { stop: true, why: `sslmode=${sslmode}: asyncpg makes one attempt.` };
      // __connect_addr(): only if that attempt was plain under allow or actually encrypted under prefer.
      const again = (sslmode === 'allow' && !end.tlsInUse) || (sslmode === 'prefer' && end.tlsInUse);
      if (again && retryable(f)) {
        const kind = f.kind === 'server' ? `SQLSTATE ${f.fields.code} (class 28: InvalidAuthorizationSpecificationError)` : 'a closed connection (ConnectionDoesNotExistError)';
        return {
          retry: attempt(sslmode === 'allow' ? ctx : null),
          why: `${kind} on the ${sslmode === 'allow' ? 'plaintext' : 'SSL'} attempt: under sslmode=${sslmode} asyncpg tries again ${sslmode === 'allow' ? 'with' : 'without'} SSL, on a new connection.`,
        };
      }
      return {
        stop: true,
        why: !retryable(f) ? 'asyncpg retries only after a class 28 error or a closed connection: it raises this one.'
          : `asyncpg retries only when the ${sslmode === 'allow' ? 'first attempt was plaintext' : 'server accepted SSL'}: it raises the error.`,
      };
    },
    report: (f) => match(f)
      .with({ kind: 'server' }, ({ fields }): DriverError => ({ message: asyncpgServerMessage(fields), code: fields.code, name: EXCEPTION_BY_SQLSTATE[fields.code] ?? 'UnknownPostgresError' }))
      .with({ kind: 'closed' }, (): DriverError => ({ message: 'connection was closed in the middle of operation', code: '08003', name: 'ConnectionDoesNotExistError' }))
      .with({ kind: 'other' }, ({ error: e }) => e)
      .exhaustive(),
    ...(opts.keepOpen ? { keepOpen: true } : {}),
  }, env);
}
