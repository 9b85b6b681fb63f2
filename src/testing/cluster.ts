/**
 * An in-process "cluster" for tests: a throwaway data directory written from
 * strings or objects, a server started from it exactly as `pg-authsim serve`
 * starts, a virtual clock by default, and a trace of everything it did.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import * as net from 'node:net';
import { RealClock, VirtualClock, type Clock } from '../clock.js';
import { SeededRandom } from '../random.js';
import { startFromDataDirectory } from '../server/start.js';
import type { PgServer } from '../server/server.js';
import type { ExtensionModule } from '../extensions/extension.js';
import type { PgErrorFields } from '../errors.js';
import type { StartupMessage } from '../server/datadir.js';
import { Trace } from './trace.js';
import { acquireDataDirectory, releaseDataDirectory } from './datadir-pool.js';
import type { ReloadResult } from '../server/reload.js';
import { DEV_CERTS_DIR } from '../server/datadir.js';
import { MOCK_NONCE_FILE } from '../server/mock-nonce.js';
import { runPsql, type PsqlResult } from '../clients/psql.js';
import { inProcessTransport, type ClientTransport } from '../clients/libpq/transport.js';
import { psycopgConnect, type PsycopgResult } from '../clients/psycopg.js';
import { EMBEDDED_POSTGRES_BUILD, connectLibpq, type LibpqBuild } from '../clients/libpq/connect.js';
import { DRIVER_PROFILES, driverProfile, type ConnectRequest, type DriverResult } from '../clients/drivers/index.js';
import type { QueryResult } from '../clients/libpq/connection.js';
import type { ErrorFields } from '../wire/messages.js';
import { displayName } from '../sql/types.js';
import type { ClientTraceListener } from '../clients/trace.js';

export type ConfValue = string | number | boolean;

/** The mock nonce file a server started with each seed wrote (see TestCluster.start). */
const nonceBySeed = new Map<string, string>();

/** How TestCluster.connect() runs a client. */
export interface ClientConnectOptions {
  /** Overrides the URL's password; null: none anywhere. Default: the URL's, else none. */
  password?: string | null;
  /** Every decision the client takes, with the reason and the source line (src/clients/trace.ts). */
  onTrace?: ClientTraceListener;
  /** More of the client process's environment (PGSSLMODE, PGSSL, ...). */
  environ?: Record<string, string>;
}

export interface PsqlConnectOptions extends ClientConnectOptions {
  /** psql's password prompt: what the user types (without it psql runs with -w). */
  prompt?: () => Promise<string | null>;
  /** The -c command; default `select 1`. */
  command?: string;
}

/**
 * A driver URL as a connection request: postgres://user:password@host:port/db?opt=value, or
 * jdbc:postgresql://host:port/db?user=...&password=... Query parameters other than user and
 * password are the driver's options, in its own vocabulary.
 */
export function connectRequestFromUrl(url: string, password?: string | null): ConnectRequest {
  const u = new URL(url.replace(/^jdbc:postgresql:/, 'postgres:'));
  const q = Object.fromEntries(u.searchParams);
  const user = decodeURIComponent(u.username) || q.user || 'postgres';
  const fromUrl = u.password ? decodeURIComponent(u.password) : (q.password ?? null);
  delete q.user;
  delete q.password;
  return {
    host: u.hostname.replace(/^\[(.*)\]$/, '$1') || '127.0.0.1',
    port: Number(u.port) || 5432,
    user,
    database: decodeURIComponent(u.pathname.slice(1)) || user,
    password: password === undefined ? fromUrl : password,
    options: q,
  };
}

export interface ClusterOptions {
  /** postgresql.conf as text, or name → value (strings are quoted for you). */
  postgresqlConf?: string | Record<string, ConfValue>;
  /** pg_hba.conf text. */
  hba: string;
  /** The roles file: CREATE ROLE ... statements. */
  roles?: string;
  /** Extension modules loaded after shared_preload_libraries (last loaded runs first). */
  extensions?: ExtensionModule[];
  /** 'virtual' (default): delays cost no wall time; 'real'; or your own Clock. */
  clock?: 'virtual' | 'real' | Clock;
  /** PIDs, nonces, salts and cancel keys follow from it. Default 1. */
  seed?: number | string;
  /** Extra files for the data directory (e.g. an @file for pg_hba.conf, your extension module). */
  files?: Record<string, string>;
  /** The bootstrap superuser's name (initdb -U): the role with OID 10. Default `postgres`. */
  bootstrapSuperuser?: string;
}

export class TestCluster {
  readonly trace: Trace;
  private clientSeed = 1000;
  private constructor(
    readonly server: PgServer,
    readonly clock: Clock,
    readonly dataDirectory: string,
    readonly startupMessages: Array<StartupMessage | PgErrorFields>,
    trace: Trace,
    /** Hands the data directory back (to the pool, or removes it). */
    private readonly dispose: () => void,
  ) {
    this.trace = trace;
  }

