/**
 * The Go driver models (src/clients/drivers/pgx.ts, lib-pq.ts) against the real drivers built on
 * this machine from Debian's packages (pgx 4.15.0 on pgconn 1.11.0, lib/pq 1.10.7, Go 1.19;
 * spec/support/go/*, built once per source hash). Each case runs four times:
 *
 * - REAL driver → pg-authsim over TCP (a real-clock TestCluster, listening as `serve` does);
 * - REAL driver → a real PostgreSQL 15 with oracle/hook_probe (src/conformance/real-server.ts);
 * - MODEL over TCP → the same pg-authsim;
 * - MODEL in-process → a virtual-clock TestCluster with the same configuration;
 *
 * and requires: the model and the real driver report the same (ok, error text, SQLSTATE), make
 * the same TCP connections, the same ClientAuthentication_hook calls (status and TLS) and the same
 * per-connection transcript on the server; the real driver does the same against PostgreSQL 15
 * as against pg-authsim (error text, connections, hook calls, SQLSTATEs and each connection's log
 * lines, ports normalised).
 *
 * Grid: server ssl on/off × host/hostssl/hostnossl scram-sha-256 lines × every sslmode word
 * (disable, allow, prefer, require, verify-ca, verify-full, and unset: each driver's default)
 * × right/wrong/no password; md5, password and reject lines with ssl on; errors after
 * authentication (a missing database, CONNECTION LIMIT 0); then per-driver extras (root
 * certificates, host names the certificate does not cover, bad settings). verify-ca/verify-full
 * get sslrootcert = the dev CA. One user per line kind, so one server per ssl setting covers
 * every line. Then a scripted fake server (an 'E' answer to SSLRequest, a close after the startup
 * packet), each driver's rules pinned as data, and the models' client decisions.
 *
 * Lanes of three servers (LANES_PER_SSL per ssl setting) work through the cases side by side in
 * the before-hook; each `it` checks one case. PG* variables are not passed on, PGPASSFILE names a
 * missing file, HOME is empty; the Go drivers read ~/.postgresql from the passwd home, which the
 * models are given as their homeDir. Where Go does what node:tls cannot (an alert when it rejects
 * a certificate in the handshake) or the probe's exit shows (lib/pq's leaked connection), the
 * server's line for it is left out of model-vs-real only: see Case.tlsAlert and Case.leak.
 */
import { expect } from 'chai';
import { readFileSync } from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { TestCluster } from '../../src/testing/index.js';
import { inProcessTransport, tcpTransport } from '../../src/clients/libpq/transport.js';
import { DRIVER_PROFILES, type DriverEnv, type DriverResult } from '../../src/clients/drivers/index.js';
import { RealPostgres } from '../../src/conformance/real-server.js';
import { logObservation, realMessages, simMessages, type Normaliser } from '../../src/conformance/runner.js';
import type { LogSettings } from '../../src/views/server-log.js';
import type { ClientTraceEvent } from '../../src/clients/trace.js';
import { SeededRandom } from '../../src/random.js';
import { CERTS } from '../support/fixtures.js';
import { tempDir } from '../support/temp.js';
import { seen } from '../support/driver-transcript.js';
import { probe } from '../support/client-grid.js';
import { FakeServer, SCRIPTS, type FakeScript } from '../support/fake-server.js';
import { debVersion, goProbe, goToolchain, runGoProbe, type GoProbe, type GoResult } from '../support/go-probes.js';

// ---- the servers: one user per kind of line ---------------------------------------------

const HBA = [
  'hostssl all sslonly 127.0.0.1/32 scram-sha-256',
  'hostnossl all nossl 127.0.0.1/32 scram-sha-256',
  'host all md5user 127.0.0.1/32 md5',
  'host all pwuser 127.0.0.1/32 password',
  'host all rejected 127.0.0.1/32 reject',
  'host all limited 127.0.0.1/32 scram-sha-256',
  'host all test 127.0.0.1/32 scram-sha-256',
].join('\n');
const ROLES = `
CREATE ROLE test LOGIN PASSWORD 'secret';
CREATE ROLE sslonly LOGIN PASSWORD 'secret';
CREATE ROLE nossl LOGIN PASSWORD 'secret';
CREATE ROLE pwuser LOGIN PASSWORD 'secret';
CREATE ROLE rejected LOGIN PASSWORD 'secret';
CREATE ROLE limited LOGIN PASSWORD 'secret' CONNECTION LIMIT 0;
SET password_encryption = 'md5';
CREATE ROLE md5user LOGIN PASSWORD 'secret';
`;
/** One user per line; `limited` has CONNECTION LIMIT 0 (FATAL 53300 after authentication). */
const LINES = { host: 'test', hostssl: 'sslonly', hostnossl: 'nossl', md5: 'md5user', password: 'pwuser', reject: 'rejected', limited: 'limited' } as const;
type Line = keyof typeof LINES;
const PASSWORDS = { right: 'secret', wrong: 'wrong', none: null } as const;
type Pw = keyof typeof PASSWORDS;

