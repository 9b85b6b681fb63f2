/**
 * pgjdbc 42.7.13 opening a connection to one host (DriverManager.getConnection).
 *
 * Sources: the 42.7.13 jar's bytecode (`javap -c`) checked against the repository's Java source.
 * - org.postgresql.jdbc.SslMode.of(): `sslmode` property (case-insensitive); without it,
 *   `ssl=true` (or `ssl=`) means verify-full, otherwise prefer.
 * - core.v3.ConnectionFactoryImpl.openConnectionImpl(): one tryConnect() with the sslmode; on a
 *   SQLException whose SQLSTATE is exactly 28000, prefer retries without SSL and allow retries
 *   as require; on an IOException allow retries as require, prefer only after a
 *   SocketTimeoutException (timeouts are not modelled). A wrong password is 28P01: no retry.
 *   tryConnectWithoutSsl()/tryConnectWithSsl() rethrow the FIRST attempt's exception when the
 *   retry fails too (the retry's is only attached as suppressed).
 * - ConnectionFactoryImpl.enableSSL(): disable and allow send no SSLRequest; 'S' → TLS
 *   (MakeSSL.convert); 'N' → plaintext on the same socket unless sslmode ≥ require ("The
 *   server does not support SSL.", 08004); 'E' → the same error for require and stronger,
 *   otherwise a NEW connection in plaintext; anything else → 08P01.
 * - ssl.LibPQFactory: certificates are checked only for verify-ca/verify-full.
 * - ConnectionFactoryImpl.doAuthentication()/ScramAuthenticator: SCRAM with channelBinding
 *   (default prefer: SCRAM-SHA-256-PLUS over TLS when offered); no password → "The server
 *   requested SCRAM-based authentication, but no password was provided." (08004), and the
 *   stream is closed without a word: the hook sees EOF.
 * - getParametersForStartup(): user, database, client_encoding, DateStyle, TimeZone, and
 *   application_name only with assumeMinServerVersion ≥ 9.0. Post-login setup queries
 *   (SET extra_float_digits/application_name for older assumed versions) are not modelled:
 *   they run after authentication and cannot change a hook count.
 */
import * as net from 'node:net';
import * as path from 'node:path';
import type * as tls from 'node:tls';
import { md5ClientResponse } from '../../common/md5.js';
import { tlsServerEndPointHash } from '../../common/cert-hash.js';
import type { ErrorFields, StartupParam } from '../../wire/codec.js';
import { readFileOf, refusedBeforeConnecting, runDriver, sourceTable, src, type AttemptSpec, type AuthResponder, type Failure } from './engine.js';
import { DriverScram } from './scram.js';
import type { DriverEnv, DriverResult } from './types.js';

export const PGJDBC_SSLMODES = ['disable', 'allow', 'prefer', 'require', 'verify-ca', 'verify-full'] as const;
export type PgjdbcSslMode = typeof PGJDBC_SSLMODES[number];

/** Connection properties (names as in PGProperty). */
export interface PgjdbcProperties {
  host: string;
  port: number;
  user: string;
  database: string;
  password?: string | null;
  sslmode?: string;
  /** The `ssl` property: "true" or "" selects verify-full when sslmode is absent. */
  ssl?: string;
  sslNegotiation?: 'postgres' | 'direct';
  sslrootcert?: string;
  channelBinding?: 'disable' | 'prefer' | 'require';
  assumeMinServerVersion?: string;
  ApplicationName?: string;
  /** What TimeZone.getDefault() gives the JVM (it goes into the startup packet). */
  timeZone?: string;
}

export interface PgjdbcModelOptions {
  keepOpen?: boolean;
}

/** What an attempt threw: a PSQLException (SQLException) or an IOException. */
type Thrown =
  | { kind: 'sql'; sqlstate: string; message: string }
  | { kind: 'io'; message: string; connectRefused: boolean };

