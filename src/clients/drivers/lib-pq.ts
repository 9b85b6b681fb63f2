/**
 * lib/pq 1.10.7 (Debian golang-github-lib-pq-dev) connecting through database/sql:
 * `sql.Open("postgres", dsn)` then `db.PingContext(ctx)`, as applications do. The rules, with
 * the lines they come from (/usr/share/gocode/src/github.com/lib/pq):
 *
 * 1. Settings: host localhost, port 5432, extra_float_digits 2, then PG* variables (even empty
 *    ones), then the DSN or URL (connector.go:47-73; conn.go:1977-2047). client_encoding is
 *    forced to UTF8 and datestyle to "ISO, MDY" (connector.go:84-101).
 * 2. sslmode unset means "require" (ssl.go:20-21): TLS without verification, and NO plaintext
 *    fallback of any kind. Only disable, require, verify-ca and verify-full exist: allow and
 *    prefer are refused with `pq: unsupported sslmode "prefer"; only "require" (default),
 *    "verify-full", "verify-ca", and "disable" supported` (ssl.go:50-51), and that happens
 *    AFTER the TCP connection is open (conn.go:356-367): the server sees a connection that
 *    sends nothing.
 * 3. require checks the chain once sslrootcert names a file that exists (ssl.go:33-39);
 *    verify-ca always checks (ssl.go:41-45); both check it after the handshake, against
 *    `DNSName: ServerName` (ssl.go:82-87, 185-204), and ServerName is the host whenever sslsni
 *    is unset or starts with "1" (ssl.go:53-62): so require+sslrootcert and verify-ca check the
 *    host name too, as verify-full does (ssl.go:46-47, in the handshake). When the check after
 *    the handshake fails, the raw connection is not closed (upgrade() returned nil over cn.c,
 *    conn.go:1117 and 361-366): it goes when the process exits.
 * 4. SSLRequest, one byte: anything but 'S' is `pq: SSL is not enabled on the server`
 *    (conn.go:1090-1118, ErrSSLNotSupported conn.go:33).
 * 5. Startup: every setting that is not the driver's own (conn.go:1124-1147), so user,
 *    database, client_encoding, datestyle, extra_float_digits and e.g. application_name
 *    (conn.go:1149-1172).
 * 6. Authentication (conn.go:1192-1327): no password is the empty one. Cleartext sends it, md5
 *    hashes it, SASL always answers SCRAM-SHA-256 (the list is not read) with n=<user>, a
 *    16-byte nonce and the password as is, no SASLprep (scram/scram.go:131-151).
 * 7. Every ErrorResponse ends the attempt as *pq.Error, "pq: " + message (conn.go:1030-1053,
 *    error.go:452-454); an early close is io.EOF, "EOF". database/sql retries an open only after
 *    driver.ErrBadConn, which lib/pq's open never returns: one connect, one TCP connection.
 * 8. PingContext then runs the simple query ";" (conn_go18.go:90-100); db.Close() sends Terminate.
 *
 * Not modelled: the Ping's ";" (it follows ReadyForQuery and changes no hook call or connection
 * count; the model sends Terminate at once), ~/.pgpass (the model assumes none), client
 * certificates (sslcert/sslkey and ~/.postgresql/postgresql.crt), sslinline, connect_timeout,
 * Unix sockets, Kerberos, Go's dialer racing several addresses of one name (the model dials the
 * first). The leaked connection of rule 3 is closed at once (FIN) by the model.
 * Checked case by case against the real lib/pq built on this machine: spec/clients/go-drivers.spec.ts.
 *
 * A policy file over engine.ts: one attempt, no `next`.
 */
import type * as tls from 'node:tls';
import { md5ClientResponse } from '../../common/md5.js';
import type { StartupParam } from '../../wire/codec.js';
import { environOf, readFileOf, refusedBeforeConnecting, runDriver, sourceTable, src, type AttemptSpec, type AuthResponder, type Failure } from './engine.js';
import { goCertificateCheck, goHandshakeCheck, goTlsError } from './go-tls.js';
import { DriverScram } from './scram.js';
import type { DriverEnv, DriverError, DriverResult } from './types.js';

export const LIBPQ_GO_VERSION = 'lib/pq 1.10.7 through database/sql, Go 1.19';
/** The sslmode words lib/pq accepts; allow and prefer are refused. */
export const LIBPQ_GO_SSLMODES = ['disable', 'require', 'verify-ca', 'verify-full'] as const;