const CA = path.join(CERTS, 'ca.crt');
/** A certificate that did not sign the server's: a check against it must fail. */
const NOT_THE_CA = path.join(CERTS, 'client.crt');
const MISSING = '/nonexistent/pg-authsim-root.crt';

/** A name /etc/hosts gives 127.0.0.1 that the dev certificate does not cover (its SANs: localhost, 127.0.0.1, ::1). */
const ALIAS = ((): string | null => {
  try {
    for (const line of readFileSync('/etc/hosts', 'utf8').split('\n')) {
      const [addr, ...names] = line.replace(/#.*/, '').trim().split(/\s+/);
      if (addr === '127.0.0.1') {
        const n = names.find((x) => x !== 'localhost' && !x.includes('.'));
        if (n) return n;
      }
    }
  } catch { /* no /etc/hosts */ }
  return null;
})();

// ---- the cases, as data -------------------------------------------------------------------

type Ssl = 'on' | 'off';
interface Case {
  ssl: Ssl;
  line: Line;
  /** Default postgres; another name is a database that does not exist (FATAL 3D000 after authentication). */
  database?: string;
  /** 'unset' leaves the driver's default. */
  sslmode: string;
  password: Pw;
  /** Host name in the URL (default 127.0.0.1); the ALIAS placeholder is filled from /etc/hosts. */
  host?: 'localhost' | 'ALIAS';
  params?: Record<string, string>;
  /**
   * Go's TLS client sends the server an alert when it rejects a certificate inside the handshake;
   * node:tls (the model's) does not, so the server's "could not accept SSL connection" line is left
   * out of model-vs-real (real PostgreSQL vs pg-authsim still compares it).
   */
  tlsAlert?: boolean;
  /**
   * lib/pq leaves the connection open after rejecting the certificate after the handshake; the
   * probe's exit then resets it, with the server's session tickets unread, and the server logs
   * "could not receive data from client". The model closes it at once: that line is left out of
   * model-vs-real (real PostgreSQL vs pg-authsim still compares it).
   */
  leak?: boolean;
}

const SSLMODES = ['disable', 'allow', 'prefer', 'require', 'verify-ca', 'verify-full', 'unset'] as const;
const withRoot = (sslmode: string): Record<string, string> | undefined => (sslmode.startsWith('verify-') ? { sslrootcert: CA } : undefined);

const GRID: Case[] = [
  ...(['on', 'off'] as const).flatMap((ssl) => (['host', 'hostssl', 'hostnossl'] as const).flatMap((line) => SSLMODES.flatMap((sslmode) =>
    (Object.keys(PASSWORDS) as Pw[]).map((password): Case => {
      const params = withRoot(sslmode);
      return { ssl, line, sslmode, password, ...(params ? { params } : {}) };
    })))),
  ...(['md5', 'password', 'reject'] as const).flatMap((line) => (['disable', 'allow', 'prefer', 'require', 'unset'] as const).flatMap((sslmode) =>
    (Object.keys(PASSWORDS) as Pw[]).map((password): Case => ({ ssl: 'on', line, sslmode, password })))),
];

/** Errors after a successful authentication, which are not 28P01/28000: pgx's chain goes on. */
const AFTER_AUTH: Case[] = (['prefer', 'allow', 'unset'] as const).flatMap((sslmode) => [
  { ssl: 'on', line: 'host', sslmode, password: 'right', database: 'nosuchdb' } as Case,
  { ssl: 'on', line: 'limited', sslmode, password: 'right' } as Case,
]);

const EXTRA: Record<string, Case[]> = {
  pgx: [
    { ssl: 'on', line: 'host', sslmode: 'require', password: 'right', params: { sslrootcert: CA } },
    { ssl: 'on', line: 'host', sslmode: 'require', password: 'right', params: { sslrootcert: NOT_THE_CA }, tlsAlert: true },
    { ssl: 'on', line: 'host', sslmode: 'prefer', password: 'right', params: { sslrootcert: NOT_THE_CA } },
    { ssl: 'on', line: 'host', sslmode: 'verify-ca', password: 'wrong', params: { sslrootcert: NOT_THE_CA }, tlsAlert: true },
    { ssl: 'on', line: 'host', sslmode: 'verify-full', password: 'right', params: { sslrootcert: NOT_THE_CA }, tlsAlert: true },
    // No sslrootcert, no ~/.postgresql/root.crt: the system roots.
    { ssl: 'on', line: 'host', sslmode: 'verify-full', password: 'right', tlsAlert: true },
    { ssl: 'on', line: 'host', sslmode: 'verify-full', password: 'right', host: 'localhost', params: { sslrootcert: CA } },
    { ssl: 'on', line: 'host', sslmode: 'verify-full', password: 'right', host: 'ALIAS', params: { sslrootcert: CA }, tlsAlert: true },
    { ssl: 'on', line: 'host', sslmode: 'verify-ca', password: 'right', host: 'ALIAS', params: { sslrootcert: CA } },
    // Untrusted AND for another name: Go checks the name first.
    { ssl: 'on', line: 'host', sslmode: 'verify-full', password: 'right', host: 'ALIAS', params: { sslrootcert: NOT_THE_CA }, tlsAlert: true },
    { ssl: 'on', line: 'host', sslmode: 'prefer', password: 'right', params: { application_name: 'go probe' } },
    { ssl: 'on', line: 'host', sslmode: 'bogus', password: 'right' },
    { ssl: 'on', line: 'host', sslmode: 'verify-ca', password: 'right', params: { sslrootcert: MISSING } },
  ],
  'lib/pq': [
    { ssl: 'on', line: 'host', sslmode: 'require', password: 'right', params: { sslrootcert: CA } },
    { ssl: 'on', line: 'host', sslmode: 'require', password: 'right', params: { sslrootcert: NOT_THE_CA }, leak: true },
    { ssl: 'on', line: 'host', sslmode: 'require', password: 'right', params: { sslrootcert: MISSING } },
    { ssl: 'on', line: 'host', sslmode: 'verify-ca', password: 'wrong', params: { sslrootcert: NOT_THE_CA }, leak: true },
    { ssl: 'on', line: 'host', sslmode: 'verify-full', password: 'right', params: { sslrootcert: NOT_THE_CA }, tlsAlert: true },
    { ssl: 'on', line: 'host', sslmode: 'verify-full', password: 'right', tlsAlert: true },
    { ssl: 'on', line: 'host', sslmode: 'verify-full', password: 'right', host: 'localhost', params: { sslrootcert: CA } },
    { ssl: 'on', line: 'host', sslmode: 'verify-full', password: 'right', host: 'ALIAS', params: { sslrootcert: CA }, tlsAlert: true },
    { ssl: 'on', line: 'host', sslmode: 'verify-ca', password: 'right', host: 'ALIAS', params: { sslrootcert: CA }, leak: true },
    { ssl: 'on', line: 'host', sslmode: 'verify-ca', password: 'right', host: 'ALIAS', params: { sslrootcert: CA, sslsni: '0' } },
    { ssl: 'on', line: 'host', sslmode: 'require', password: 'right', host: 'ALIAS', params: { sslrootcert: CA }, leak: true },
    { ssl: 'on', line: 'host', sslmode: 'verify-full', password: 'right', host: 'ALIAS', params: { sslrootcert: NOT_THE_CA }, tlsAlert: true },
    { ssl: 'on', line: 'host', sslmode: 'verify-ca', password: 'right', host: 'ALIAS', params: { sslrootcert: NOT_THE_CA }, leak: true },
    { ssl: 'on', line: 'host', sslmode: 'unset', password: 'right', params: { application_name: 'go probe' } },
    { ssl: 'on', line: 'host', sslmode: 'bogus', password: 'right' },
    { ssl: 'on', line: 'host', sslmode: 'verify-ca', password: 'right', params: { sslrootcert: MISSING } },
  ],
};

interface GoDriver {
  probe: GoProbe;
  /** The Debian package and version the model follows. */
  deb: [string, string];
}
const DRIVERS: Record<string, GoDriver> = {
  pgx: { probe: 'pgx-probe', deb: ['golang-github-jackc-pgconn-dev', '1.11.0-2'] },
  'lib/pq': { probe: 'pq-probe', deb: ['golang-github-lib-pq-dev', '1.10.7-2'] },
};

const hostOf = (c: Case): string => (c.host === 'ALIAS' ? ALIAS! : c.host ?? '127.0.0.1');

/** postgres://user[:password]@host:port/postgres?k=v: the one URL both the real driver and the profile build. */
function goUrl(c: Case, port: number): string {
  const pw = PASSWORDS[c.password];
  const q: Array<[string, string]> = [...(c.sslmode === 'unset' ? [] : [['sslmode', c.sslmode] as [string, string]]), ...Object.entries(c.params ?? {})];
  const query = q.map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(v)}`).join('&');
  return `postgres://${LINES[c.line]}${pw === null ? '' : `:${encodeURIComponent(pw)}`}@${hostOf(c)}:${port}/${c.database ?? 'postgres'}${query ? `?${query}` : ''}`;
}