/** SslMode.of() */
export function pgjdbcSslMode(props: Pick<PgjdbcProperties, 'sslmode' | 'ssl'>): PgjdbcSslMode | { error: string } {
  if (props.sslmode !== undefined) {
    const found = PGJDBC_SSLMODES.find((m) => m.toLowerCase() === props.sslmode!.toLowerCase());
    return found ?? { error: `Invalid sslmode value: ${props.sslmode}` };
  }
  return props.ssl === 'true' || props.ssl === '' ? 'verify-full' : 'prefer';
}

/** ServerErrorMessage.toString(): "SEVERITY: message", then Detail/Hint/Position/Where lines. */
export function pgjdbcServerMessage(f: ErrorFields): string {
  let s = `${f.severity}: ${f.message}`;
  if (f.detail !== undefined) s += `\n  Detail: ${f.detail}`;
  if (f.hint !== undefined) s += `\n  Hint: ${f.hint}`;
  if (f.position !== undefined) s += `\n  Position: ${f.position}`;
  if (f.where !== undefined) s += `\n  Where: ${f.where}`;
  return s;
}

/** ServerVersion.from(): "9.0" → 90000, "10" → 100000; unparsable or absent → 0. */
function versionNum(v: string | undefined): number {
  if (!v) return 0;
  const m = /^(\d+)(?:\.(\d+))?/.exec(v.trim());
  if (!m) return 0;
  const major = Number(m[1]);
  const minor = Number(m[2] ?? 0);
  return major >= 10 ? major * 10000 + minor : major * 10000 + minor * 100;
}

/** Node's codes for a chain that does not lead to a trusted root. */
const UNTRUSTED_CHAIN = new Set(['SELF_SIGNED_CERT_IN_CHAIN', 'DEPTH_ZERO_SELF_SIGNED_CERT', 'UNABLE_TO_GET_ISSUER_CERT', 'UNABLE_TO_GET_ISSUER_CERT_LOCALLY', 'UNABLE_TO_VERIFY_LEAF_SIGNATURE']);
const PKIX_FAILURE = 'PKIX path building failed: sun.security.provider.certpath.SunCertPathBuilderException: unable to find valid certification path to requested target';

const V = 'pgjdbc 42.7.13';
const CFI = 'org/postgresql/core/v3/ConnectionFactoryImpl.java';
/** Where each step lives in pgjdbc 42.7.13 (tag REL42.7.13). */
const SOURCES = sourceTable(V, CFI, {
  connect: ['tryConnect', 221],
  'ssl-request': ['enableSSL', 678],
  'direct-tls': ['enableSSL', 671],
  'ssl-answer': ['enableSSL', 685],
  tls: ['org/postgresql/ssl/MakeSSL.java', 'convert', 33],
  startup: ['tryConnect', 306],
  'auth-cleartext': ['doAuthentication', 896],
  'auth-md5': ['doAuthentication', 866],
  'auth-sasl': ['doAuthentication', 1008],
  'auth-sasl-continue': ['doAuthentication', 1027],
  'auth-sasl-final': ['doAuthentication', 1031],
  ready: ['openConnectionImpl', 398],
  'server-error': ['doAuthentication', 825],
  retry: ['openConnectionImpl', 369],
  'give-up': ['openConnectionImpl', 367],
});
const SSL_ANSWER_E = src(V, CFI, 'enableSSL', 686);
const SSL_ANSWER_N = src(V, CFI, 'enableSSL', 698);
const NO_PASSWORD = src(V, CFI, 'doAuthentication', 1012);
const ROOT_CERT = src(V, 'org/postgresql/ssl/LibPQFactory.java', 'LibPQFactory', 199);
const HOSTNAME = src(V, 'org/postgresql/ssl/MakeSSL.java', 'verifyPeerName', 88);
const SSLMODE_OF = src(V, 'org/postgresql/jdbc/SslMode.java', 'of', 63);
const RETRY_ON_IO = src(V, CFI, 'openConnectionImpl', 383);

