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
import { match } from 'ts-pattern';
import { md5ClientResponse } from '../../auth/secrets.js';
import type { ErrorFields, StartupParam } from '../../wire/codec.js';
import { AttemptLog, environOf, nextAuthEvent, openSocket, randomOf, readFileOf, startupMessage, type AuthEvent } from './exchange.js';
import { DriverScram } from './scram.js';
import type { DriverEnv, DriverError, DriverResult, Encryption } from './types.js';
import type { DriverSocket } from './wire.js';

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

/** PostgresMessage.__str__: the message, then DETAIL and HINT lines. */
function asyncpgServerMessage(f: ErrorFields): string {
  let s = f.message;
  if (f.detail) s += `\nDETAIL:  ${f.detail}`;
  if (f.hint) s += `\nHINT:  ${f.hint}`;
  return s;
}

type Failure =
  | { kind: 'server'; fields: ErrorFields }
  /** ConnectionDoesNotExistError: the server closed while the connection was being set up. */
  | { kind: 'closed' }
  | { kind: 'other'; error: DriverError };

type AttemptResult = { ok: true; sock: DriverSocket } | { ok: false; failure: Failure; wasSsl: boolean };

type State =
  | { s: 'first'; ctx: SslContext | null; retryCtx: SslContext | null }
  /** The second attempt of allow/prefer, or the only one of every other mode. */
  | { s: 'last'; ctx: SslContext | null }
  | { s: 'done'; ok: true; sock: DriverSocket }
  | { s: 'done'; ok: false; failure: Failure };