const V = 'lib/pq 1.10.7';
/** Where each step lives in lib/pq 1.10.7 (/usr/share/gocode/src/github.com/lib/pq). */
const SOURCES = sourceTable(V, 'conn.go', {
  connect: ['open', 356],
  'ssl-request': ['ssl', 1102],
  'ssl-answer': ['ssl', 1113],
  tls: ['ssl', 1117],
  startup: ['startup', 1170],
  'auth-cleartext': ['auth', 1196],
  'auth-md5': ['auth', 1209],
  'auth-sasl': ['auth', 1277],
  'auth-sasl-continue': ['auth', 1300],
  'auth-sasl-final': ['auth', 1320],
  'server-error': ['recv', 1040],
  ready: ['startup', 1183],
  'give-up': ['open', 331],
});
const DEFAULT_REQUIRE = src(V, 'ssl.go', 'ssl', 21);
const UNSUPPORTED = src(V, 'ssl.go', 'ssl', 51);
const VERIFY_AFTER = src(V, 'ssl.go', 'ssl', 82);

/** Keys that never go into the startup message (isDriverSetting, conn.go:1124-1147). */
const DRIVER_SETTINGS = new Set([
  'host', 'port', 'password', 'sslmode', 'sslcert', 'sslkey', 'sslrootcert', 'sslinline', 'sslsni', 'fallback_application_name',
  'connect_timeout', 'disable_prepared_binary_result', 'binary_parameters', 'krbsrvname', 'krbspn',
]);

/** parseEnviron() (conn.go:1977-2047): the supported PG* variables and their keys. */
const ENVIRON: Record<string, string> = {
  PGHOST: 'host', PGPORT: 'port', PGDATABASE: 'dbname', PGUSER: 'user', PGPASSWORD: 'password', PGOPTIONS: 'options',
  PGAPPNAME: 'application_name', PGSSLMODE: 'sslmode', PGSSLCERT: 'sslcert', PGSSLKEY: 'sslkey', PGSSLROOTCERT: 'sslrootcert',
  PGSSLSNI: 'sslsni', PGCONNECT_TIMEOUT: 'connect_timeout', PGCLIENTENCODING: 'client_encoding', PGDATESTYLE: 'datestyle',
  PGTZ: 'timezone', PGGEQO: 'geqo',
};

/** lib/pq's option map, by its own key names (dbname, not database). */
export type LibPqGoValues = Readonly<Record<string, string>>;

export interface LibPqGoModelOptions {
  driverName?: string;
  keepOpen?: boolean;
}

/** The TLS plan ssl() makes: null is no SSLRequest at all. */
interface TlsPlan {
  /** When the certificate is checked: never, after the handshake (verifyCaOnly), or in it (verify-full). */
  check: 'none' | 'after-handshake' | 'in-handshake';
  /** The name checked (ServerName), or null for the chain alone. */
  name: string | null;
  ca: Buffer | null;
}

/** The values NewConnector() ends with (connector.go:47-120), or its error. */
export function libPqGoValues(dsn: LibPqGoValues, env: DriverEnv): { ok: true; o: Record<string, string> } | { ok: false; message: string } {
  const o: Record<string, string> = { host: 'localhost', port: '5432', extra_float_digits: '2' };
  for (const [k, v] of Object.entries(environOf(env))) if (ENVIRON[k] && v !== undefined) o[ENVIRON[k]!] = v;
  Object.assign(o, dsn);
  if (o.fallback_application_name !== undefined && o.application_name === undefined) o.application_name = o.fallback_application_name;
  if (o.client_encoding !== undefined && !['utf8', 'unicode'].includes(o.client_encoding.toLowerCase().replace(/[^a-z0-9]/g, ''))) {
    return { ok: false, message: "client_encoding must be absent or 'UTF8'" };
  }
  o.client_encoding = 'UTF8';
  if (o.datestyle !== undefined && o.datestyle !== 'ISO, MDY') return { ok: false, message: `setting datestyle must be absent or ISO, MDY; got ${o.datestyle}` };
  o.datestyle ??= 'ISO, MDY';
  if (o.user === undefined) return { ok: false, message: 'pq: Could not detect default username. Please provide one explicitly' };
  if (o.host!.startsWith('/')) o.sslmode = 'disable';
  return { ok: true, o };
}

