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
 *    (config.go:591-628); verify-full is Go's full check with ServerName = host (config.go:629-630).
 *    An unreadable sslrootcert or any other sslmode word fails in ParseConfig, before any
 *    connection (config.go:631-650).
 * 3. Each host is looked up, and every address gets the host's configs (pgconn.go:140-148, 180-227).
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
 *    (config.go:254-275, pgconn.go:265-278). No password is the empty one: cleartext sends "",
 *    md5 hashes "", SCRAM runs with "" (config.go:231, pgconn.go:300-319).
 * 7. SCRAM-SHA-256 only (no channel binding), `n=` with no name, an 18-byte nonce, the password
 *    through precis.OpaqueString (auth_scram.go:30, 123-141, 154-157); the model uses SASLprep,
 *    which agrees for every password the specs use.
 * 8. The error returned is the last config's (pgconn.go:165-167): a connectError "failed to
 *    connect to `host=H user=U database=D`: MSG (ERR)" naming the FIRST host (errors.go:66-75),
 *    around a PgError "SEVERITY: message (SQLSTATE code)" (errors.go:51-53).
 *
 * Not modelled: ~/.pgpass and service files (the model assumes none), target_session_attrs (its
 * ValidateConnect query), connect_timeout, Unix sockets, client certificates (sslcert/sslkey).
 * Checked case by case against the real pgx built on this machine: spec/clients/go-drivers.spec.ts.
 */
import * as path from 'node:path';
import type * as tls from 'node:tls';
import { match } from 'ts-pattern';
import { md5ClientResponse } from '../../auth/secrets.js';
import type { ErrorFields, StartupParam } from '../../wire/codec.js';
import type { ClientDecision, SourceRef } from '../trace.js';
import { AttemptLog, environOf, nextAuthEvent, openSocket, randomOf, readFileOf, startupMessage, type AuthEvent } from './exchange.js';
import { goHandshakeCheck, goTlsError } from './go-tls.js';
import { DriverScram } from './scram.js';
import type { DriverEnv, DriverResult, Encryption } from './types.js';
import type { DriverSocket } from './wire.js';

export const PGX_VERSION = 'pgx 4.15.0 (pgconn 1.11.0, pgproto3 2.2.0), Go 1.19';
export const PGX_SSLMODES = ['disable', 'allow', 'prefer', 'require', 'verify-ca', 'verify-full'] as const;
export type PgxSslMode = typeof PGX_SSLMODES[number];

/** Where each rule lives, for the client-decision trace. */
const src = (file: string, line: number, fn?: string): SourceRef => ({ file: `pgconn/${file}`, line, ...(fn ? { function: fn } : {}), version: 'pgconn 1.11.0 (pgx 4.15.0)' });
const SRC = {
  defaultPrefer: src('config.go', 572, 'configTLS'),
  fallbackOrder: src('config.go', 665, 'configTLS'),
  chain: src('pgconn.go', 151, 'ConnectConfig'),
  stopCodes: src('pgconn.go', 159, 'ConnectConfig'),
  dial: src('pgconn.go', 233, 'connect'),
  sslRequest: src('pgconn.go', 358, 'startTLS'),
  refused: src('pgconn.go', 368, 'startTLS'),
  handshake: src('pgconn.go', 280, 'connect'),
  cleartext: src('pgconn.go', 302, 'connect'),
  md5: src('pgconn.go', 308, 'connect'),
  scram: src('auth_scram.go', 33, 'scramAuth'),
  ready: src('pgconn.go', 321, 'connect'),
} as const;

/** pgconn's settings map, by its own key names (database, not dbname). */
export type PgxSettings = Readonly<Record<string, string>>;

/** The keys ParseConfig keeps for itself; every other setting goes into the startup message (config.go:254-270). */
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

/** What connect() returned for one config. */
type ConnectErr =
  /** A bare *PgError. */
  | { kind: 'pg'; fields: ErrorFields }
  /** A connectError: msg and the wrapped error's text (a wrapped PgError keeps its fields, for errors.As). */
  | { kind: 'connect'; msg: string; inner: string | null; pg?: ErrorFields };

type AttemptResult = { ok: true; sock: DriverSocket } | { ok: false; err: ConnectErr };

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
  const verify: TlsPlan['verify'] = match(mode)
    .with('allow', 'prefer', () => 'none' as const)
    .with('require', () => (sslrootcert !== '' ? 'chain' as const : 'none' as const))
    .with('verify-ca', () => 'chain' as const)
    .with('verify-full', () => 'full' as const)
    .exhaustive();
  const plan: TlsPlan = { verify, ca };
  return match(mode)
    .with('allow', () => [null, plan])
    .with('prefer', () => [plan, null])
    .with('require', 'verify-ca', 'verify-full', () => [plan])
    .exhaustive();
}

