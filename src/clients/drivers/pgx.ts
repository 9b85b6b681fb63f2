/**
 * pgx v4 (4.15.0, Debian golang-github-jackc-pgx-v4-dev) connecting with
 * `pgx.Connect(ctx, connString)`. pgx v4 hands the string to pgconn 1.11.0 (Debian
 * golang-github-jackc-pgconn-dev) and adds nothing before or after the connection is up
 * (pgx conn.go:131-135 ParseConfig, conn.go:189-247 connect). The rules, with the pgconn
 * 1.11.0 lines they come from (/usr/share/gocode/src/github.com/jackc/pgconn):
 *
 * 1. sslmode: the connection string, else PGSSLMODE, else "prefer" (config.go:571-574; env
 *    config.go:362-391; a value must be non-empty to count).
 * 2. Each sslmode is a list of fallback configs, and each config is a NEW TCP connection
 *    (config.go:665-674, 305-318): disable → [plain]; allow → [plain, TLS]; prefer → [TLS,
 *    plain]; require/verify-ca/verify-full → [TLS]. allow/prefer never verify (config.go:581-582);
 *    require checks the chain like verify-ca once sslrootcert is set (config.go:583-590), and
 *    sslrootcert defaults to ~/.postgresql/root.crt of the OS user's passwd home when that file
 *    exists (defaults.go:34-37); verify-ca checks the chain only, in VerifyPeerCertificate
 *    (config.go:595-628); verify-full is Go's full check with ServerName = host (config.go:629-630).
 *    An unreadable sslrootcert or any other sslmode word fails in ParseConfig, before any
 *    connection (config.go:631-650).
 * 3. Each host is looked up, and every address gets the host's configs (pgconn.go:140-148, 180-223).
 * 4. The chain moves on after ANY error except a *PgError with SQLSTATE 28P01 or 28000
 *    (pgconn.go:151-163). Only ErrorResponses read by connect()'s own loop arrive as a bare
 *    *PgError (pgconn.go:286-291, 340-342): one read inside the SCRAM exchange is wrapped as
 *    "failed SASL auth" (pgconn.go:314-319) and the chain goes on. So under allow/prefer a wrong
 *    or missing password costs TWO logins with scram-sha-256 and ONE with md5 or password, and a
 *    missing pg_hba.conf entry (28000, sent before authentication) stops at once.
 * 5. A TLS config sends SSLRequest; anything but 'S' is "server refused TLS connection" and the
 *    next config (pgconn.go:357-372, 246-252). The handshake itself runs when the startup
 *    message is written (pgconn.go:280-283): a certificate failure is "failed to write startup
 *    message (x509: ...)".
 * 6. Startup: the settings that are not pgconn's own (application_name, ...), user, database
 *    (config.go:250-274, pgconn.go:265-278). No password is the empty one: cleartext sends "",
 *    md5 hashes "", SCRAM runs with "" (config.go:231, pgconn.go:300-319).
 * 7. SCRAM-SHA-256 only (no channel binding), `n=` with no name, an 18-byte nonce, the password
 *    through precis.OpaqueString (auth_scram.go:30, 123-141, 154-157); the model uses SASLprep,
 *    which agrees for every password the specs use.
 * 8. The error returned is the last config's (pgconn.go:165-167): a connectError "failed to
 *    connect to `host=H user=U database=D`: MSG (ERR)" naming the FIRST host (errors.go:66-75),
 *    around a PgError "SEVERITY: message (SQLSTATE code)" (errors.go:51-53).
 * 9. A read error (the server closed without a word) makes receiveMessage() call asyncClose():
 *    a goroutine sends a CancelRequest on one more TCP connection (pgconn.go:508-519, 608-630,
 *    862-888) while the chain goes on. No hook call; the model sends PID 0 and key 0 (it does
 *    not keep BackendKeyData, which comes only after authentication).
 *
 * Not modelled: ~/.pgpass and service files (the model assumes none), target_session_attrs (its
 * ValidateConnect query), connect_timeout, Unix sockets, client certificates (sslcert/sslkey).
 * Checked case by case against the real pgx built on this machine: spec/clients/go-drivers.spec.ts.
 *
 * A policy file over engine.ts: the fallback configs are the attempts, `next` is pgconn's loop.
 */