function caseName(driver: string, c: Case): string {
  const params = Object.entries(c.params ?? {}).map(([k, v]) => `${k}=${v.startsWith('/') ? path.basename(v) : v}`);
  return [`${driver}`, `ssl=${c.ssl}`, `${c.line} line`, `sslmode=${c.sslmode}`, `${c.password} password`, ...(c.host ? [`host=${c.host}`] : []), ...(c.database ? [`database=${c.database}`] : []), ...params].join(', ');
}

// ---- observing one run ----------------------------------------------------------------------

interface Reported { ok: boolean; error: string | null; sqlstate: string | null }
interface Observed {
  reported: Reported;
  connections: number;
  hooks: string[];
  sqlstates: string[];
  errorLog: string[][];
  connectionLog: string[][];
  /** pg-authsim only: the per-connection transcript of server events. */
  transcript?: string[][];
}

const fromGo = (r: GoResult): Reported => ({ ok: r.ok, error: r.error ?? null, sqlstate: r.sqlstate ?? null });
const fromModel = (r: DriverResult): Reported => ({ ok: r.ok, error: r.error?.message ?? null, sqlstate: r.error?.code ?? null });
const portless = (r: Reported, port: number): Reported => ({ ...r, error: r.error?.replaceAll(String(port), '$PORT') ?? null });

