/**
 * lib/pq 1.10.7 (Debian golang-github-lib-pq-dev) connecting through database/sql:
 * `sql.Open("postgres", dsn)` then `db.PingContext(ctx)`, as applications do. The rules, with
 * the lines they come from (/usr/share/gocode/src/github.com/lib/pq):
 *
 * 1. Settings: host localhost, port 5432, extra_float_digits 2, then PG* variables (even empty
 *    ones), then the DSN or URL (connector.go:47-73; conn.go:1975-2043). client_encoding is
 *    forced to UTF8 and datestyle to "ISO, MDY" (connector.go:84-101).
 * 2. sslmode unset means "require" (ssl.go:20-21): TLS without verification, and NO plaintext
 *    fallback of any kind. Only disable, require, verify-ca and verify-full exist: allow and
 *    prefer are refused with `pq: unsupported sslmode "prefer"; only "require" (default),
 *    "verify-full", "verify-ca", and "disable" supported` (ssl.go:50-51), and that happens
 *    AFTER the TCP connection is open (conn.go:356-367): the server sees a connection that
 *    sends nothing.
 * 3. require checks the chain once sslrootcert names a file that exists (ssl.go:33-39);
 *    verify-ca always checks (ssl.go:41-45); both check it after the handshake, against
 *    `DNSName: ServerName` (ssl.go:82-87, 185-201), and ServerName is the host whenever sslsni
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
 * Not modelled: ~/.pgpass (the model assumes none), client certificates (sslcert/sslkey and
 * ~/.postgresql/postgresql.crt), sslinline, connect_timeout, Unix sockets, Kerberos.
 * Checked case by case against the real lib/pq built on this machine: spec/clients/go-drivers.spec.ts.
 */
import type * as tls from 'node:tls';
import { match } from 'ts-pattern';
import { md5ClientResponse } from '../../auth/secrets.js';
import type { ErrorFields, StartupParam } from '../../wire/codec.js';
import type { ClientDecision, SourceRef } from '../trace.js';
import { AttemptLog, environOf, nextAuthEvent, openSocket, randomOf, readFileOf, startupMessage, type AuthEvent } from './exchange.js';
import { goCertificateCheck, goHandshakeCheck, goTlsError } from './go-tls.js';
import { DriverScram } from './scram.js';
import type { AttemptOutcome, DriverEnv, DriverResult, Encryption } from './types.js';
import type { DriverSocket } from './wire.js';

export const LIBPQ_GO_VERSION = 'lib/pq 1.10.7 through database/sql, Go 1.19';
/** The sslmode words lib/pq accepts; allow and prefer are refused. */
export const LIBPQ_GO_SSLMODES = ['disable', 'require', 'verify-ca', 'verify-full'] as const;

const src = (file: string, line: number, fn?: string): SourceRef => ({ file, line, ...(fn ? { function: fn } : {}), version: 'lib/pq 1.10.7' });
const SRC = {
  defaultRequire: src('ssl.go', 21, 'ssl'),
  unsupported: src('ssl.go', 51, 'ssl'),
  dialFirst: src('conn.go', 356, 'open'),
  sslRequest: src('conn.go', 1102, 'ssl'),
  notSupported: src('conn.go', 1113, 'ssl'),
  verifyAfter: src('ssl.go', 82, 'ssl'),
  handshake: src('conn.go', 1170, 'startup'),
  cleartext: src('conn.go', 1196, 'auth'),
  md5: src('conn.go', 1209, 'auth'),
  scram: src('conn.go', 1277, 'auth'),
  fatal: src('conn.go', 1040, 'recv'),
  ping: src('conn_go18.go', 94, 'Ping'),
} as const;

/** Keys that never go into the startup message (isDriverSetting, conn.go:1124-1147). */
const DRIVER_SETTINGS = new Set([
  'host', 'port', 'password', 'sslmode', 'sslcert', 'sslkey', 'sslrootcert', 'sslinline', 'sslsni', 'fallback_application_name',
  'connect_timeout', 'disable_prepared_binary_result', 'binary_parameters', 'krbsrvname', 'krbspn',
]);