import * as path from 'node:path';
import type * as tls from 'node:tls';
import { md5ClientResponse } from '../../common/md5.js';
import type { ErrorFields, StartupParam } from '../../wire/codec.js';
import { environOf, readFileOf, refusedBeforeConnecting, runDriver, sourceTable, src, type AttemptSpec, type AuthResponder, type Failure } from './engine.js';
import { goHandshakeCheck, goTlsError } from './go-tls.js';
import { DriverScram } from './scram.js';
import type { DriverEnv, DriverResult } from './types.js';

export const PGX_VERSION = 'pgx 4.15.0 (pgconn 1.11.0, pgproto3 2.2.0), Go 1.19';
export const PGX_SSLMODES = ['disable', 'allow', 'prefer', 'require', 'verify-ca', 'verify-full'] as const;
export type PgxSslMode = typeof PGX_SSLMODES[number];

const V = 'pgconn 1.11.0 (pgx 4.15.0)';
const PGCONN = 'pgconn/pgconn.go';
const SCRAM = 'pgconn/auth_scram.go';
/** Where each step lives in pgconn 1.11.0 (/usr/share/gocode/src/github.com/jackc/pgconn). */
const SOURCES = sourceTable(V, PGCONN, {
  connect: ['connect', 233],
  'ssl-request': ['startTLS', 358],
  'ssl-answer': ['startTLS', 368],
  tls: ['connect', 280],
  startup: ['connect', 265],
  'auth-cleartext': ['connect', 302],
  'auth-md5': ['connect', 308],
  'auth-sasl': [SCRAM, 'scramAuth', 33],
  'auth-sasl-continue': [SCRAM, 'scramAuth', 54],
  'auth-sasl-final': [SCRAM, 'scramAuth', 73],
  'server-error': ['connect', 340],
  ready: ['connect', 321],
  retry: ['ConnectConfig', 151],
  'give-up': ['ConnectConfig', 165],
});
const PARSE = src(V, 'pgconn/config.go', 'ParseConfig', 191);
const STOP_CODES = src(V, PGCONN, 'ConnectConfig', 159);
const ASYNC_CLOSE = src(V, PGCONN, 'asyncClose', 616);
const SASL_WRAPS = src(V, PGCONN, 'connect', 318);

/** pgconn's settings map, by its own key names (database, not dbname). */
export type PgxSettings = Readonly<Record<string, string>>;

/** The keys ParseConfig keeps for itself; every other setting goes into the startup message (config.go:250-274). */
const NOT_RUNTIME_PARAMS = new Set([
  'host', 'port', 'database', 'user', 'password', 'passfile', 'connect_timeout', 'sslmode', 'sslkey', 'sslcert',
  'sslrootcert', 'target_session_attrs', 'min_read_buffer_size', 'service', 'servicefile',
]);
/** pgx.ParseConfig takes these out of RuntimeParams (pgx conn.go:140-176). */
const PGX_OWN = new Set(['statement_cache_capacity', 'statement_cache_mode', 'prefer_simple_protocol']);

/** parseEnvSettings() (config.go:362-391): PG* variables, only when non-empty. */
const ENV_SETTINGS: Record<string, string> = {
  PGHOST: 'host', PGPORT: 'port', PGDATABASE: 'database', PGUSER: 'user', PGPASSWORD: 'password', PGPASSFILE: 'passfile',
  PGAPPNAME: 'application_name', PGCONNECT_TIMEOUT: 'connect_timeout', PGSSLMODE: 'sslmode', PGSSLKEY: 'sslkey',
  PGSSLCERT: 'sslcert', PGSSLROOTCERT: 'sslrootcert', PGTARGETSESSIONATTRS: 'target_session_attrs', PGSERVICE: 'service',
  PGSERVICEFILE: 'servicefile',
};

/** How one fallback config sets up TLS: null is plaintext. */
interface TlsPlan {
  verify: 'none' | 'chain' | 'full';
  /** The RootCAs pool (PEM); null is the system pool. */
  ca: Buffer | null;
}
/** `host` is the address dialled; `name` the host the connection string named (TLS checks it). */
interface FallbackConfig { host: string; name: string; port: number; tls: TlsPlan | null }

/** What connect() returned for one fallback config. */
type PgxFailure =
  /** A bare *PgError: the only kind that can stop the chain. */
  | { kind: 'pg'; fields: ErrorFields }
  /** A connectError: its msg and the wrapped error's text (a wrapped PgError keeps its fields, for errors.As). */
  | { kind: 'connect'; msg: string; inner: string | null; pg?: ErrorFields };

export interface PgxModelOptions {
  driverName?: string;
  /** Leave the connection open (the result's attempts say it authenticated). */
  keepOpen?: boolean;
}