/** One lane: the three servers of one ssl setting. */
class Lane {
  private constructor(readonly ssl: Ssl, readonly sim: TestCluster, readonly simPort: number, readonly virtual: TestCluster, readonly pg: RealPostgres) {}

  static async start(ssl: Ssl): Promise<Lane> {
    const opts = { hba: HBA, roles: ROLES, postgresqlConf: { ssl: ssl === 'on', log_connections: true }, extensions: [probe] };
    const [sim, virtual, pg] = await Promise.all([
      TestCluster.start({ ...opts, clock: 'real' }),
      TestCluster.start(opts),
      RealPostgres.start({
        major: 15,
        conf: { log_error_verbosity: 'verbose', ...(ssl === 'on' ? {} : { ssl: false }) },
        hba: HBA, rolesSql: ROLES, probe: true,
        tls: { cert: path.join(CERTS, 'server.crt'), key: path.join(CERTS, 'server.key'), ca: CA },
      }),
    ]);
    return new Lane(ssl, sim, await sim.listen(), virtual, pg);
  }

  async stop(): Promise<void> {
    await Promise.all([this.sim.close(), this.virtual.close(), this.pg.stop()]);
  }

  /** Something connected to pg-authsim (over TCP or in-process): its report and the server's view. */
  async onSim(cluster: TestCluster, port: number, run: () => Promise<Reported>): Promise<Observed> {
    cluster.trace.clear();
    const reported = portless(await run(), port);
    // Over TCP, a connection the client opened and dropped at once must reach the server before it is waited for.
    if (cluster === this.sim) await new Promise((r) => setTimeout(r, 10));
    await cluster.idle();
    const n: Normaliser = { dataDir: cluster.dataDirectory, port };
    const log = logObservation(simMessages(cluster.trace.events, { ...cluster.server.settings, logLinePrefix: '' } as LogSettings), n);
    const s = seen(cluster.trace);
    return { reported, connections: s.connections, hooks: s.hooks, sqlstates: log.sqlstates, errorLog: log.errorLog, connectionLog: log.connectionLog, transcript: s.transcript };
  }

  async onPostgres(run: () => Promise<Reported>): Promise<Observed> {
    const off = this.pg.logOffset();
    const reported = portless(await run(), this.pg.port);
    // A backend writes its log lines before it exits: a short quiet spell is enough once none is left.
    await this.pg.waitQuiet({ quietMs: 15 });
    const log = logObservation(realMessages(this.pg.logSince(off)), { dataDir: this.pg.dataDir, port: this.pg.port });
    return { reported, connections: log.tcpConnections, hooks: log.hookCalls, sqlstates: log.sqlstates, errorLog: log.errorLog, connectionLog: log.connectionLog };
  }
}

/** Servers per ssl setting working through its cases at once (each lane: pg-authsim twice and a PostgreSQL 15). */
const LANES_PER_SSL = 2;

interface CaseRun { real: Observed; postgres: Observed; modelTcp: Observed; modelVirtual: Observed; decisions: ClientTraceEvent[] }