  static async start(opts: ClusterOptions): Promise<TestCluster> {
    const files: Array<[string, string]> = [
      ['postgresql.conf', confText(opts.postgresqlConf ?? '')],
      ['pg_hba.conf', opts.hba.endsWith('\n') ? opts.hba : `${opts.hba}\n`],
      ['roles.sql', opts.roles ?? ''],
    ];
    // Extra files may be ES modules, which Node caches by path: those get a directory of their own.
    const pooled = Object.keys(opts.files ?? {}).length === 0;
    // The nonce a server with this seed wrote before is the one it would write again: a pooled
    // directory that still holds it keeps it instead of the server creating it once more.
    const seedKey = JSON.stringify([typeof opts.seed, String(opts.seed ?? 1), opts.bootstrapSuperuser ?? null, files]);
    const nonce = nonceBySeed.get(seedKey);
    let dir: string;
    if (pooled) {
      dir = acquireDataDirectory(files, nonce !== undefined ? [[MOCK_NONCE_FILE, nonce]] : []);
    } else {
      dir = mkdtempSync(path.join(tmpdir(), 'pg-authsim-cluster-'));
      try {
        for (const [name, text] of [...files, ...Object.entries(opts.files ?? {})]) writeFileSync(path.join(dir, name), text);
      } catch (err) {
        rmSync(dir, { recursive: true, force: true });
        throw err;
      }
    }
    let written: string | undefined;
    const dispose = () => (pooled ? releaseDataDirectory(dir, written !== undefined ? [[MOCK_NONCE_FILE, written]] : []) : rmSync(dir, { recursive: true, force: true }));
    try {
      const clock = opts.clock === undefined || opts.clock === 'virtual' ? new VirtualClock() : opts.clock === 'real' ? new RealClock() : opts.clock;
      let server: PgServer | null = null;
      const trace = new Trace(() => ({ ...server!.settings }));
      const started = await startFromDataDirectory(dir, {
        clock,
        random: new SeededRandom(opts.seed ?? 1),
        extraExtensions: opts.extensions ?? [],
        // A test cluster with ssl on and no certificate of its own uses the development server certificate
        // (never the development CA for client certificates: set ssl_ca_file for that).
        overrides: {
          ...(/\bdev_certificates\b/.test(confText(opts.postgresqlConf ?? '')) ? {} : { dev_certificates: 'on' }),
          ...(opts.bootstrapSuperuser !== undefined ? { bootstrap_superuser: opts.bootstrapSuperuser } : {}),
        },
        onEvent: trace.record,
      });
      server = started.server;
      if (pooled) {
        // What persistedMockNonce() stores for this server's nonce.
        written = `${server.settings.mockAuthNonce.toString('hex')}\n`;
        if (nonceBySeed.size >= 64) nonceBySeed.delete(nonceBySeed.keys().next().value!);
        nonceBySeed.set(seedKey, written);
      }
      return new TestCluster(started.server, clock, started.dataDirectory, started.startupMessages, trace, dispose);
    } catch (err) {
      dispose();
      throw err;
    }
  }

  /**
   * Run psql 15 (the model, libpq's retry rules included) against this cluster
   * in-process: `psql('user=test sslmode=prefer', { password: 'wrong' })`.
   * Without a password, `prompt` answers psql's password prompt; without it,
   * psql behaves as with -w.
   */
  async psql(conninfo: string, opts: {
    password?: string; prompt?: () => Promise<string | null>; libpq?: 15 | 16 | 17 | 18; command?: string;
    /** Every decision psql and libpq take, with the reason and the source line (see src/clients/trace.ts). */
    onTrace?: ClientTraceListener;
    /** More of psql's environment (PGSSLMODE, PGCONNECT_TIMEOUT, ...). */
    environ?: Record<string, string>;
    /** How that libpq was built (default: Debian's, with GSSAPI). */
    build?: LibpqBuild;
  } = {}): Promise<PsqlResult> {
    const full = /\bhost=/.test(conninfo) ? conninfo : `host=127.0.0.1 ${conninfo}`;
    const withRoot = /\bsslrootcert=/.test(full) ? full : `${full} sslrootcert=${path.join(DEV_CERTS_DIR, 'ca.crt')}`;
    return runPsql(
      { dbname: withRoot, command: opts.command ?? 'select 1', ...(opts.prompt ? { tty: false } : { noPassword: true }) },
      {
        transport: inProcessTransport(this.server), clock: this.clock, random: new SeededRandom(this.clientSeed++), version: opts.libpq ?? 15,
        environ: { ...(opts.password !== undefined ? { PGPASSWORD: opts.password } : {}), ...opts.environ }, homeDir: null, osUser: 'postgres',
        ...(opts.prompt ? { prompt: opts.prompt } : {}),
        ...(opts.onTrace ? { onTrace: opts.onTrace } : {}),
        ...(opts.build ? { build: opts.build } : {}),
      },
    );
  }