/** PgError.Error() (errors.go:51-53). */
export function pgxPgErrorText(f: ErrorFields): string {
  return `${f.severity}: ${f.message} (SQLSTATE ${f.code})`;
}

/** redactPW() for a URL (errors.go:193-219): the password becomes xxxxx. */
function redact(connString: string): string {
  return connString.replace(/^(postgres(?:ql)?:\/\/[^:@/]*):[^@/]*@/, '$1:xxxxx@');
}

/**
 * pgconn.ParseConfig(): the merged settings (defaults < PG* variables < connection string,
 * config.go:192-218) and the fallback configs, or the parse error text.
 */
export function pgxConfig(conn: PgxSettings, env: DriverEnv, connString: string):
  { ok: true; settings: Record<string, string>; fallbacks: FallbackConfig[]; runtimeParams: StartupParam[] } | { ok: false; message: string } {
  const readFile = readFileOf(env);
  const defaults: Record<string, string> = { host: 'localhost', port: '5432', target_session_attrs: 'any', min_read_buffer_size: '8192' };
  // defaults.go:20-37: the OS user's home; root.crt counts only when it exists.
  if (env.homeDir) {
    const root = path.join(env.homeDir, '.postgresql', 'root.crt');
    if (readFile(root) !== null) defaults.sslrootcert = root;
  }
  const fromEnv: Record<string, string> = {};
  for (const [k, v] of Object.entries(environOf(env))) if (ENV_SETTINGS[k] && v) fromEnv[ENV_SETTINGS[k]!] = v;
  const settings: Record<string, string> = { ...defaults, ...fromEnv, ...conn };
  const fail = (msg: string, err: string) => ({ ok: false as const, message: `cannot parse \`${redact(connString)}\`: ${msg} (${err})` });

  const runtimeParams: StartupParam[] = Object.entries(settings).filter(([k]) => !NOT_RUNTIME_PARAMS.has(k) && !PGX_OWN.has(k));
  const hosts = settings.host!.split(',');
  const ports = settings.port!.split(',');
  const fallbacks: FallbackConfig[] = [];
  for (const [i, host] of hosts.entries()) {
    const port = Number(ports[i] ?? ports[0]);
    if (!Number.isInteger(port) || port < 1 || port > 65535) return fail('invalid port', `strconv.ParseUint: parsing "${ports[i] ?? ports[0]}": invalid syntax`);
    const plans = configTls(settings, readFile);
    if ('error' in plans) return fail('failed to configure TLS', plans.error);
    for (const plan of plans) fallbacks.push({ host, name: host, port, tls: plan });
  }
  return { ok: true, settings, fallbacks, runtimeParams };
}

/** configTLS() (config.go:564-675). */
function configTls(settings: Record<string, string>, readFile: ReturnType<typeof readFileOf>): Array<TlsPlan | null> | { error: string } {
  const sslmode = settings.sslmode || 'prefer';
  const sslrootcert = settings.sslrootcert ?? '';
  const mode = PGX_SSLMODES.find((m) => m === sslmode);
  if (!mode) return { error: 'sslmode is invalid' };
  if (mode === 'disable') return [null];
  let ca: Buffer | null = null;
  if (sslrootcert !== '') {
    ca = readFile(sslrootcert);
    if (ca === null) return { error: `unable to read CA file: open ${sslrootcert}: no such file or directory` };
    if (!ca.toString('latin1').includes('-----BEGIN CERTIFICATE-----')) return { error: 'unable to add CA to cert pool' };
  }
  const verify: TlsPlan['verify'] = mode === 'allow' || mode === 'prefer' ? 'none'
    : mode === 'require' ? (sslrootcert !== '' ? 'chain' : 'none')
      : mode === 'verify-ca' ? 'chain' : 'full';
  const plan: TlsPlan = { verify, ca };
  if (mode === 'allow') return [null, plan];
  if (mode === 'prefer') return [plan, null];
  return [plan];
}