/** Against the scripted fake (spec/support/fake-server.ts): an 'E' answer to SSLRequest, a close after the startup packet. */
const FAKE_CASES: Array<{ driver: string; sslmode: string; script: FakeScript }> = [
  ...['prefer', 'allow', 'require'].map((sslmode) => ({ driver: 'pgx', sslmode, script: 'ssl-E' as const })),
  ...['disable', 'allow', 'prefer'].map((sslmode) => ({ driver: 'pgx', sslmode, script: 'close-after-startup' as const })),
  ...['unset', 'require'].map((sslmode) => ({ driver: 'lib/pq', sslmode, script: 'ssl-E' as const })),
  { driver: 'lib/pq', sslmode: 'disable', script: 'close-after-startup' },
];

/** One comparison of a case: a label, the side under test and the side it must equal. */
type Comparison = [label: string, actual: unknown, expected: unknown];

/**
 * Everything a case compares. The real driver against PostgreSQL 15 and against pg-authsim;
 * each model run against the real driver on pg-authsim, less what node:tls cannot do like Go
 * (see Case.tlsAlert, Case.leak).
 */
function comparisons(c: Case, r: CaseRun): Comparison[] {
  const { real, postgres } = r;
  const out: Comparison[] = [
    ['real driver: report, pg-authsim vs PostgreSQL 15', real.reported, postgres.reported],
    ['real driver: TCP connections', real.connections, postgres.connections],
    ['real driver: hook calls', real.hooks, postgres.hooks],
    ['real driver: SQLSTATEs logged', real.sqlstates, postgres.sqlstates],
    ['real driver: error log per connection', real.errorLog, postgres.errorLog],
    ['real driver: connection log per connection', real.connectionLog, postgres.connectionLog],
  ];
  const unmodelled = [...(c.tlsAlert ? ['could not accept SSL connection'] : []), ...(c.leak ? ['could not receive data from client'] : [])];
  const keep = (x: string) => !unmodelled.some((u) => x.includes(u));
  const strip = (t: string[][] | undefined) => t?.map((l) => l.filter(keep));
  for (const [label, m] of [['model over TCP', r.modelTcp], ['model in-process', r.modelVirtual]] as const) {
    out.push(
      [`${label}: report`, m.reported, real.reported],
      [`${label}: TCP connections`, m.connections, real.connections],
      [`${label}: hook calls`, m.hooks, real.hooks],
      [`${label}: per-connection transcript`, strip(m.transcript), strip(real.transcript)],
      [`${label}: SQLSTATEs logged`, m.sqlstates, real.sqlstates],
      [`${label}: error log`, strip(m.errorLog), strip(real.errorLog)],
      [`${label}: connection log`, strip(m.connectionLog), strip(real.connectionLog)],
    );
  }
  return out;
}

const same = (a: unknown, b: unknown) => JSON.stringify(a) === JSON.stringify(b);

/**
 * Each driver's rules, pinned: what the real driver does in these cases (on both servers), so
 * a grid that agreed on something else would still fail. `error` is a prefix of the report.
 */
