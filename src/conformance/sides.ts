/**
 * The two sides of a group of cases: a real PostgreSQL with oracle/hook_probe
 * preloaded, and pg-authsim with its counterpart, both set up from the same
 * SideSetup, both reporting a case as an Observation. The conformance grid
 * uses them as they are; the extension differential adds libraries, setup
 * SQL and a restart on the real side and the TypeScript ports on the
 * simulator's.
 */
import * as path from 'node:path';
import { TestCluster } from '../testing/cluster.js';
import { hookCallLabel } from '../testing/trace.js';
import type { LogSettings } from '../views/server-log.js';
import { StartupError } from '../server/datadir.js';
import type { PgMajor, ProbeBuildOptions } from './probe.js';
import { RealPostgres, type ConfValue, type PgInstallation } from './real-server.js';
import { CERTS_DIR } from './scenarios.js';
import type { ClientRun } from './client-run.js';
import type { Observation } from './compare.js';
import { clientFields, logObservation, realMessages, simMessages, type Normaliser } from './observe.js';
import { SIM_PROBE, SIM_PROBE_LIBRARY } from './sim-probe.js';

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** How one side of a group is set up. The runner builds it from the scenario; `alterSimulator` may change the simulator's. */
export interface SideSetup {
  serverSsl: boolean;
  hba: string;
  roles: string;
  /** postgresql.conf settings both sides share (auth_delay, password_encryption). */
  conf: Record<string, ConfValue>;
}

export const TLS_FILES = {
  cert: path.join(CERTS_DIR, 'server.crt'),
  key: path.join(CERTS_DIR, 'server.key'),
  ca: path.join(CERTS_DIR, 'ca.crt'),
};

export function confText(conf: Record<string, ConfValue>): string {
  return Object.entries(conf)
    .map(([k, v]) => `${k} = ${typeof v === 'string' ? `'${v.replace(/'/g, "''")}'` : typeof v === 'boolean' ? (v ? 'on' : 'off') : String(v)}`)
    .join('\n') + '\n';
}

/** Runs the case's client against the side's port. */
export type ClientAt = (port: number) => Promise<ClientRun>;

export interface Side {
  readonly port: number;
  /** Run the client, wait until the server has finished with every connection it made, and say what both showed. */
  observe(client: ClientAt): Promise<Observation>;
  stop(): Promise<void>;
}

export interface RealSideOptions {
  major: PgMajor;
  setup: SideSetup;
  /** A bin directory of the user's own (conformance --pg-bin). */
  binDir?: string;
  /** An installation used as it is (an overlay holding extension builds). */
  installation?: PgInstallation;
  probeBuild?: ProbeBuildOptions;
  /** After the roles, as the bootstrap superuser (CREATE EXTENSION ...). */
  setupSql?: string;
  /** Restart after setup so shared memory starts empty. */
  restartAfterSetup?: boolean;
}

export class RealSide implements Side {
  private constructor(readonly pg: RealPostgres) {}

  get port(): number { return this.pg.port; }

  static async start(o: RealSideOptions): Promise<RealSide> {
    const { setup } = o;
    const pg = await RealPostgres.start({
      major: o.major,
      ...(o.binDir !== undefined ? { binDir: o.binDir } : {}),
      ...(o.installation ? { installation: o.installation } : {}),
      // verbose: each message carries its SQLSTATE (and a LOCATION line the parser drops).
      conf: { ...setup.conf, log_error_verbosity: 'verbose', ...(setup.serverSsl ? {} : { ssl: false }) },
      hba: setup.hba,
      rolesSql: setup.roles,
      ...(setup.serverSsl ? { tls: TLS_FILES } : {}),
      probe: true,
      ...(o.probeBuild ? { probeBuild: o.probeBuild } : {}),
      ...(o.setupSql ? { setupSql: o.setupSql } : {}),
      ...(o.restartAfterSetup ? { restartAfterSetup: true } : {}),
    });
    return new RealSide(pg);
  }

  normaliser(): Normaliser {
    return { dataDir: this.pg.dataDir, port: this.pg.port };
  }

  async observe(client: ClientAt): Promise<Observation> {
    const off = this.pg.logOffset();
    const r = await client(this.pg.port);
    await this.pg.waitQuiet();
    const n = this.normaliser();
    return { ...clientFields(r, n), ...logObservation(realMessages(this.pg.logSince(off)), n) };
  }