/** ssl() (ssl.go:16-94): the plan, or its error text. */
function sslPlan(o: Record<string, string>, readFile: ReturnType<typeof readFileOf>): TlsPlan | null | { error: string } {
  const mode = o.sslmode ?? '';
  const sni = o.sslsni === undefined || o.sslsni === '' || o.sslsni.startsWith('1');
  const host = o.host!;
  let check: TlsPlan['check'];
  if (mode === '' || mode === 'require') {
    check = 'none';
    if (o.sslrootcert !== undefined) {
      if (readFile(o.sslrootcert) !== null) check = 'after-handshake';
      else delete o.sslrootcert;
    }
  } else if (mode === 'verify-ca') {
    check = 'after-handshake';
  } else if (mode === 'verify-full') {
    check = 'in-handshake';
  } else if (mode === 'disable') {
    return null;
  } else {
    return { error: `pq: unsupported sslmode "${mode}"; only "require" (default), "verify-full", "verify-ca", and "disable" supported` };
  }
  let ca: Buffer | null = null;
  if (o.sslrootcert) {
    ca = readFile(o.sslrootcert);
    if (ca === null) return { error: `open ${o.sslrootcert}: no such file or directory` };
    if (!ca.toString('latin1').includes('-----BEGIN CERTIFICATE-----')) return { error: "pq: couldn't parse pem in sslrootcert" };
  }
  return { check, name: sni || check === 'in-handshake' ? host : null, ca };
}