const RULES: Array<{ rule: string; driver: string; c: Case; connections: number; hooks: string[]; error: string | null }> = [
  {
    rule: 'pgx: unset is prefer, and a wrong password under scram-sha-256 goes on to the plaintext config (the error is wrapped as "failed SASL auth")',
    driver: 'pgx', c: { ssl: 'on', line: 'host', sslmode: 'unset', password: 'wrong' }, connections: 2, hooks: ['ERROR/ssl', 'ERROR/plain'],
    error: 'failed to connect to `host=127.0.0.1 user=test database=postgres`: failed SASL auth (FATAL: password authentication failed for user "test" (SQLSTATE 28P01))',
  },
  {
    rule: 'pgx: no password is the empty password, two logins under prefer',
    driver: 'pgx', c: { ssl: 'on', line: 'host', sslmode: 'prefer', password: 'none' }, connections: 2, hooks: ['ERROR/ssl', 'ERROR/plain'], error: 'failed to connect to',
  },
  {
    rule: 'pgx: a wrong md5 password is a bare 28P01: the chain stops after one login',
    driver: 'pgx', c: { ssl: 'on', line: 'md5', sslmode: 'prefer', password: 'wrong' }, connections: 1, hooks: ['ERROR/ssl'],
    error: 'failed to connect to `host=127.0.0.1 user=md5user database=postgres`: server error (FATAL: password authentication failed for user "md5user" (SQLSTATE 28P01))',
  },
  {
    rule: 'pgx: a missing pg_hba.conf entry for TLS (28000) stops prefer before the plaintext config that would match',
    driver: 'pgx', c: { ssl: 'on', line: 'hostnossl', sslmode: 'prefer', password: 'right' }, connections: 1, hooks: [], error: 'failed to connect to `host=127.0.0.1 user=nossl database=postgres`: server error (FATAL: no pg_hba.conf entry',
  },
  {
    rule: 'pgx: allow against ssl=off with a wrong password: plaintext login, then a TLS config refused; the last error is the refusal',
    driver: 'pgx', c: { ssl: 'off', line: 'host', sslmode: 'allow', password: 'wrong' }, connections: 2, hooks: ['ERROR/plain'],
    error: 'failed to connect to `host=127.0.0.1 user=test database=postgres`: tls error (server refused TLS connection)',
  },
  {
    rule: "pgx: prefer against ssl=off opens a second connection for plaintext (not libpq's same-socket fallback)",
    driver: 'pgx', c: { ssl: 'off', line: 'host', sslmode: 'prefer', password: 'right' }, connections: 2, hooks: ['OK/plain'], error: null,
  },
  {
    rule: 'pgx: a database that does not exist (3D000, after authentication) is no reason to stop: two successful logins under prefer',
    driver: 'pgx', c: { ssl: 'on', line: 'host', sslmode: 'prefer', password: 'right', database: 'nosuchdb' }, connections: 2, hooks: ['OK/ssl', 'OK/plain'],
    error: 'failed to connect to `host=127.0.0.1 user=test database=nosuchdb`: server error (FATAL: database "nosuchdb" does not exist (SQLSTATE 3D000))',
  },
  {
    rule: 'lib/pq: unset is require: TLS, and against ssl=off no fallback',
    driver: 'lib/pq', c: { ssl: 'off', line: 'host', sslmode: 'unset', password: 'right' }, connections: 1, hooks: [], error: 'pq: SSL is not enabled on the server',
  },
  {
    rule: 'lib/pq: a wrong password is one login, whatever the sslmode',
    driver: 'lib/pq', c: { ssl: 'on', line: 'host', sslmode: 'unset', password: 'wrong' }, connections: 1, hooks: ['ERROR/ssl'], error: 'pq: password authentication failed for user "test"',
  },
  {
    rule: 'lib/pq: sslmode=prefer is refused after the TCP connection is open: one connection, no startup, no hook',
    driver: 'lib/pq', c: { ssl: 'on', line: 'host', sslmode: 'prefer', password: 'right' }, connections: 1, hooks: [],
    error: 'pq: unsupported sslmode "prefer"; only "require" (default), "verify-full", "verify-ca", and "disable" supported',
  },
];
const caseKey = (driver: string, c: Case) => JSON.stringify([driver, c.ssl, c.line, c.sslmode, c.password, c.host ?? null, c.database ?? null, c.params ?? null]);

// ---- the spec --------------------------------------------------------------------------------