export async function connectPgx(conn: PgxSettings, env: DriverEnv, connString: string, opts: PgxModelOptions = {}): Promise<DriverResult> {
  const driver = opts.driverName ?? 'pgx';
  const log = new AttemptLog();
  const random = randomOf(env);
  let attemptNo = 0;
  const decide = (decision: ClientDecision, reason: string, source: SourceRef) => {
    env.onDecision?.({ type: 'client-decision', time: env.clock?.now() ?? Date.now(), client: driver, attempt: attemptNo, decision, reason, source });
  };

  const config = pgxConfig(conn, env, connString);
  if (!config.ok) return { driver, ok: false, attempts: [], error: { message: config.message } };
  const { settings } = config;
  const user = settings.user ?? '';
  const database = settings.database ?? '';
  const password = settings.password ?? '';
  const firstHost = config.fallbacks[0]!.host;
  const connectErrorText = (msg: string, inner: string | null) =>
    `failed to connect to \`host=${firstHost} user=${user} database=${database}\`: ${msg}${inner === null ? '' : ` (${inner})`}`;

  // expandWithIPs(): every address of every config's host.
  const expanded: FallbackConfig[] = [];
  for (const fc of config.fallbacks) {
    let ips: string[];
    try {
      ips = env.transport.resolve ? await env.transport.resolve(fc.host) : [fc.host];
    } catch {
      return { driver, ok: false, attempts: [], error: { message: connectErrorText('hostname resolving error', `lookup ${fc.host}: no such host`) } };
    }
    for (const ip of ips) expanded.push({ ...fc, host: ip });
  }
  const unsetNote = settings.sslmode ? '' : ' (sslmode is not set: pgconn uses prefer, a TLS config, then a plaintext one)';

  /** connect(): one fallback config, one TCP connection. */
  const attempt = async (fc: FallbackConfig): Promise<AttemptResult> => {
    attemptNo++;
    const order = attemptNo === 1 && unsetNote ? SRC.defaultPrefer : SRC.dial;
    decide('connect', `fallback config ${attemptNo} of ${expanded.length}: ${fc.tls ? 'TLS' : 'plaintext'} to ${fc.host}:${fc.port}${attemptNo === 1 ? unsetNote : ''}`, order);
    const opened = await openSocket(env, fc.host, fc.port);
    if (!opened.ok) {
      log.add('plain', false, 'connect-failed', { message: opened.message });
      const addr = fc.host.includes(':') ? `[${fc.host}]:${fc.port}` : `${fc.host}:${fc.port}`;
      const why = opened.code === 'ECONNREFUSED' ? 'connection refused' : opened.code;
      return { ok: false, err: { kind: 'connect', msg: 'dial error', inner: `dial tcp ${addr}: connect: ${why}` } };
    }
    const sock = opened.sock;
    let encryption: Encryption = 'plain';
    const sslRequested = fc.tls !== null;
    const lose = (err: ConnectErr, outcome: 'server-error' | 'ssl-refused' | 'ssl-error-response' | 'tls-failed' | 'client-hangup' | 'closed', extra: { sqlstate?: string; message?: string } = {}): AttemptResult => {
      log.add(encryption, sslRequested, outcome, extra);
      sock.destroy();
      return { ok: false, err };
    };

    if (fc.tls) {
      decide('request-ssl', 'this fallback config has a TLS config: SSLRequest first', SRC.sslRequest);
      sock.send({ type: 'SSLRequest' });
      const answer = await sock.readByte();
      if (answer === null) return lose({ kind: 'connect', msg: 'tls error', inner: 'EOF' }, 'closed');
      if (answer !== 0x53) {
        decide('give-up', `the server answered '${String.fromCharCode(answer)}': "server refused TLS connection", this config failed`, SRC.refused);
        return lose({ kind: 'connect', msg: 'tls error', inner: 'server refused TLS connection' }, answer === 0x4e ? 'ssl-refused' : 'ssl-error-response');
      }
      encryption = 'ssl';
      // Go checks inside the handshake: verify-full the name the connection string gave
      // (ServerName = host, config.go:630) and the chain, verify-ca (and require with a root
      // certificate) the chain alone, in VerifyPeerCertificate (config.go:601-627).
      const options: tls.ConnectionOptions = { rejectUnauthorized: false, checkServerIdentity: () => undefined };
      if (fc.tls.ca) options.ca = fc.tls.ca;
      const check = fc.tls.verify === 'none' ? undefined : goHandshakeCheck(fc.tls.verify === 'full' ? fc.name : null);
      const r = await sock.startTls(options, check);
      if (!r.ok) {
        const text = goTlsError(r);
        decide('give-up', `the TLS handshake failed (${text}) when the startup message was written`, SRC.handshake);
        return lose({ kind: 'connect', msg: 'failed to write startup message', inner: text }, 'tls-failed', { message: text });
      }
    }

    sock.send(startupMessage([...config.runtimeParams, ['user', user], ...(database !== '' ? [['database', database] as StartupParam] : [])]));
    let scram: DriverScram | null = null;
    /** Inside scramAuth() every error, a server's FATAL included, is wrapped as "failed SASL auth". */
    const saslFail = (inner: string, pg?: ErrorFields): ConnectErr => ({ kind: 'connect', msg: 'failed SASL auth', inner, ...(pg ? { pg } : {}) });
    for (;;) {
      const ev: AuthEvent = await nextAuthEvent(sock);
      const r: AttemptResult | null = match(ev)
        .with({ e: 'cleartext' }, (): null => {
          decide('auth-response', 'AuthenticationCleartextPassword: the password as is ("" when there is none)', SRC.cleartext);
          sock.send({ type: 'PasswordMessage', password });
          return null;
        })
        .with({ e: 'md5' }, ({ salt }): null => {
          decide('auth-response', 'AuthenticationMD5Password: md5 of password+user, then of that and the salt', SRC.md5);
          sock.send({ type: 'PasswordMessage', password: md5ClientResponse(user, password, salt) });
          return null;
        })
        .with({ e: 'sasl' }, ({ mechanisms }): AttemptResult | null => {
          if (!mechanisms.includes('SCRAM-SHA-256')) return lose(saslFail('server does not support SCRAM-SHA-256'), 'client-hangup');
          decide('auth-response', `AuthenticationSASL (${mechanisms.join(', ')}): SCRAM-SHA-256, never -PLUS; an error from here on is wrapped and does not stop the fallback chain`, SRC.scram);
          scram = new DriverScram({ mechanism: 'SCRAM-SHA-256', gs2: 'n', username: '', nonceBytes: 18, saslprep: true, random });
          sock.send({ type: 'SASLInitialResponse', mechanism: 'SCRAM-SHA-256', data: scram.clientFirst() });
          return null;
        })
        .with({ e: 'sasl-continue' }, ({ data }): AttemptResult | null => {
          if (!scram) return lose({ kind: 'connect', msg: 'received unexpected message', inner: null }, 'client-hangup');
          const out = scram.serverFirst(data, password);
          if ('error' in out) {
            const text = out.error === 'nonce' ? 'invalid SCRAM nonce: did not start with client nonce' : 'invalid SCRAM server-first-message received from server: did not include r=';
            return lose(saslFail(text), 'client-hangup');
          }
          sock.send({ type: 'SASLResponse', data: out });
          return null;
        })
        .with({ e: 'sasl-final' }, ({ data }): AttemptResult | null => {
          if (scram?.serverFinalVerifies(data)) return null;
          return lose(saslFail('invalid SCRAM ServerSignature received from server'), 'client-hangup');
        })
        .with({ e: 'auth-ok' }, { e: 'info' }, () => null)
        .with({ e: 'ready' }, (): AttemptResult => {
          log.add(encryption, sslRequested, 'authenticated');
          decide('done', 'ReadyForQuery: connected', SRC.ready);
          return { ok: true, sock };
        })
        .with({ e: 'error' }, ({ fields }): AttemptResult => {
          const extra = { sqlstate: fields.code, message: fields.message };
          return lose(scram ? saslFail(pgxPgErrorText(fields), fields) : { kind: 'pg', fields }, 'server-error', extra);
        })
        .with({ e: 'eof' }, (): AttemptResult => lose(scram ? saslFail('unexpected EOF') : { kind: 'connect', msg: 'failed to receive message', inner: 'unexpected EOF' }, 'closed'))
        .with({ e: 'garbage' }, (): AttemptResult => lose({ kind: 'connect', msg: 'received unexpected message', inner: null }, 'client-hangup'))
        .exhaustive();
      if (r) return r;
    }
  };

  // ConnectConfig(): the fallback chain.
  let last: ConnectErr | null = null;
  let sock: DriverSocket | null = null;
  for (const [i, fc] of expanded.entries()) {
    const r = await attempt(fc);
    if (r.ok) {
      sock = r.sock;
      break;
    }
    last = r.err;
    const more = i + 1 < expanded.length;
    if (r.err.kind === 'pg') {
      const code = r.err.fields.code;
      if (code === '28P01' || code === '28000') {
        if (more) decide('give-up', `a *PgError with SQLSTATE ${code}: the fallback chain stops here`, SRC.stopCodes);
        break;
      }
    }
    if (more) {
      const why = r.err.kind === 'pg' ? `SQLSTATE ${r.err.fields.code} is not 28P01 or 28000` : `"${r.err.msg}" is not a *PgError`;
      decide('retry-new-connection', `${why}: on to fallback config ${i + 2} (${expanded[i + 1]!.tls ? 'TLS' : 'plaintext'}) on a new connection`, SRC.chain);
    }
  }

  if (sock) {
    if (!opts.keepOpen) await sock.terminate();
    return { driver, ok: true, attempts: log.attempts };
  }
  const err = last!;
  const pg = err.kind === 'pg' ? err.fields : err.pg;
  const message = err.kind === 'pg' ? connectErrorText('server error', pgxPgErrorText(err.fields)) : connectErrorText(err.msg, err.inner);
  return { driver, ok: false, attempts: log.attempts, error: { message, ...(pg ? { code: pg.code } : {}) } };
}