/** parseEnviron() (conn.go:1975-2043): the supported PG* variables and their keys. */
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
  const log = new AttemptLog();
  const random = randomOf(env);
  const decide = (decision: ClientDecision, reason: string, source: SourceRef) => {
    env.onDecision?.({ type: 'client-decision', time: env.clock?.now() ?? Date.now(), client: driver, attempt: 1, decision, reason, source });
  };
  const fail = (message: string, code?: string): DriverResult => ({ driver, ok: false, attempts: log.attempts, error: { message, ...(code ? { code } : {}) } });

  const parsed = libPqGoValues(dsn, env);
  if (!parsed.ok) return fail(parsed.message);
  const o = parsed.o;
  const host = o.host!;
  const port = Number(o.port);

  // dial(): Go's dialer tries each address of the name in turn.
  let addresses: string[];
  try {
    addresses = env.transport.resolve ? await env.transport.resolve(host) : [host];
  } catch {
    return fail(`dial tcp: lookup ${host}: no such host`);
  }
  const modeWord = o.sslmode === undefined || o.sslmode === '' ? 'unset (require)' : o.sslmode;
  decide('connect', `open the TCP connection first; sslmode ${modeWord} is looked at only once it is open`, o.sslmode ? SRC.dialFirst : SRC.defaultRequire);
  let opened: Awaited<ReturnType<typeof openSocket>> | null = null;
  for (const address of addresses) {
    opened = await openSocket(env, address, port);
    if (opened.ok) break;
    log.add('plain', false, 'connect-failed', { message: opened.message });
  }
  if (!opened || !opened.ok) {
    const address = addresses[addresses.length - 1] ?? host;
    const why = opened?.code === 'ECONNREFUSED' || !opened ? 'connection refused' : opened.code;
    return fail(`dial tcp ${address.includes(':') ? `[${address}]` : address}:${port}: connect: ${why}`);
  }
  const sock = opened.sock;
  let encryption: Encryption = 'plain';
  let sslRequested = false;
  const lose = (outcome: AttemptOutcome, message: string, extra: { sqlstate?: string; destroy?: boolean } = {}): DriverResult => {
    log.add(encryption, sslRequested, outcome, { ...(extra.sqlstate ? { sqlstate: extra.sqlstate } : {}), message });
    sock.destroy();
    return fail(message, extra.sqlstate);
  };

  const plan = sslPlan(o, readFileOf(env));
  if (plan !== null && 'error' in plan) {
    decide('give-up', `${plan.error}: the connection that is already open is closed without a word`, plan.error.includes('unsupported sslmode') ? SRC.unsupported : SRC.dialFirst);
    return lose('client-hangup', plan.error);
  }
  if (plan) {
    sslRequested = true;
    decide('request-ssl', `sslmode ${modeWord}: SSLRequest, and no plaintext fallback`, SRC.sslRequest);
    sock.send({ type: 'SSLRequest' });
    const answer = await sock.readByte();
    if (answer === null) return lose('closed', 'EOF');
    if (answer !== 0x53) {
      decide('give-up', `the server answered '${String.fromCharCode(answer)}': ErrSSLNotSupported`, SRC.notSupported);
      return lose(answer === 0x4e ? 'ssl-refused' : 'ssl-error-response', 'pq: SSL is not enabled on the server');
    }
    encryption = 'ssl';
    const name = plan.name;
    // verify-full: Go's own check, inside the handshake. require+sslrootcert and verify-ca: the
    // handshake completes unverified and lib/pq checks afterwards (ssl.go:82-87).
    const inHandshake = plan.check === 'in-handshake';
    const options: tls.ConnectionOptions = { rejectUnauthorized: false, checkServerIdentity: () => undefined };
    if (plan.ca) options.ca = plan.ca;
    const r = await sock.startTls(options, inHandshake ? goHandshakeCheck(name) : undefined);
    if (!r.ok) {
      const text = goTlsError(r);
      decide('give-up', `certificate check failed in the handshake (${text}), when the startup packet was written`, SRC.handshake);
      return lose('tls-failed', text);
    }
    const after = plan.check === 'after-handshake' ? goCertificateCheck(name, r.peer, r.authorizationError ?? null) : null;
    if (after !== null) {
      // The handshake is complete (the server has the client's Finished); the connection is not closed by lib/pq.
      decide('give-up', `certificate check after the handshake failed (${after}); the connection is left open`, SRC.verifyAfter);
      log.add('ssl', true, 'tls-failed', { message: after });
      await sock.end();
      return fail(after);
    }
  }

  const params: StartupParam[] = Object.entries(o).filter(([k]) => !DRIVER_SETTINGS.has(k)).map(([k, v]) => [k === 'dbname' ? 'database' : k, v]);
  sock.send(startupMessage(params));
  const password = o.password ?? '';
  let scram: DriverScram | null = null;
  for (;;) {
    const ev: AuthEvent = await nextAuthEvent(sock);
    const done: DriverResult | 'ready' | null = match(ev)
      .with({ e: 'cleartext' }, (): null => {
        decide('auth-response', 'AuthenticationCleartextPassword: the password as is ("" when there is none)', SRC.cleartext);
        sock.send({ type: 'PasswordMessage', password });
        return null;
      })
      .with({ e: 'md5' }, ({ salt }): null => {
        decide('auth-response', 'AuthenticationMD5Password: md5 of password+user, then of that and the salt', SRC.md5);
        sock.send({ type: 'PasswordMessage', password: md5ClientResponse(o.user!, password, salt) });
        return null;
      })
      .with({ e: 'sasl' }, ({ mechanisms }): null => {
        decide('auth-response', `AuthenticationSASL (${mechanisms.join(', ')}): SCRAM-SHA-256 without looking at the list`, SRC.scram);
        const user = o.user!.replace(/=/g, '=3D').replace(/,/g, '=2C');
        scram = new DriverScram({ mechanism: 'SCRAM-SHA-256', gs2: 'n', username: user, nonceBytes: 16, saslprep: false, random });
        sock.send({ type: 'SASLInitialResponse', mechanism: 'SCRAM-SHA-256', data: scram.clientFirst() });
        return null;
      })
      .with({ e: 'sasl-continue' }, ({ data }): DriverResult | null => {
        const out = scram?.serverFirst(data, password);
        if (!out || 'error' in out) return lose('client-hangup', 'pq: SCRAM-SHA-256 error: server sent an invalid SCRAM-SHA-256 nonce');
        sock.send({ type: 'SASLResponse', data: out });
        return null;
      })
      .with({ e: 'sasl-final' }, ({ data }): DriverResult | null => (scram?.serverFinalVerifies(data) ? null : lose('client-hangup', 'pq: SCRAM-SHA-256 error: server sent an invalid SCRAM-SHA-256 proof')))
      .with({ e: 'auth-ok' }, { e: 'info' }, () => null)
      .with({ e: 'ready' }, () => 'ready' as const)
      .with({ e: 'error' }, ({ fields }: { fields: ErrorFields }): DriverResult => {
        decide('give-up', `ErrorResponse ${fields.code}: *pq.Error, no retry of any kind`, SRC.fatal);
        return lose('server-error', `pq: ${fields.message}`, { sqlstate: fields.code });
      })
      .with({ e: 'eof' }, (): DriverResult => lose('closed', 'EOF'))
      .with({ e: 'garbage' }, ({ reason }): DriverResult => lose('client-hangup', `pq: unknown response for startup: ${reason}`))
      .exhaustive();
    if (done === 'ready') break;
    if (done) return done;
  }

  // database/sql's PingContext: the empty query.
  log.add(encryption, sslRequested, 'authenticated');
  decide('done', 'ReadyForQuery: connected; PingContext sends the empty query ";"', SRC.ping);
  sock.send({ type: 'Query', sql: ';' });
  for (;;) {
    const r = await sock.read();
    if (r.kind !== 'message') return fail('driver: bad connection');
    if (r.msg.type === 'ReadyForQuery') break;
    if (r.msg.type === 'ErrorResponse') return fail('driver: bad connection');
  }
  if (!opts.keepOpen) await sock.terminate();
  return { driver, ok: true, attempts: log.attempts };
}