export async function connectPgjdbc(props: PgjdbcProperties, env: DriverEnv, opts: PgjdbcModelOptions & { driverName?: string } = {}): Promise<DriverResult> {
  const driver = opts.driverName ?? 'pgjdbc';
  const modeOrError = pgjdbcSslMode(props);
  if (typeof modeOrError === 'object') {
    return refusedBeforeConnecting(driver, env, { message: modeOrError.error, code: '08001', name: 'PSQLException' }, SSLMODE_OF);
  }
  const readFile = readFileOf(env);
  const channelBinding = props.channelBinding ?? 'prefer';
  const password = props.password ?? null;

  // closeStream(): the socket just goes, no Terminate.
  const sqlFail = (sqlstate: string, message: string, outcome: Failure<Thrown>['outcome'], extra: { message?: string; sqlstate?: string } = {}): Failure<Thrown> => ({
    fail: { kind: 'sql', sqlstate, message }, outcome, socket: 'destroy', ...extra,
  });
  const noPassword = (what: 'SCRAM-based' | 'password-based'): Failure<Thrown> => {
    const message = what === 'SCRAM-based'
      ? 'The server requested SCRAM-based authentication, but no password was provided.'
      : 'The server requested password-based authentication, but no password was provided by plugin null';
    return {
      ...sqlFail('08004', message, 'client-hangup', { message }), source: NO_PASSWORD,
      hangUp: `The server asks for ${what} authentication and pgjdbc has no password: it closes the stream without a word (the server sees EOF).`,
    };
  };
  const auth: AuthResponder<Thrown> = {
    cleartext: () => (password === null ? noPassword('password-based')
      : { send: [{ type: 'PasswordMessage', password }], why: 'The server asks for the password in clear text: pgjdbc sends it.' }),
    md5: (_ctx, salt) => (password === null ? noPassword('password-based')
      : { send: [{ type: 'PasswordMessage', password: md5ClientResponse(props.user, password, salt) }], why: 'The server asks for an MD5-hashed password: pgjdbc sends md5(md5(password + user) + salt).' }),
    sasl: (ctx, mechanisms) => {
      if (password === null) return noPassword('SCRAM-based');
      const canBind = channelBinding !== 'disable' && ctx.sslInUse && ctx.peerCertificate !== null;
      const plus = canBind && mechanisms.includes('SCRAM-SHA-256-PLUS');
      if (channelBinding === 'require' && !plus) {
        const message = `Channel Binding is required, but the negotiated SCRAM mechanism "SCRAM-SHA-256" does not use channel binding.`;
        return sqlFail('08004', message, 'client-hangup', { message });
      }
      const mechanism = plus ? 'SCRAM-SHA-256-PLUS' : 'SCRAM-SHA-256';
      const scram = new DriverScram({
        mechanism, gs2: plus ? 'p' : canBind ? 'y' : 'n', username: '*', nonceBytes: 24, saslprep: true, random: ctx.random,
        ...(plus ? { channelBindingData: tlsServerEndPointHash(ctx.peerCertificate!) } : {}),
      });
      return {
        send: [{ type: 'SASLInitialResponse', mechanism, data: scram.clientFirst() }], scram,
        why: `The server offers ${mechanisms.join(', ')}; channelBinding=${channelBinding}${ctx.sslInUse ? '' : ' (no TLS)'}: pgjdbc picks ${mechanism}.`,
      };
    },
    saslContinue: (ctx, data) => {
      const out = ctx.scram?.serverFirst(data, password ?? '');
      if (!out || 'error' in out) return sqlFail('08P01', 'Invalid server-first-message', 'client-hangup');
      return { send: [{ type: 'SASLResponse', data: out }], why: 'The server sent its SCRAM challenge: pgjdbc answers with the proof of the password.' };
    },
    saslFinal: (ctx, data) => (ctx.scram?.serverFinalVerifies(data)
      ? { ok: true, why: "The server's SCRAM signature checks out." }
      : sqlFail('08P01', 'Invalid server-final-message', 'client-hangup')),
  };

  /** ConnectionFactoryImpl.tryConnect(): one socket (two, after an 'E'), SSL as the mode says, startup, authentication. */
  const tryConnect = (mode: PgjdbcSslMode): AttemptSpec<Thrown> => {
    const requireEncryption = mode === 'require' || mode === 'verify-ca' || mode === 'verify-full';
    const direct = props.sslNegotiation === 'direct';
    return {
      host: props.host,
      port: props.port,
      // enableSSL(): disable and allow send no SSLRequest.
      start: mode === 'disable' || mode === 'allow' ? 'plain' : direct ? 'direct-tls' : 'ssl-request',
      why: mode === 'disable' ? 'sslmode=disable: pgjdbc sends the startup packet in plaintext.'
        : mode === 'allow' ? 'sslmode=allow: pgjdbc starts in plaintext and asks for SSL only after a 28000 rejection or an I/O error.'
          : direct ? `sslmode=${mode}, sslNegotiation=direct: pgjdbc starts TLS at once (ALPN postgresql).`
            : `sslmode=${mode}: pgjdbc sends SSLRequest first.`,
      connectFailed: (code, message) => ({ fail: { kind: 'io', message, connectRefused: code === 'ECONNREFUSED' }, outcome: 'connect-failed', message, socket: 'destroy' }),
      sslAnswer: (answer) => {
        if (answer === null) return { then: 'fail', fail: { kind: 'io', message: 'EOF', connectRefused: false }, outcome: 'closed', socket: 'destroy' };
        if (answer === 0x53) return { then: 'tls' };
        if (answer === 0x4e || answer === 0x45) {
          const letter = answer === 0x4e ? 'N (no SSL)' : 'E (an error)';
          if (requireEncryption) {
            return {
              then: 'fail', ...sqlFail('08004', 'The server does not support SSL.', answer === 0x4e ? 'ssl-refused' : 'ssl-error-response', { message: 'The server does not support SSL.' }),
              why: `The server answered ${letter}, and sslmode=${mode} requires encryption.`, source: answer === 0x4e ? SSL_ANSWER_N : SSL_ANSWER_E,
            };
          }
          // An error instead of an answer: give up this socket and open a fresh one, in plaintext.
          if (answer === 0x45) return { then: 'reconnect-plaintext', outcome: 'ssl-error-response', why: `The server answered E to the SSLRequest: under sslmode=${mode} pgjdbc drops this connection and opens a new one in plaintext.`, source: SSL_ANSWER_E };
          return { then: 'plaintext', why: `The server answered N (no SSL): sslmode=${mode} does not require encryption, so pgjdbc goes on in plaintext on the same stream.`, source: SSL_ANSWER_N };
        }
        const message = 'An error occurred while setting up the SSL connection.';
        return { then: 'fail', ...sqlFail('08P01', message, 'ssl-error-response', { message }) };
      },
      tls: () => {
        const options: tls.ConnectionOptions = { rejectUnauthorized: false };
        if (net.isIP(props.host) === 0) options.servername = props.host;
        if (direct) options.ALPNProtocols = ['postgresql'];
        if (mode === 'verify-ca' || mode === 'verify-full') {
          // LibPQFactory: the root certificate file, ~/.postgresql/root.crt unless sslrootcert says otherwise.
          const root = props.sslrootcert ?? (env.homeDir ? path.join(env.homeDir, '.postgresql', 'root.crt') : null);
          const pem = root ? readFile(root) : null;
          if (pem === null) {
            const message = `Could not open SSL root certificate file ${root ?? ''}.`;
            return { ...sqlFail('08006', message, 'tls-failed', { message }), source: ROOT_CERT };
          }
          options.ca = pem;
          options.rejectUnauthorized = true;
          options.checkServerIdentity = () => undefined;
        }
        return { options, why: mode === 'verify-ca' || mode === 'verify-full' ? `sslmode=${mode}: the chain checked against the root certificate` : `sslmode=${mode}: LibPQFactory checks no certificate` };
      },
      // MakeSSL.convert(): IOExceptions become PSQLException "SSL error: ..." (08006), so no retry.
      // An untrusted chain is the JDK's PKIX failure; other failures keep Node's text (approximate).
      tlsFailed: (e) => {
        const untrusted = e.code !== undefined && UNTRUSTED_CHAIN.has(e.code);
        const message = `SSL error: ${untrusted ? PKIX_FAILURE : e.message}`;
        return sqlFail('08006', message, 'tls-failed', { message });
      },
      afterTls: async (der) => {
        if (mode !== 'verify-full' || !der) return null;
        const { X509Certificate } = await import('node:crypto');
        const cert = new X509Certificate(der);
        const matches = net.isIP(props.host) ? cert.checkIP(props.host) !== undefined : cert.checkHost(props.host) !== undefined;
        if (matches) return null;
        const message = `The hostname ${props.host} could not be verified by hostnameverifier PgjdbcHostnameVerifier.`;
        return { ...sqlFail('08006', message, 'tls-failed', { message }), source: HOSTNAME };
      },
      // getParametersForStartup()
      startup: () => {
        const params: StartupParam[] = [
          ['user', props.user], ['database', props.database], ['client_encoding', 'UTF8'], ['DateStyle', 'ISO'],
          ['TimeZone', props.timeZone ?? 'UTC'],
        ];
        if (versionNum(props.assumeMinServerVersion) >= 90000) params.push(['application_name', props.ApplicationName ?? 'PostgreSQL JDBC Driver']);
        return params;
      },
      auth,
      serverError: (f) => sqlFail(f.code, pgjdbcServerMessage(f), 'server-error', { sqlstate: f.code, message: f.message }),
      closed: () => ({ fail: { kind: 'io', message: 'EOF', connectRefused: false }, outcome: 'closed', socket: 'destroy' }),
      garbage: (reason) => sqlFail('08P01', reason, 'closed', { message: reason }),
    };
  };

  const sslmode = modeOrError;
  return runDriver<Thrown>({
    driver, sources: SOURCES, first: tryConnect(sslmode),
    // openConnectionImpl(): one retry, and only for these; a failed retry rethrows the first exception.
    next: (end, history) => {
      const t = end.failure.fail;
      if (history.length > 1) {
        return { stop: true, why: 'The retry failed too: pgjdbc rethrows the first attempt\'s exception (the retry\'s is only attached as suppressed).', fail: history[0]!.failure.fail };
      }
      if (t.kind === 'sql' && t.sqlstate === '28000' && (sslmode === 'prefer' || sslmode === 'allow')) {
        return sslmode === 'prefer'
          ? { retry: tryConnect('disable'), why: 'SQLSTATE 28000 under sslmode=prefer: pgjdbc tries once more without SSL, on a new connection.' }
          : { retry: tryConnect('require'), why: 'SQLSTATE 28000 under sslmode=allow: pgjdbc tries once more with SSL (as require), on a new connection.' };
      }
      // Only allow reacts to an IOException (prefer needs a SocketTimeoutException, which the model never raises).
      if (t.kind === 'io' && sslmode === 'allow') {
        return { retry: tryConnect('require'), why: 'An I/O error under sslmode=allow: pgjdbc tries once more with SSL (as require), on a new connection.', source: RETRY_ON_IO };
      }
      const why = t.kind === 'sql' && (sslmode === 'prefer' || sslmode === 'allow')
        ? `pgjdbc retries only after SQLSTATE 28000 (pg_hba.conf rejected the connection), and this is ${t.sqlstate}: no second attempt.`
        : 'pgjdbc reports the error (no retry applies).';
      return { stop: true, why };
    },
    report: (t) => (t.kind === 'sql'
      ? { message: t.message, code: t.sqlstate, name: 'PSQLException' }
      : {
        message: t.connectRefused
          ? `Connection to ${props.host}:${props.port} refused. Check that the hostname and port are correct and that the postmaster is accepting TCP/IP connections.`
          : 'The connection attempt failed.',
        code: '08001',
        name: 'PSQLException',
      }),
    ...(opts.keepOpen ? { keepOpen: true } : {}),
  }, env);
}