export async function connectPgx(conn: PgxSettings, env: DriverEnv, connString: string, opts: PgxModelOptions = {}): Promise<DriverResult> {
  const driver = opts.driverName ?? 'pgx';
  const config = pgxConfig(conn, env, connString);
  if (!config.ok) return refusedBeforeConnecting(driver, env, { message: config.message }, PARSE);
  const { settings } = config;
  const user = settings.user ?? '';
  const database = settings.database ?? '';
  const password = settings.password ?? '';
  const firstHost = config.fallbacks[0]!.host;
  const connectErrorText = (msg: string, inner: string | null) =>
    `failed to connect to \`host=${firstHost} user=${user} database=${database}\`: ${msg}${inner === null ? '' : ` (${inner})`}`;

  // expandWithIPs() (pgconn.go:180-227): every address of every config's host.
  const expanded: FallbackConfig[] = [];
  for (const fc of config.fallbacks) {
    let ips: string[];
    try {
      ips = env.transport.resolve ? await env.transport.resolve(fc.host) : [fc.host];
    } catch {
      return refusedBeforeConnecting(driver, env, { message: connectErrorText('hostname resolving error', `lookup ${fc.host}: no such host`) }, src(V, PGCONN, 'ConnectConfig', 143));
    }
    for (const ip of ips) expanded.push({ ...fc, host: ip });
  }
  const defaulted = settings.sslmode ? '' : ' (sslmode is not set: pgconn uses prefer, a TLS config, then a plaintext one)';
  const tlsWhy = (p: TlsPlan) => (p.verify === 'none' ? 'InsecureSkipVerify: no certificate check'
    : p.verify === 'chain' ? 'the chain checked in VerifyPeerCertificate, not the host name' : 'Go\'s full check, ServerName = the host');

  /** connect() (pgconn.go:229-350) for fallback config `i`. */
  const attempt = (i: number): AttemptSpec<PgxFailure> => {
    const fc = expanded[i]!;
    const plan = fc.tls;
    /** Inside scramAuth() every error, a server's FATAL included, comes back wrapped as "failed SASL auth". */
    let inSasl = false;
    const connectFail = (msg: string, inner: string | null, outcome: Failure<PgxFailure>['outcome'], pg?: ErrorFields): Failure<PgxFailure> => ({
      fail: { kind: 'connect', msg, inner, ...(pg ? { pg } : {}) }, outcome, socket: 'destroy',
      ...(pg ? { sqlstate: pg.code, message: pg.message } : inner !== null ? { message: inner } : {}),
      why: `connect() returns "${msg}${inner === null ? '' : ` (${inner})`}".`,
    });
    const saslFail = (inner: string): Failure<PgxFailure> => connectFail('failed SASL auth', inner, 'client-hangup');
    const auth: AuthResponder<PgxFailure> = {
      cleartext: () => ({ send: [{ type: 'PasswordMessage', password }], why: 'AuthenticationCleartextPassword: pgconn sends the password as it is ("" when there is none).' }),
      md5: (_ctx, salt) => ({ send: [{ type: 'PasswordMessage', password: md5ClientResponse(user, password, salt) }], why: 'AuthenticationMD5Password: pgconn sends md5(md5(password + user) + salt), with "" for a missing password.' }),
      sasl: (ctx, mechanisms) => {
        inSasl = true;
        if (!mechanisms.includes('SCRAM-SHA-256')) return saslFail('server does not support SCRAM-SHA-256');
        const scram = new DriverScram({ mechanism: 'SCRAM-SHA-256', gs2: 'n', username: '', nonceBytes: 18, saslprep: true, random: ctx.random });
        return {
          send: [{ type: 'SASLInitialResponse', mechanism: 'SCRAM-SHA-256', data: scram.clientFirst() }], scram,
          why: `AuthenticationSASL (${mechanisms.join(', ')}): pgconn takes SCRAM-SHA-256, never -PLUS; any error from here on is wrapped as "failed SASL auth", which does not stop the fallback chain.`,
        };
      },
      saslContinue: (ctx, data) => {
        const out = ctx.scram?.serverFirst(data, password);
        if (!out) return saslFail('expected AuthenticationSASLContinue message but received unexpected message');
        if ('error' in out) return saslFail(out.error === 'nonce' ? 'invalid SCRAM nonce: did not start with client nonce' : 'invalid SCRAM server-first-message received from server: did not include r=');
        return { send: [{ type: 'SASLResponse', data: out }], why: 'The server sent its SCRAM challenge: pgconn answers with the proof of the password.' };
      },
      saslFinal: (ctx, data) => {
        if (!ctx.scram?.serverFinalVerifies(data)) return saslFail('invalid SCRAM ServerSignature received from server');
        // scramAuth() has returned: what comes next (an error after AuthenticationOk) is connect()'s own, bare.
        inSasl = false;
        return { ok: true, why: "The server's SCRAM signature checks out; scramAuth() returns." };
      },
    };
    return {
      host: fc.host,
      port: fc.port,
      start: plan ? 'ssl-request' : 'plain',
      why: `Fallback config ${i + 1} of ${expanded.length}: ${plan ? 'TLS, so SSLRequest first' : 'plaintext'}${i === 0 ? defaulted : ''}.`,
      connectFailed: (code) => {
        const addr = fc.host.includes(':') ? `[${fc.host}]:${fc.port}` : `${fc.host}:${fc.port}`;
        return connectFail('dial error', `dial tcp ${addr}: connect: ${code === 'ECONNREFUSED' ? 'connection refused' : code}`, 'connect-failed');
      },
      sslAnswer: (answer) => {
        if (answer === null) return { then: 'fail', ...connectFail('tls error', 'EOF', 'closed') };
        if (answer === 0x53) return { then: 'tls' };
        return {
          then: 'fail', ...connectFail('tls error', 'server refused TLS connection', answer === 0x4e ? 'ssl-refused' : 'ssl-error-response'),
          why: `The server answered ${answer === 0x4e ? 'N' : `'${String.fromCharCode(answer)}'`}: startTLS() returns "server refused TLS connection" and this config has failed.`,
        };
      },
      tls: () => {
        // Go checks inside the handshake: verify-full the name the connection string gave
        // (ServerName = host, config.go:630) and the chain; verify-ca (and require with a root
        // certificate) the chain alone, in VerifyPeerCertificate (config.go:601-627).
        const options: tls.ConnectionOptions = { rejectUnauthorized: false, checkServerIdentity: () => undefined };
        if (plan!.ca) options.ca = plan!.ca;
        return { options, why: tlsWhy(plan!), ...(plan!.verify === 'none' ? {} : { verify: goHandshakeCheck(plan!.verify === 'full' ? fc.name : null) }) };
      },
      // The handshake runs when the startup message is written.
      tlsFailed: (e) => connectFail('failed to write startup message', goTlsError(e), 'tls-failed'),
      startup: () => [...config.runtimeParams, ['user', user], ...(database !== '' ? [['database', database] as StartupParam] : [])],
      auth,
      serverError: (fields) => (inSasl
        ? { ...connectFail('failed SASL auth', pgxPgErrorText(fields), 'server-error', fields), source: SASL_WRAPS }
        : { fail: { kind: 'pg', fields }, outcome: 'server-error', sqlstate: fields.code, message: fields.message, socket: 'destroy', why: `connect() returns the server's *PgError (SQLSTATE ${fields.code}).` }),
      // A read error (not a FATAL) makes receiveMessage() call asyncClose(): a goroutine sends a
      // CancelRequest on a new connection to the same address (pgconn.go:508-519, 608-630, 862-888),
      // with the PID and key of BackendKeyData (0 and 0 here: the model does not keep them).
      closed: () => ({
        ...(inSasl ? saslFail('unexpected EOF') : connectFail('failed to receive message', 'unexpected EOF', 'closed')),
        source: ASYNC_CLOSE,
        cleanup: async (open) => {
          const cancel = await open(fc.host, fc.port);
          if (!cancel) return;
          cancel.send({ type: 'CancelRequest', pid: 0, key: Buffer.alloc(4) });
          await cancel.readByte();
          cancel.destroy();
        },
      }),
      garbage: () => connectFail('received unexpected message', null, 'client-hangup'),
    };
  };

  return runDriver<PgxFailure>({
    driver, sources: SOURCES, first: attempt(0),
    // ConnectConfig()'s loop (pgconn.go:151-163).
    next: (end, history) => {
      const f = end.failure.fail;
      if (f.kind === 'pg' && (f.fields.code === '28P01' || f.fields.code === '28000')) {
        return { stop: true, why: `A bare *PgError with SQLSTATE ${f.fields.code} stops the fallback chain.`, source: STOP_CODES };
      }
      const i = history.length;
      if (i >= expanded.length) return { stop: true, why: 'No fallback config is left: pgx returns this last error.' };
      const not = f.kind === 'pg' ? `SQLSTATE ${f.fields.code} is neither 28P01 nor 28000` : 'that is not a *PgError';
      return { retry: attempt(i), why: `${not}: pgconn goes on to fallback config ${i + 1} (${expanded[i]!.tls ? 'TLS' : 'plaintext'}) on a new connection.` };
    },
    report: (f) => (f.kind === 'pg'
      ? { message: connectErrorText('server error', pgxPgErrorText(f.fields)), code: f.fields.code }
      : { message: connectErrorText(f.msg, f.inner), ...(f.pg ? { code: f.pg.code } : {}) }),
    ...(opts.keepOpen ? { keepOpen: true } : {}),
  }, env);
}
