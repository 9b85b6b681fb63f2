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
import { match } from 'ts-pattern';
import { md5ClientResponse } from '../../auth/secrets.js';
import { tlsServerEndPointHash } from '../../auth/scram.js';
import type { ErrorFields, StartupParam } from '../../wire/codec.js';
import { AttemptLog, nextAuthEvent, openSocket, randomOf, readFileOf, startupMessage, type AuthEvent } from './exchange.js';
import { DriverScram } from './scram.js';
import type { DriverEnv, DriverError, DriverResult, Encryption } from './types.js';
import type { DriverSocket } from './wire.js';

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

type TryResult = { ok: true; sock: DriverSocket } | { ok: false; thrown: Thrown };

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

type State =
  | { s: 'try'; mode: PgjdbcSslMode; first: Thrown | null }
  | { s: 'done'; ok: true; sock: DriverSocket }
  | { s: 'done'; ok: false; thrown: Thrown };

export async function connectPgjdbc(props: PgjdbcProperties, env: DriverEnv, opts: PgjdbcModelOptions & { driverName?: string } = {}): Promise<DriverResult> {
  const driver = opts.driverName ?? 'pgjdbc';
  const modeOrError = pgjdbcSslMode(props);
  if (typeof modeOrError === 'object') {
    return { driver, ok: false, attempts: [], error: { message: modeOrError.error, code: '08001', name: 'PSQLException' } };
  }
  const log = new AttemptLog();
  const random = randomOf(env);
  const readFile = readFileOf(env);
  const channelBinding = props.channelBinding ?? 'prefer';
  const password = props.password ?? null;

  /** ConnectionFactoryImpl.tryConnect(): one socket (two, after an 'E'), SSL as the mode says, startup, authentication. */
  const tryConnect = async (mode: PgjdbcSslMode): Promise<TryResult> => {
    let opened = await openSocket(env, props.host, props.port);
    if (!opened.ok) {
      log.add('plain', false, 'connect-failed', { message: opened.message });
      return { ok: false, thrown: { kind: 'io', message: opened.message, connectRefused: opened.code === 'ECONNREFUSED' } };
    }
    let sock = opened.sock;
    let encryption: Encryption = 'plain';
    let sslRequested = false;
    const requireEncryption = mode === 'require' || mode === 'verify-ca' || mode === 'verify-full';

    // enableSSL()
    if (mode !== 'disable' && mode !== 'allow') {
      let goTls = props.sslNegotiation === 'direct';
      if (!goTls) {
        sslRequested = true;
        sock.send({ type: 'SSLRequest' });
        const answer = await sock.readByte();
        if (answer === null) {
          log.add('ssl', true, 'closed');
          sock.destroy();
          return { ok: false, thrown: { kind: 'io', message: 'EOF', connectRefused: false } };
        }
        if (answer === 0x53) {
          goTls = true;
        } else if (answer === 0x4e || answer === 0x45) {
          if (requireEncryption) {
            log.add('ssl', true, answer === 0x4e ? 'ssl-refused' : 'ssl-error-response', { message: 'The server does not support SSL.' });
            sock.destroy();
            return { ok: false, thrown: { kind: 'sql', sqlstate: '08004', message: 'The server does not support SSL.' } };
          }
          if (answer === 0x45) {
            // An error instead of an answer: give up this socket and open a fresh one, in plaintext.
            log.add('ssl', true, 'ssl-error-response');
            sock.destroy();
            opened = await openSocket(env, props.host, props.port);
            if (!opened.ok) {
              log.add('plain', false, 'connect-failed', { message: opened.message });
              return { ok: false, thrown: { kind: 'io', message: opened.message, connectRefused: opened.code === 'ECONNREFUSED' } };
            }
            sock = opened.sock;
            sslRequested = false;
          }
        } else {
          log.add('ssl', true, 'ssl-error-response', { message: 'An error occurred while setting up the SSL connection.' });
          sock.destroy();
          return { ok: false, thrown: { kind: 'sql', sqlstate: '08P01', message: 'An error occurred while setting up the SSL connection.' } };
        }
      }
      if (goTls) {
        encryption = 'ssl';
        const tlsOptions: tls.ConnectionOptions = { rejectUnauthorized: false };
        if (net.isIP(props.host) === 0) tlsOptions.servername = props.host;
        if (props.sslNegotiation === 'direct') tlsOptions.ALPNProtocols = ['postgresql'];
        if (mode === 'verify-ca' || mode === 'verify-full') {
          // LibPQFactory: the root certificate file, ~/.postgresql/root.crt unless sslrootcert says otherwise.
          const root = props.sslrootcert ?? (env.homeDir ? path.join(env.homeDir, '.postgresql', 'root.crt') : null);
          const pem = root ? readFile(root) : null;
          if (pem === null) {
            const message = `Could not open SSL root certificate file ${root ?? ''}.`;
            log.add('ssl', sslRequested, 'tls-failed', { message });
            sock.destroy();
            return { ok: false, thrown: { kind: 'sql', sqlstate: '08006', message } };
          }
          tlsOptions.ca = pem;
          tlsOptions.rejectUnauthorized = true;
          tlsOptions.checkServerIdentity = () => undefined;
        }
        const r = await sock.startTls(tlsOptions);
        if (!r.ok) {
          // MakeSSL.convert(): IOExceptions become PSQLException "SSL error: ..." (08006), so no retry.
          // An untrusted chain is the JDK's PKIX failure; other failures keep Node's text (approximate).
          const untrusted = r.error.code !== undefined && UNTRUSTED_CHAIN.has(r.error.code);
          const message = `SSL error: ${untrusted ? PKIX_FAILURE : r.error.message}`;
          log.add('ssl', sslRequested, 'tls-failed', { message });
          return { ok: false, thrown: { kind: 'sql', sqlstate: '08006', message } };
        }
        if (mode === 'verify-full' && r.peerCertificate) {
          const { X509Certificate } = await import('node:crypto');
          const cert = new X509Certificate(r.peerCertificate);
          const matches = net.isIP(props.host) ? cert.checkIP(props.host) !== undefined : cert.checkHost(props.host) !== undefined;
          if (!matches) {
            const message = `The hostname ${props.host} could not be verified by hostnameverifier PgjdbcHostnameVerifier.`;
            log.add('ssl', sslRequested, 'tls-failed', { message });
            sock.destroy();
            return { ok: false, thrown: { kind: 'sql', sqlstate: '08006', message } };
          }
        }
      }
    }

    // sendStartupPacket()
    const params: StartupParam[] = [
      ['user', props.user], ['database', props.database], ['client_encoding', 'UTF8'], ['DateStyle', 'ISO'],
      ['TimeZone', props.timeZone ?? 'UTC'],
    ];
    if (versionNum(props.assumeMinServerVersion) >= 90000) params.push(['application_name', props.ApplicationName ?? 'PostgreSQL JDBC Driver']);
    sock.send(startupMessage(params));

    // doAuthentication(), then readStartupMessages() up to ReadyForQuery.
    let scram: DriverScram | null = null;
    const fail = (thrown: Thrown, outcome: 'server-error' | 'client-hangup' | 'closed', extra: { sqlstate?: string; message?: string } = {}): TryResult => {
      log.add(encryption, sslRequested, outcome, extra);
      // closeStream(): the socket just goes, no Terminate.
      sock.destroy();
      return { ok: false, thrown };
    };
    const noPassword = (what: 'SCRAM-based' | 'password-based'): TryResult => {
      const message = what === 'SCRAM-based'
        ? 'The server requested SCRAM-based authentication, but no password was provided.'
        : 'The server requested password-based authentication, but no password was provided by plugin null';
      return fail({ kind: 'sql', sqlstate: '08004', message }, 'client-hangup', { message });
    };
    for (;;) {
      const ev: AuthEvent = await nextAuthEvent(sock);
      const next: TryResult | null = match(ev)
        .with({ e: 'cleartext' }, (): TryResult | null => {
          if (password === null) return noPassword('password-based');
          sock.send({ type: 'PasswordMessage', password });
          return null;
        })
        .with({ e: 'md5' }, ({ salt }): TryResult | null => {
          if (password === null) return noPassword('password-based');
          sock.send({ type: 'PasswordMessage', password: md5ClientResponse(props.user, password, salt) });
          return null;
        })
        .with({ e: 'sasl' }, ({ mechanisms }): TryResult | null => {
          if (password === null) return noPassword('SCRAM-based');
          const canBind = channelBinding !== 'disable' && sock.sslInUse && sock.peerCertificate !== null;
          const plus = canBind && mechanisms.includes('SCRAM-SHA-256-PLUS');
          if (channelBinding === 'require' && !plus) {
            const message = `Channel Binding is required, but the negotiated SCRAM mechanism "SCRAM-SHA-256" does not use channel binding.`;
            return fail({ kind: 'sql', sqlstate: '08004', message }, 'client-hangup', { message });
          }
          const mechanism = plus ? 'SCRAM-SHA-256-PLUS' : 'SCRAM-SHA-256';
          scram = new DriverScram({
            mechanism, gs2: plus ? 'p' : canBind ? 'y' : 'n', username: '*', nonceBytes: 24, saslprep: true, random,
            ...(plus ? { channelBindingData: tlsServerEndPointHash(sock.peerCertificate!) } : {}),
          });
          sock.send({ type: 'SASLInitialResponse', mechanism, data: scram.clientFirst() });
          return null;
        })
        .with({ e: 'sasl-continue' }, ({ data }): TryResult | null => {
          const out = scram?.serverFirst(data, password ?? '');
          if (!out || 'error' in out) return fail({ kind: 'sql', sqlstate: '08P01', message: 'Invalid server-first-message' }, 'client-hangup');
          sock.send({ type: 'SASLResponse', data: out });
          return null;
        })
        .with({ e: 'sasl-final' }, ({ data }): TryResult | null => {
          if (scram?.serverFinalVerifies(data)) return null;
          return fail({ kind: 'sql', sqlstate: '08P01', message: 'Invalid server-final-message' }, 'client-hangup');
        })
        .with({ e: 'auth-ok' }, { e: 'info' }, () => null)
        .with({ e: 'ready' }, (): TryResult => {
          log.add(encryption, sslRequested, 'authenticated');
          return { ok: true, sock };
        })
        .with({ e: 'error' }, ({ fields }): TryResult =>
          fail({ kind: 'sql', sqlstate: fields.code, message: pgjdbcServerMessage(fields) }, 'server-error', { sqlstate: fields.code, message: fields.message }))
        .with({ e: 'eof' }, (): TryResult => fail({ kind: 'io', message: 'EOF', connectRefused: false }, 'closed'))
        .with({ e: 'garbage' }, ({ reason }): TryResult => fail({ kind: 'sql', sqlstate: '08P01', message: reason }, 'closed', { message: reason }))
        .exhaustive();
      if (next) return next;
    }
  };

  const step = (st: Extract<State, { s: 'try' }>): Promise<State> => match(st)
    .with({ s: 'try' }, async ({ mode, first }): Promise<State> => {
      const r = await tryConnect(mode);
      if (r.ok) return { s: 'done', ok: true, sock: r.sock };
      if (first !== null) return { s: 'done', ok: false, thrown: first };
      const t = r.thrown;
      const retryAs = match(t)
        .with({ kind: 'sql' }, ({ sqlstate }): PgjdbcSslMode | null =>
          sqlstate === '28000' && mode === 'prefer' ? 'disable' : sqlstate === '28000' && mode === 'allow' ? 'require' : null)
        // Only allow reacts to an IOException (prefer needs a SocketTimeoutException, which the model never raises).
        .with({ kind: 'io' }, (): PgjdbcSslMode | null => (mode === 'allow' ? 'require' : null))
        .exhaustive();
      return retryAs ? { s: 'try', mode: retryAs, first: t } : { s: 'done', ok: false, thrown: t };
    })
    .exhaustive();

  let state: State = { s: 'try', mode: modeOrError, first: null };
  while (state.s !== 'done') state = await step(state);

  if (state.ok) {
    if (!opts.keepOpen) await state.sock.terminate();
    return { driver, ok: true, attempts: log.attempts };
  }
  const t = state.thrown;
  const error: DriverError = t.kind === 'sql'
    ? { message: t.message, code: t.sqlstate, name: 'PSQLException' }
    : {
      message: t.connectRefused
        ? `Connection to ${props.host}:${props.port} refused. Check that the hostname and port are correct and that the postmaster is accepting TCP/IP connections.`
        : 'The connection attempt failed.',
      code: '08001',
      name: 'PSQLException',
    };
  return { driver, ok: false, attempts: log.attempts, error };
}