export async function connectAsyncpg(args: AsyncpgConnectArgs, env: DriverEnv, opts: AsyncpgModelOptions & { driverName?: string } = {}): Promise<DriverResult> {
  const driver = opts.driverName ?? 'asyncpg';
  const environ = environOf(env);
  const readFile = readFileOf(env);
  const random = randomOf(env);
  const log = new AttemptLog();
  const password = args.password ?? environ.PGPASSWORD ?? null;

  // _parse_connect_dsn_and_args(): the mode and its SSL context.
  let ssl: string | boolean | undefined = args.ssl ?? environ.PGSSLMODE;
  if (ssl === undefined) ssl = 'prefer';
  let sslmode: AsyncpgSslMode;
  let ctx: SslContext | null;
  if (typeof ssl === 'string') {
    const found = ASYNCPG_SSLMODES.find((m) => m === ssl);
    if (!found) {
      return { driver, ok: false, attempts: [], error: { message: `\`sslmode\` parameter must be one of: ${ASYNCPG_SSLMODES.join(', ')}`, name: 'ClientConfigurationError' } };
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
        return { driver, ok: false, attempts: [], error: { message, name: 'ClientConfigurationError' } };
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

  /** __connect_addr(): one TCP connection. */
  const attempt = async (c: SslContext | null): Promise<AttemptResult> => {
    const opened = await openSocket(env, args.host, args.port);
    if (!opened.ok) {
      log.add('plain', false, 'connect-failed', { message: opened.message });
      return { ok: false, wasSsl: false, failure: { kind: 'other', error: { message: `[Errno 111] Connect call failed ('${args.host}', ${args.port})`, name: 'ConnectionRefusedError' } } };
    }
    const sock = opened.sock;
    let encryption: Encryption = 'plain';
    let sslRequested = false;
    if (c !== null) {
      let upgrade = true;
      if (!args.direct_tls) {
        sslRequested = true;
        sock.send({ type: 'SSLRequest' });
        const answer = await sock.readByte();
        if (answer === null) {
          log.add('ssl', true, 'closed');
          sock.destroy();
          return { ok: false, wasSsl: false, failure: { kind: 'other', error: { message: 'unexpected connection_lost() call', name: 'ConnectionError' } } };
        }
        if (answer === 0x4e && sslmode === 'prefer' && c.verify === 'none') {
          upgrade = false;
        } else if (answer !== 0x53) {
          const message = `PostgreSQL server at "${args.host}:${args.port}" rejected SSL upgrade`;
          log.add('ssl', true, answer === 0x4e ? 'ssl-refused' : 'ssl-error-response', { message });
          sock.destroy();
          return { ok: false, wasSsl: false, failure: { kind: 'other', error: { message, name: 'ConnectionError' } } };
        }
      }
      if (upgrade) {
        encryption = 'ssl';
        const options: tls.ConnectionOptions = { rejectUnauthorized: c.verify !== 'none' };
        // Python's ssl module sends SNI for host names only.
        if (net.isIP(args.host) === 0) options.servername = args.host;
        if (c.ca) options.ca = c.ca;
        if (c.verify !== 'full') options.checkServerIdentity = () => undefined;
        if (args.direct_tls) options.ALPNProtocols = ['postgresql'];
        const r = await sock.startTls(options);
        if (!r.ok) {
          // Python's ssl module over OpenSSL 3: the same X509 reason text as Node's, in CPython 3.11's frame.
          const verifyFailed = r.error.code !== undefined && r.error.code !== 'ECONNRESET';
          const error: DriverError = verifyFailed
            ? { message: `[SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed: ${r.error.message} (_ssl.c:1006)`, name: 'SSLCertVerificationError' }
            : { message: '[Errno 104] Connection reset by peer', name: 'ConnectionResetError' };
          log.add('ssl', sslRequested, 'tls-failed', { message: error.message });
          return { ok: false, wasSsl: true, failure: { kind: 'other', error } };
        }
      }
    }

    const params: StartupParam[] = [['client_encoding', "'utf-8'"], ['user', args.user], ['database', args.database]];
    for (const [k, v] of Object.entries(args.server_settings ?? {})) params.push([k, v]);
    sock.send(startupMessage(params));

    let scram: DriverScram | null = null;
    const wasSsl = encryption === 'ssl';
    const lose = (failure: Failure, outcome: 'server-error' | 'client-hangup' | 'closed', extra: { sqlstate?: string; message?: string } = {}): AttemptResult => {
      log.add(encryption, sslRequested, outcome, extra);
      sock.destroy();
      return { ok: false, wasSsl, failure };
    };
    for (;;) {
      const ev: AuthEvent = await nextAuthEvent(sock);
      const r: AttemptResult | null = match(ev)
        .with({ e: 'cleartext' }, (): AttemptResult | null => {
          // self.password.encode(): None has no encode().
          if (password === null) {
            return lose({ kind: 'other', error: { message: "'NoneType' object has no attribute 'encode'", name: 'AttributeError' } }, 'client-hangup');
          }
          sock.send({ type: 'PasswordMessage', password });
          return null;
        })
        .with({ e: 'md5' }, ({ salt }): AttemptResult | null => {
          sock.send({ type: 'PasswordMessage', password: md5ClientResponse(args.user, password ?? '', salt) });
          return null;
        })
        .with({ e: 'sasl' }, ({ mechanisms }): AttemptResult | null => {
          if (!mechanisms.includes('SCRAM-SHA-256')) {
            const message = `unsupported SASL Authentication methods requested by the server: '${mechanisms.join(', ')}'`;
            return lose({ kind: 'other', error: { message, name: 'InterfaceError' } }, 'client-hangup', { message });
          }
          scram = new DriverScram({ mechanism: 'SCRAM-SHA-256', gs2: 'n', username: args.user, nonceBytes: 24, saslprep: true, random });
          sock.send({ type: 'SASLInitialResponse', mechanism: 'SCRAM-SHA-256', data: scram.clientFirst() });
          return null;
        })
        .with({ e: 'sasl-continue' }, ({ data }): AttemptResult | null => {
          const out = scram?.serverFirst(data, password ?? '');
          if (!out || 'error' in out) return lose({ kind: 'other', error: { message: 'invalid server-first-message', name: 'InterfaceError' } }, 'client-hangup');
          sock.send({ type: 'SASLResponse', data: out });
          return null;
        })
        .with({ e: 'sasl-final' }, ({ data }): AttemptResult | null => {
          if (scram?.serverFinalVerifies(data)) return null;
          const message = 'could not verify server signature for SCRAM authentciation: scram-sha-256';
          return lose({ kind: 'other', error: { message, name: 'InterfaceError' } }, 'client-hangup', { message });
        })
        .with({ e: 'auth-ok' }, { e: 'info' }, () => null)
        .with({ e: 'ready' }, (): AttemptResult => {
          log.add(encryption, sslRequested, 'authenticated');
          return { ok: true, sock };
        })
        .with({ e: 'error' }, ({ fields }): AttemptResult => lose({ kind: 'server', fields }, 'server-error', { sqlstate: fields.code, message: fields.message }))
        .with({ e: 'eof' }, { e: 'garbage' }, (): AttemptResult => lose({ kind: 'closed' }, 'closed'))
        .exhaustive();
      if (r) return r;
    }
  };

  /** The exceptions that make _connect_addr() try again. */
  const retryable = (f: Failure): boolean => match(f)
    .with({ kind: 'server' }, ({ fields }) => fields.code === '28000' || fields.code === '28P01')
    .with({ kind: 'closed' }, () => true)
    .with({ kind: 'other' }, () => false)
    .exhaustive();

  const step = (st: Exclude<State, { s: 'done' }>): Promise<State> => match(st)
    .with({ s: 'first' }, async ({ ctx: c, retryCtx }): Promise<State> => {
      const r = await attempt(c);
      if (r.ok) return { s: 'done', ok: true, sock: r.sock };
      const again = (sslmode === 'allow' && !r.wasSsl) || (sslmode === 'prefer' && r.wasSsl);
      if ((sslmode === 'allow' || sslmode === 'prefer') && again && retryable(r.failure)) return { s: 'last', ctx: retryCtx };
      return { s: 'done', ok: false, failure: r.failure };
    })
    .with({ s: 'last' }, async ({ ctx: c }): Promise<State> => {
      const r = await attempt(c);
      return r.ok ? { s: 'done', ok: true, sock: r.sock } : { s: 'done', ok: false, failure: r.failure };
    })
    .exhaustive();

  let state: State = sslmode === 'allow'
    ? { s: 'first', ctx: null, retryCtx: ctx }
    : sslmode === 'prefer'
      ? { s: 'first', ctx, retryCtx: null }
      : { s: 'last', ctx };
  while (state.s !== 'done') state = await step(state);

  if (state.ok) {
    if (!opts.keepOpen) await state.sock.terminate();
    return { driver, ok: true, attempts: log.attempts };
  }
  const error: DriverError = match(state.failure)
    .with({ kind: 'server' }, ({ fields }): DriverError => ({ message: asyncpgServerMessage(fields), code: fields.code, name: EXCEPTION_BY_SQLSTATE[fields.code] ?? 'UnknownPostgresError' }))
    .with({ kind: 'closed' }, (): DriverError => ({ message: 'connection was closed in the middle of operation', code: '08003', name: 'ConnectionDoesNotExistError' }))
    .with({ kind: 'other' }, ({ error: e }) => e)
    .exhaustive();
  return { driver, ok: false, attempts: log.attempts, error };
}