  /** Wait until the postmaster has handled a reload asked for since log offset `off` (pg_reload_conf() only signals it). */
  async reloaded(off: number, timeoutMs = 10_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    // Under log_error_verbosity = verbose the line carries its SQLSTATE: `LOG:  00000: received SIGHUP, ...`.
    while (!this.pg.logSince(off).some((e) => /^LOG: {2}(?:00000: )?received SIGHUP, reloading configuration files/.test(e.text))) {
      if (Date.now() > deadline) throw new Error(`PostgreSQL ${this.pg.major} did not log the reload within ${timeoutMs} ms`);
      await sleep(5);
    }
    await this.pg.waitQuiet();
  }

  stop(): Promise<void> { return this.pg.stop(); }
}

export interface SimSideOptions {
  /**
   * shared_preload_libraries for the simulator, the probe module put first
   * as hook_probe is on the real server. Without it the conf's list is used
   * and the probe is loaded after it (as an extension module).
   */
  preload?: readonly string[];
  /** The bootstrap superuser's name (initdb -U), e.g. the real side's `boot`. */
  bootstrapSuperuser?: string;
}

export class SimSide implements Side {
  private constructor(readonly cluster: TestCluster, readonly port: number, private readonly probeName: string) {}

  /** `server_version` first; a simulator that refuses it runs as its default, and `note` says so. */
  static async start(major: PgMajor, setup: SideSetup, note: (n: string) => void, o: SimSideOptions = {}): Promise<SimSide> {
    const conf: Record<string, ConfValue> = {
      ...setup.conf,
      log_connections: true,
      ssl: setup.serverSsl,
      ...(setup.serverSsl ? { ssl_cert_file: TLS_FILES.cert, ssl_key_file: TLS_FILES.key, ssl_ca_file: TLS_FILES.ca } : {}),
      ...(o.preload ? { shared_preload_libraries: [SIM_PROBE_LIBRARY, ...o.preload].join(',') } : {}),
    };
    const start = (c: Record<string, ConfValue>) => TestCluster.start({
      postgresqlConf: confText(c), hba: setup.hba, roles: setup.roles, clock: 'real',
      extensions: o.preload ? [] : [SIM_PROBE],
      ...(o.bootstrapSuperuser !== undefined ? { bootstrapSuperuser: o.bootstrapSuperuser } : {}),
    });
    let cluster: TestCluster;
    try {
      cluster = await start({ server_version: String(major), ...conf });
    } catch (e) {
      if (!(e instanceof StartupError) || !JSON.stringify([e.message, e.messages]).includes('server_version')) throw e;
      cluster = await start(conf);
      // The line that names the setting, without the throwaway directory, so the note is the same for every group.
      const why = [...e.messages.map((m) => m.message), e.message].find((m) => m.includes('server_version')) ?? e.message;
      note(`pg-authsim refused server_version = '${major}' (${why.replace(/"[^"]*\/postgresql\.conf"/g, '"postgresql.conf"')}); it ran as its default version`);
    }
    try {
      return new SimSide(cluster, await cluster.listen(0), o.preload ? SIM_PROBE_LIBRARY : SIM_PROBE.name!);
    } catch (e) {
      await cluster.close();
      throw e;
    }
  }

  normaliser(): Normaliser {
    return { dataDir: this.cluster.dataDirectory, port: this.port };
  }

  /** Wait until every backend has finished (its log lines and hook calls are in the trace). */
  async settle(): Promise<void> {
    // Let the server see a connection the client opened and dropped before it waits for the backends.
    await sleep(10);
    await this.cluster.idle();
  }

  async observe(client: ClientAt): Promise<Observation> {
    const trace = this.cluster.trace;
    trace.clear();
    const r = await client(this.port);
    await this.settle();
    const n = this.normaliser();
    const settings = { ...this.cluster.server.settings, logLinePrefix: '' } as LogSettings;
    const log = logObservation(simMessages(trace.events, settings), n);
    return {
      ...clientFields(r, n),
      ...log,
      // The trace's own counts rather than the log's: they hold even if log_connections rendering changes.
      tcpConnections: trace.connectionCount(),
      hookCalls: trace.hookCalls(this.probeName).map(hookCallLabel),
    };
  }

  stop(): Promise<void> { return this.cluster.close(); }
}