  /**
   * Run SQL in-process through a real session, as `psql -c` would over a connection: log in
   * as `user` (trust, or with `password`), send the string as one simple Query, hang up.
   * Returns the last statement's result (rows as text, as psql shows them); an ERROR is
   * thrown as a ClusterQueryError carrying PostgreSQL's fields.
   */
  async query(sql: string, opts: { user: string; password?: string; database?: string; sslmode?: string }): Promise<ClusterQueryResult> {
    const quote = (v: string) => `'${v.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
    const conninfo = `host=127.0.0.1 user=${quote(opts.user)} dbname=${quote(opts.database ?? 'postgres')} sslmode=${opts.sslmode ?? 'prefer'} sslrootcert=${quote(path.join(DEV_CERTS_DIR, 'ca.crt'))}`;
    const r = await connectLibpq(conninfo, {
      transport: inProcessTransport(this.server), clock: this.clock, random: new SeededRandom(this.clientSeed++), version: 15,
      environ: opts.password !== undefined ? { PGPASSWORD: opts.password } : {}, homeDir: null, osUser: opts.user,
    });
    if (!r.ok) throw new Error(`cluster.query: could not connect: ${r.errorMessage.trim()}`);
    try {
      const results = await r.connection.exec(sql);
      const failed = results.find((x) => x.status === 'error');
      if (failed) throw new ClusterQueryError(failed, r.connection.queryNoticeFields);
      const last = results[results.length - 1];
      return new ClusterQueryResult(last ?? { status: 'empty', fields: [], rows: [], commandTag: null, error: null, errorMessage: '' }, r.connection.queryNoticeFields);
    } finally {
      await r.connection.close();
    }
  }

  /**
   * Any client model against this cluster, in-process, on its clock: psql ('psql' is libpq 15;
   * 'psql-libpq16', '-17', '-18') or 'psycopg' with a conninfo string, or a driver profile ('pg',
   * 'pg-libpqcompat', 'postgres.js', 'pgjdbc', 'asyncpg'; see DRIVER_PROFILES) with the URL that
   * driver takes (`jdbc:postgresql://host/db?sslmode=prefer` for pgjdbc, `postgres://…` for the
   * others). `password` overrides the URL's; null means none at all. The development CA is
   * trusted the way each client trusts a private CA (sslrootcert; NODE_EXTRA_CA_CERTS for Node
   * drivers) unless the URL says otherwise. Returns what the model returns.
   */
  connect(client: 'psql' | 'psql-libpq16' | 'psql-libpq17' | 'psql-libpq18', conninfo: string, opts?: PsqlConnectOptions): Promise<PsqlResult>;
  connect(client: 'psycopg', conninfo: string, opts?: ClientConnectOptions & { keepOpen?: boolean }): Promise<PsycopgResult>;
  connect(client: string, url: string, opts?: ClientConnectOptions & { keepOpen?: boolean }): Promise<DriverResult>;
  async connect(client: string, target: string, opts: PsqlConnectOptions & { keepOpen?: boolean } = {}): Promise<PsqlResult | PsycopgResult | DriverResult> {
    const psql = /^psql(?:-libpq(1[5-8]))?$/.exec(client);
    if (psql) {
      const libpq = Number(psql[1] ?? 15) as 15 | 16 | 17 | 18;
      const { password, ...rest } = opts;
      // The same libpq as matrix's client of that name (17 and 18: the @embedded-postgres build).
      return this.psql(target, { ...rest, libpq, ...(libpq >= 17 ? { build: EMBEDDED_POSTGRES_BUILD } : {}), ...(typeof password === 'string' ? { password } : {}) });
    }
    const seed = this.clientSeed++;
    const ca = path.join(DEV_CERTS_DIR, 'ca.crt');
    if (client === 'psycopg') {
      const full = /\bhost=/.test(target) ? target : `host=127.0.0.1 ${target}`;
      const r = await psycopgConnect(/\bsslrootcert=/.test(full) ? full : `${full} sslrootcert=${ca}`, {
        transport: this.transport(), clock: this.clock, random: new SeededRandom(seed), homeDir: null, osUser: 'postgres',
        environ: { ...(typeof opts.password === 'string' ? { PGPASSWORD: opts.password } : {}), ...opts.environ },
        ...(opts.onTrace ? { onTrace: opts.onTrace } : {}),
      });
      if (r.ok && !opts.keepOpen) await r.connection.close();
      return r;
    }
    const profile = driverProfile(client);
    if (!profile) throw new Error(`unknown client "${client}": psql, psql-libpq16, psql-libpq17, psql-libpq18, psycopg, ${Object.keys(DRIVER_PROFILES).join(', ')}`);
    const request = connectRequestFromUrl(target, opts.password);
    const options = { ...request.options };
    // pgjdbc, asyncpg and the Go drivers read a root certificate file for the verifying modes.
    if (profile.runtime !== 'node' && /^verify-/.test(options.sslmode ?? '') && options.sslrootcert === undefined) options.sslrootcert = ca;
    return profile.connect({ ...request, options }, {
      transport: this.transport(), random: new SeededRandom(seed), clock: this.clock,
      environ: { ...(profile.runtime === 'node' ? { NODE_EXTRA_CA_CERTS: ca } : {}), ...opts.environ },
      ...(opts.onTrace ? { onTrace: opts.onTrace } : {}),
    });
  }