describe('Go drivers: pgx and lib/pq models vs the real drivers (pg-authsim over TCP, PostgreSQL 15, in-process)', function () {
  this.timeout(120_000);
  const home = tempDir('pg-authsim-go-');
  /** Where the Go drivers look for ~/.postgresql: the passwd entry's home, not $HOME. */
  const passwdHome = os.userInfo().homedir;
  const env = { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: home, LC_ALL: 'C', PGPASSFILE: path.join(home, 'no-pgpass') };
  const bins: Record<string, string> = {};
  const lanes: Lane[] = [];
  const results = new Map<string, CaseRun | Error>();
  const cases: Array<{ driver: string; c: Case }> = Object.keys(DRIVERS).flatMap((driver) =>
    [...GRID, ...AFTER_AUTH, ...(EXTRA[driver] ?? [])].map((c) => ({ driver, c })));
  const runnable = (c: Case) => !(c.host === 'ALIAS' && !ALIAS);
  let wall = 0;

  async function runCase(lane: Lane, driver: string, c: Case): Promise<CaseRun> {
    const profile = DRIVER_PROFILES[driver]!;
    const request = (port: number) => ({
      host: hostOf(c), port, user: LINES[c.line], database: c.database ?? 'postgres', password: PASSWORDS[c.password],
      options: { ...(c.sslmode === 'unset' ? {} : { sslmode: c.sslmode }), ...c.params },
    });
    const model = async (port: number, transport: ReturnType<typeof tcpTransport>, extra: Partial<DriverEnv> = {}) =>
      fromModel(await profile.connect(request(port), { transport, homeDir: passwdHome, random: new SeededRandom(7), ...extra }));
    const realOn = (port: number) => async () => fromGo(await runGoProbe(bins[driver]!, goUrl(c, port), env));

    // PostgreSQL 15 and pg-authsim are different servers: their runs overlap.
    const [postgres, [real, modelTcp]] = await Promise.all([
      lane.onPostgres(realOn(lane.pg.port)),
      (async () => [
        await lane.onSim(lane.sim, lane.simPort, realOn(lane.simPort)),
        await lane.onSim(lane.sim, lane.simPort, () => model(lane.simPort, tcpTransport())),
      ] as const)(),
    ]);
    const decisions: ClientTraceEvent[] = [];
    const inProcess = inProcessTransport(lane.virtual.server, { hosts: ALIAS ? { [ALIAS]: ['127.0.0.1'] } : {} });
    const modelVirtual = await lane.onSim(lane.virtual, 5432, () => model(5432, inProcess, { onTrace: (e) => decisions.push(e), clock: lane.virtual.clock }));
    return { real, postgres, modelTcp, modelVirtual, decisions };
  }

  before(async function () {
    this.timeout(600_000);
    goToolchain();
    const t0 = performance.now();
    const [pgx, pq] = await Promise.all([
      goProbe('pgx-probe'), goProbe('pq-probe'),
      ...(['on', 'off'] as const).flatMap((ssl) => Array.from({ length: LANES_PER_SSL }, async () => { lanes.push(await Lane.start(ssl)); })),
    ]);
    bins.pgx = pgx;
    bins['lib/pq'] = pq;
    // Lanes run side by side, each taking the next case of its ssl setting.
    const queues = new Map<Ssl, Array<{ driver: string; c: Case }>>([['on', []], ['off', []]]);
    for (const k of cases) if (runnable(k.c)) queues.get(k.c.ssl)!.push(k);
    await Promise.all(lanes.map(async (lane) => {
      const queue = queues.get(lane.ssl)!;
      for (let next = queue.shift(); next; next = queue.shift()) {
        const key = caseKey(next.driver, next.c);
        try {
          results.set(key, await runCase(lane, next.driver, next.c));
        } catch (e) {
          results.set(key, e as Error);
        }
      }
    }));
    wall = performance.now() - t0;
  });

  after(async () => {
    await Promise.all(lanes.map((l) => l.stop()));
    if (wall === 0) return;
    // Agreement per driver: cases where every comparison holds.
    const lines = Object.keys(DRIVERS).map((driver) => {
      const mine = cases.filter((k) => k.driver === driver && runnable(k.c));
      const agreeing = mine.filter(({ c }) => {
        const r = results.get(caseKey(driver, c));
        return r !== undefined && !(r instanceof Error) && comparisons(c, r).every(([, a, b]) => same(a, b));
      }).length;
      return `${driver} ${agreeing}/${mine.length}`;
    });
    console.log(`      Go driver grid: ${lines.join(', ')} cases agreeing; ${(wall / 1000).toFixed(1)} s with the builds`);
  });

  const get = (driver: string, c: Case): CaseRun => {
    const r = results.get(caseKey(driver, c));
    if (r instanceof Error) throw r;
    if (!r) throw new Error('the case did not run');
    return r;
  };

  it('runs the driver versions the models follow (Debian packages, Go 1.19)', () => {
    expect(goToolchain()).to.match(/^go version go1\.19\b/);
    for (const { deb: [pkg, version] } of Object.values(DRIVERS)) expect(debVersion(pkg), pkg).to.equal(version);
    expect(debVersion('golang-github-jackc-pgx-v4-dev'), 'pgx').to.equal('4.15.0-4');
  });

  describe('grid', () => {
    for (const { driver, c } of cases) {
      (runnable(c) ? it : it.skip)(`${caseName(driver, c)}: same report, connections, hook calls, transcript and log`, () => {
        for (const [label, actual, expected] of comparisons(c, get(driver, c))) expect(actual, label).to.deep.equal(expected);
      });
    }
  });

  describe('against a scripted fake server (an E answer to SSLRequest; a silent close after the startup packet)', () => {
    for (const f of FAKE_CASES) {
      it(`${f.driver}, sslmode=${f.sslmode}, ${f.script}: same packets per connection and report`, async () => {
        const c: Case = { ssl: 'on', line: 'host', sslmode: f.sslmode, password: 'wrong' };
        const realFake = new FakeServer(SCRIPTS[f.script]);
        const srv = net.createServer((sock) => realFake.handle(sock));
        await new Promise<void>((resolve) => srv.listen(0, '127.0.0.1', () => resolve()));
        const port = (srv.address() as net.AddressInfo).port;
        let real: Reported;
        try {
          real = portless(fromGo(await runGoProbe(bins[f.driver]!, goUrl(c, port), env)), port);
        } finally {
          await new Promise<void>((resolve) => srv.close(() => resolve()));
        }
        const modelFake = new FakeServer(SCRIPTS[f.script]);
        const model = await DRIVER_PROFILES[f.driver]!.connect({
          host: '127.0.0.1', port, user: 'test', database: 'postgres', password: 'wrong', options: f.sslmode === 'unset' ? {} : { sslmode: f.sslmode },
        }, { transport: modelFake.transport(), homeDir: passwdHome });
        // pgconn's CancelRequest goes out from a goroutine, racing the next fallback config: its place among the connections is not fixed.
        const attemptsOf = (seen: string[][]) => seen.filter((c) => c[0] !== 'CancelRequest');
        const cancels = (seen: string[][]) => seen.length - attemptsOf(seen).length;
        expect(attemptsOf(modelFake.seen), 'packets per connection').to.deep.equal(attemptsOf(realFake.seen));
        expect(cancels(modelFake.seen), 'CancelRequest connections').to.equal(cancels(realFake.seen));
        expect(portless(fromModel(model), port), 'report').to.deep.equal(real);
        expect(model.attempts.length, 'model attempts').to.equal(attemptsOf(realFake.seen).length);
      });
    }
  });

  describe("each driver's rules (the real driver, on both servers)", () => {
    for (const { rule, driver, c, connections, hooks, error } of RULES) {
      it(rule, () => {
        const { real, postgres } = get(driver, c);
        for (const o of [real, postgres]) {
          expect(o.connections, 'TCP connections').to.equal(connections);
          expect(o.hooks, 'hook calls').to.deep.equal(hooks);
          if (error === null) expect(o.reported.ok, 'connected').to.equal(true);
          else expect(o.reported.error ?? '', 'error').to.satisfy((e: string) => e.startsWith(error));
        }
      });
    }
  });

  describe('client decisions (src/clients/trace.ts): every fork the models take, with the source line', () => {
    it('every decision names a file, a line and the release, and a connection the server saw', () => {
      let n = 0;
      for (const { driver, c } of cases.filter((k) => runnable(k.c))) {
        const r = get(driver, c);
        for (const d of r.decisions) {
          n++;
          expect(d.client, 'client').to.equal(driver);
          expect(d.source.file, 'source file').to.match(/\.go$/);
          expect(d.source.line, 'source line').to.be.a('number').and.greaterThan(0);
          expect(d.source.version, 'release').to.match(driver === 'pgx' ? /^pgconn 1\.11\.0/ : /^lib\/pq 1\.10\.7/);
          expect(d.attempt, 'attempt').to.be.within(1, Math.max(1, r.modelVirtual.connections));
        }
      }
      expect(n, 'decisions seen').to.be.greaterThan(cases.length);
    });

    it('pgx, prefer, wrong password: TLS config, SCRAM, then a new connection because "failed SASL auth" is not a *PgError', () => {
      const { decisions } = get('pgx', { ssl: 'on', line: 'host', sslmode: 'prefer', password: 'wrong' });
      expect(decisions.map((d) => [d.attempt, d.decision, `${d.source.file}:${d.source.line}`])).to.deep.equal([
        [1, 'connect', 'pgconn/pgconn.go:233'],
        [1, 'request-ssl', 'pgconn/pgconn.go:358'],
        [1, 'start-tls', 'pgconn/pgconn.go:368'],
        [1, 'send-startup', 'pgconn/pgconn.go:265'],
        [1, 'auth-response', 'pgconn/auth_scram.go:33'],
        [1, 'auth-response', 'pgconn/auth_scram.go:54'],
        [1, 'retry-new-connection', 'pgconn/pgconn.go:151'],
        [2, 'connect', 'pgconn/pgconn.go:233'],
        [2, 'send-startup', 'pgconn/pgconn.go:265'],
        [2, 'auth-response', 'pgconn/auth_scram.go:33'],
        [2, 'auth-response', 'pgconn/auth_scram.go:54'],
        // The last config's error is the one returned: wrapped by connect() as "failed SASL auth".
        [2, 'give-up', 'pgconn/pgconn.go:318'],
      ]);
      expect(decisions.find((d) => d.decision === 'retry-new-connection')!.reason).to.include('not a *PgError');
    });

    it('pgx, prefer, wrong md5 password: the bare 28P01 stops the chain', () => {
      const { decisions } = get('pgx', { ssl: 'on', line: 'md5', sslmode: 'prefer', password: 'wrong' });
      expect(decisions.at(-1)).to.include({ decision: 'give-up', attempt: 1 });
      expect(decisions.at(-1)!.source).to.include({ file: 'pgconn/pgconn.go', line: 159 });
    });

    it('lib/pq, prefer: refused once the connection is open', () => {
      const { decisions } = get('lib/pq', { ssl: 'on', line: 'host', sslmode: 'prefer', password: 'right' });
      expect(decisions.map((d) => [d.decision, `${d.source.file}:${d.source.line}`])).to.deep.equal([['connect', 'conn.go:356'], ['give-up', 'ssl.go:51']]);
    });
  });
});
