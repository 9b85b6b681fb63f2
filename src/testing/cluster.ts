/**
 * An in-process "cluster" for tests: a throwaway data directory written from
 * strings or objects, a server started from it exactly as `pg-authsim serve`
 * starts, a virtual clock by default, and a trace of everything it did.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { RealClock, VirtualClock, type Clock } from '../clock.js';
import { SeededRandom } from '../random.js';
import { startFromDataDirectory } from '../server/start.js';
import type { PgServer } from '../server/server.js';
import type { ExtensionModule } from '../extensions/extension.js';
import type { PgErrorFields } from '../errors.js';
import type { StartupMessage } from '../server/datadir.js';
import { Trace } from './trace.js';
import type { ReloadResult } from '../server/reload.js';
import { DEV_CERTS_DIR } from '../server/datadir.js';
import { runPsql, type PsqlResult } from '../clients/psql.js';
import { inProcessTransport } from '../clients/libpq/transport.js';
import type { ClientTraceListener } from '../clients/trace.js';

export type ConfValue = string | number | boolean;

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
  ) {
    this.trace = trace;
  }

  static async start(opts: ClusterOptions): Promise<TestCluster> {
    const dir = mkdtempSync(path.join(tmpdir(), 'pg-authsim-cluster-'));
    try {
      writeFileSync(path.join(dir, 'postgresql.conf'), confText(opts.postgresqlConf ?? ''));
      writeFileSync(path.join(dir, 'pg_hba.conf'), opts.hba.endsWith('\n') ? opts.hba : `${opts.hba}\n`);
      writeFileSync(path.join(dir, 'roles.sql'), opts.roles ?? '');
      for (const [name, text] of Object.entries(opts.files ?? {})) writeFileSync(path.join(dir, name), text);
      const clock = opts.clock === undefined || opts.clock === 'virtual' ? new VirtualClock() : opts.clock === 'real' ? new RealClock() : opts.clock;
      let server: PgServer | null = null;
      const trace = new Trace(() => ({ ...server!.settings }));
      const started = await startFromDataDirectory(dir, {
        clock,
        random: new SeededRandom(opts.seed ?? 1),
        extraExtensions: opts.extensions ?? [],
        overrides: {
          // A test cluster with ssl on and no certificate of its own uses the development server certificate
          // (never the development CA for client certificates: set ssl_ca_file for that).
          ...(/\bdev_certificates\b/.test(confText(opts.postgresqlConf ?? '')) ? {} : { dev_certificates: 'on' }),
          ...(opts.bootstrapSuperuser !== undefined ? { bootstrap_superuser: opts.bootstrapSuperuser } : {}),
        },
        onEvent: trace.record,
      });
      server = started.server;
      return new TestCluster(started.server, clock, started.dataDirectory, started.startupMessages, trace);
    } catch (err) {
      rmSync(dir, { recursive: true, force: true });
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
  } = {}): Promise<PsqlResult> {
    const full = /\bhost=/.test(conninfo) ? conninfo : `host=127.0.0.1 ${conninfo}`;
    const withRoot = /\bsslrootcert=/.test(full) ? full : `${full} sslrootcert=${path.join(DEV_CERTS_DIR, 'ca.crt')}`;
    return runPsql(
      { dbname: withRoot, command: opts.command ?? 'select 1', ...(opts.prompt ? { tty: false } : { noPassword: true }) },
      {
        transport: inProcessTransport(this.server), clock: this.clock, random: new SeededRandom(this.clientSeed++), version: opts.libpq ?? 15,
        environ: opts.password !== undefined ? { PGPASSWORD: opts.password } : {}, homeDir: null, osUser: 'postgres',
        ...(opts.prompt ? { prompt: opts.prompt } : {}),
        ...(opts.onTrace ? { onTrace: opts.onTrace } : {}),
      },
    );
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
      rmSync(this.dataDirectory, { recursive: true, force: true });
    }
  }
}

function confText(conf: string | Record<string, ConfValue>): string {
  if (typeof conf === 'string') return conf;
  return Object.entries(conf)
    .map(([k, v]) => `${k} = ${typeof v === 'string' ? `'${v.replace(/'/g, "''")}'` : typeof v === 'boolean' ? (v ? 'on' : 'off') : String(v)}`)
    .join('\n') + '\n';
}