  /** In-process connections to this server; a host name connects as from 127.0.0.1, as the lookup would give. */
  private transport(): ClientTransport {
    const base = inProcessTransport(this.server);
    return { ...base, open: (host, port) => base.open(net.isIP(host) ? host : '127.0.0.1', port) };
  }

  /** The client end of a new in-memory connection. */
  socket(): ReturnType<PgServer['connect']> {
    return this.server.connect();
  }

  /** Also accept real clients on loopback; returns the port. */
  async listen(port = 0): Promise<number> {
    // Virtual time jumps whenever in-memory I/O is quiet; a TCP client's think time would count as quiet.
    if (this.clock instanceof VirtualClock) {
      throw new Error("TestCluster.listen() needs real time: start the cluster with clock: 'real' to accept TCP clients");
    }
    const [bound] = await this.server.listen(port, ['127.0.0.1']);
    return bound!.port;
  }

  /**
   * Reload the configuration as `pg_ctl reload` (SIGHUP) would: edit files in
   * `dataDirectory` first (postgresql.conf, pg_hba.conf, postgresql.auto.conf).
   */
  reload(): ReloadResult {
    return this.server.reload('api');
  }

  /** Write a file in the data directory (e.g. a new pg_hba.conf before reload()). */
  writeFile(name: string, text: string): void {
    writeFileSync(path.join(this.dataDirectory, name), text);
  }

  /** Wait until every backend has exited (EOF backends may still be sleeping in a hook). */
  idle(): Promise<void> {
    return this.server.idle();
  }

  async close(): Promise<void> {
    try {
      await this.server.close();
    } finally {
      this.dispose();
    }
  }
}

function confText(conf: string | Record<string, ConfValue>): string {
  if (typeof conf === 'string') return conf;
  return Object.entries(conf)
    .map(([k, v]) => `${k} = ${typeof v === 'string' ? `'${v.replace(/'/g, "''")}'` : typeof v === 'boolean' ? (v ? 'on' : 'off') : String(v)}`)
    .join('\n') + '\n';
}

/** What cluster.query() returns: the statement's command tag, columns and rows as text. */
export class ClusterQueryResult {
  /** CommandComplete's tag ("SELECT 2", "SET"); '' for an empty query. */
  readonly command: string;
  readonly columns: ReadonlyArray<{ name: string; typeOid: number; type: string }>;
  /** Values in text format, as psql shows them; null is SQL NULL. */
  readonly rows: ReadonlyArray<ReadonlyArray<string | null>>;
  /** NOTICE/WARNING messages the statement raised. */
  readonly notices: readonly ErrorFields[];

  constructor(r: QueryResult, notices: readonly ErrorFields[]) {
    this.command = r.commandTag ?? '';
    this.columns = r.fields.map((f) => ({ name: f.name, typeOid: f.typeOid, type: displayName(f.typeOid) }));
    this.rows = r.rows;
    this.notices = [...notices];
  }

  /** The rows as objects keyed by column name. */
  get objects(): Array<Record<string, string | null>> {
    return this.rows.map((row) => Object.fromEntries(this.columns.map((c, i) => [c.name, row[i] ?? null])));
  }
}

/** An ERROR from cluster.query(): PostgreSQL's fields (code is the SQLSTATE) and libpq's text. */
export class ClusterQueryError extends Error {
  readonly fields: ErrorFields;
  readonly notices: readonly ErrorFields[];
  constructor(r: QueryResult, notices: readonly ErrorFields[]) {
    super(r.error?.message ?? r.errorMessage);
    this.name = 'ClusterQueryError';
    this.fields = r.error ?? { severity: 'ERROR', code: 'XX000', message: r.errorMessage };
    this.notices = [...notices];
  }
  get sqlstate(): string { return this.fields.code; }
}