export async function connectLibPqGo(dsn: LibPqGoValues, env: DriverEnv, opts: LibPqGoModelOptions = {}): Promise<DriverResult> {
  const driver = opts.driverName ?? 'lib/pq';
  const parsed = libPqGoValues(dsn, env);
  if (!parsed.ok) return refusedBeforeConnecting(driver, env, { message: parsed.message }, src(V, 'connector.go', 'NewConnector', 47));
  const o = parsed.o;
  const host = o.host!;
  let addresses: string[];
  try {
    addresses = env.transport.resolve ? await env.transport.resolve(host) : [host];
  } catch {
    return refusedBeforeConnecting(driver, env, { message: `dial tcp: lookup ${host}: no such host` }, SOURCES.connect);
  }
  const address = addresses[0] ?? host;
  const port = Number(o.port);
  const modeWord = o.sslmode === undefined || o.sslmode === '' ? 'unset, so require' : o.sslmode;
  const plan = sslPlan(o, readFileOf(env));
  const password = o.password ?? '';

  const fail = (message: string, outcome: Failure<DriverError>['outcome'], extra: Partial<Failure<DriverError>> = {}): Failure<DriverError> => ({
    fail: { message, ...(extra.sqlstate ? { code: extra.sqlstate } : {}) }, outcome, message, socket: 'destroy', ...extra,
  });
  const auth: AuthResponder<DriverError> = {
    cleartext: () => ({ send: [{ type: 'PasswordMessage', password }], why: 'AuthenticationCleartextPassword: lib/pq sends the password as it is ("" when there is none).' }),
    md5: (_ctx, salt) => ({ send: [{ type: 'PasswordMessage', password: md5ClientResponse(o.user!, password, salt) }], why: 'AuthenticationMD5Password: lib/pq sends md5(md5(password + user) + salt), with "" for a missing password.' }),
    sasl: (ctx, mechanisms) => {
      // scram.Client: n=<user> with = and , escaped, a 16-byte nonce, the password as is (scram/scram.go:131-151).
      const user = o.user!.replace(/=/g, '=3D').replace(/,/g, '=2C');
      const scram = new DriverScram({ mechanism: 'SCRAM-SHA-256', gs2: 'n', username: user, nonceBytes: 16, saslprep: false, random: ctx.random });
      return {
        send: [{ type: 'SASLInitialResponse', mechanism: 'SCRAM-SHA-256', data: scram.clientFirst() }], scram,
        why: `AuthenticationSASL (${mechanisms.join(', ')}): lib/pq answers SCRAM-SHA-256 without reading the list.`,
      };
    },
    saslContinue: (ctx, data) => {
      const out = ctx.scram?.serverFirst(data, password);
      if (!out || 'error' in out) return fail('pq: SCRAM-SHA-256 error: server sent an invalid SCRAM-SHA-256 nonce', 'client-hangup');
      return { send: [{ type: 'SASLResponse', data: out }], why: 'The server sent its SCRAM challenge: lib/pq answers with the proof of the password.' };
    },
    saslFinal: (ctx, data) => (ctx.scram?.serverFinalVerifies(data)
      ? { ok: true, why: "The server's SCRAM signature checks out." }
      : fail('pq: SCRAM-SHA-256 error: server sent an invalid SCRAM-SHA-256 proof', 'client-hangup')),
  };

  const first: AttemptSpec<DriverError> = {
    host: address,
    port,
    start: plan && !('error' in plan) ? 'ssl-request' : 'plain',
    why: plan && !('error' in plan) ? `sslmode ${modeWord}: SSLRequest, with no plaintext fallback of any kind.` : 'sslmode=disable: the startup packet in plaintext.',
    connectFailed: (code) => {
      const addr = address.includes(':') ? `[${address}]:${port}` : `${address}:${port}`;
      return fail(`dial tcp ${addr}: connect: ${code === 'ECONNREFUSED' ? 'connection refused' : code}`, 'connect-failed');
    },
    // open() dials before ssl() reads sslmode (conn.go:356-367): a bad setting costs a connection that sends nothing.
    afterConnect: () => (plan && 'error' in plan
      ? { ...fail(plan.error, 'client-hangup'), why: `The connection is open, then ssl() refuses its settings (${plan.error}) and closes it without a word.`, source: plan.error.includes('unsupported sslmode') ? UNSUPPORTED : SOURCES.tls }
      : null),
    sslAnswer: (answer) => {
      if (answer === null) return { then: 'fail', ...fail('EOF', 'closed') };
      if (answer === 0x53) return { then: 'tls' };
      return { then: 'fail', ...fail('pq: SSL is not enabled on the server', answer === 0x4e ? 'ssl-refused' : 'ssl-error-response'), why: `The server answered ${answer === 0x4e ? 'N' : 'neither S nor N'}: ErrSSLNotSupported, and lib/pq has no plaintext fallback.` };
    },
    tls: () => {
      const p = plan as TlsPlan;
      const options: tls.ConnectionOptions = { rejectUnauthorized: false, checkServerIdentity: () => undefined };
      if (p.ca) options.ca = p.ca;
      const why = p.check === 'none' ? `InsecureSkipVerify, no check${o.sslmode ? '' : ' (sslmode unset is require)'}`
        : p.check === 'in-handshake' ? "Go's full check in the handshake, ServerName = the host"
          : `checked after the handshake against ${p.name === null ? 'the chain only (sslsni=0)' : `the chain and the name ${p.name}`}`;
      return { options, why, ...(p.check === 'in-handshake' ? { verify: goHandshakeCheck(p.name) } : {}) };
    },
    tlsFailed: (e) => fail(goTlsError(e), 'tls-failed'),
    afterTls: (_der, r) => {
      const p = plan as TlsPlan;
      if (p.check !== 'after-handshake') return null;
      const text = goCertificateCheck(p.name, r.peer, r.authorizationError ?? null);
      // The handshake is over (the server has the client's Finished); lib/pq does not close the connection.
      return text === null ? null : { ...fail(text, 'tls-failed'), socket: 'end', why: `sslVerifyCertificateAuthority() after the handshake: ${text}; the connection is left open.`, source: VERIFY_AFTER };
    },
    startup: (): StartupParam[] => Object.entries(o).filter(([k]) => !DRIVER_SETTINGS.has(k)).map(([k, v]) => [k === 'dbname' ? 'database' : k, v]),
    auth,
    serverError: (fields) => fail(`pq: ${fields.message}`, 'server-error', { sqlstate: fields.code, why: `ErrorResponse ${fields.code}: *pq.Error, and lib/pq never retries.` }),
    closed: () => fail('EOF', 'closed'),
    garbage: (reason) => fail(`pq: unknown response for startup: ${reason}`, 'client-hangup'),
  };
  return runDriver<DriverError>({
    driver, sources: { ...SOURCES, ...(o.sslmode ? {} : { 'ssl-request': DEFAULT_REQUIRE }) }, first,
    next: () => ({ stop: true, why: 'lib/pq makes one connection (database/sql retries only driver.ErrBadConn, which open() never returns).' }),
    report: (f) => f,
    ...(opts.keepOpen ? { keepOpen: true } : {}),
  }, env);
}
