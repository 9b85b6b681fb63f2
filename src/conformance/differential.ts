/**
 * The extension differential: a scenario file of psql runs against real
 * PostgreSQL with a C extension in shared_preload_libraries and against
 * pg-authsim with its TypeScript port, compared run by run: what psql
 * showed, every hook call and log line (the conformance kit's Observation),
 * what the harness's SQL printed before a case (reset, before) and the
 * extension's state read with the same SQL on both sides after every run.
 *
 * The harness reads and resets state as its own superuser role over TCP,
 * with psql, through a trust line it puts first in pg_hba.conf: those
 * connections go through ClientAuthentication_hook on both sides alike, so
 * an extension that counts logins counts them on both.
 *
 * Without the C library at hand (a CI machine without a compiler or the
 * extension's source), `against` replays a recording of the real side made
 * earlier with `record`: the simulator side still runs live, with real psql.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { BOOTSTRAP_USER, locatePostgres, locatePostgresIn, PSQL, type ConfValue, type PgInstallation } from './real-server.js';
import { CA_FILE } from './scenarios.js';
import { spawnClient, spawnOnPty, type ClientRun } from './client-run.js';
import { caseOutcome, DIFFERENTIAL_FIELDS, type CaseResult, type ConformanceReport, type Observation } from './compare.js';
import { normalise, type Normaliser } from './observe.js';
import { extensionBuild, overlayInstallation, type ExtensionBuild, type Overlay } from './overlay.js';
import { RealSide, SimSide, type SideSetup } from './sides.js';
import { groupByHba, type ExtensionCase, type ExtensionScenarios } from './extension-scenarios.js';

/** The superuser the harness reads and resets state as; created after the file's roles on both sides. */
export const HARNESS_ROLE = 'authsim_harness';
/** pg_hba.conf line 1 on both sides: the harness's own way in. */
export const HARNESS_HBA_LINE = `host all ${HARNESS_ROLE} 127.0.0.1/32 trust`;

/** A C library and its TypeScript port: `path/to/credcheck.so=path/to/credcheck.js`, or `credcheck=...js` when replaying. */
export interface ExtensionPair {
  /** The library's name in shared_preload_libraries. */
  name: string;
  /** The built .so, or null (replaying a recording). */
  library: string | null;
  /** The port: an ES module exporting _PG_init. */
  port: string;
}

export function parseExtensionArg(arg: string): ExtensionPair {
  const eq = arg.lastIndexOf('=');
  if (eq <= 0 || eq === arg.length - 1) throw new Error(`--extension needs LIBRARY=PORT (e.g. build/credcheck.so=dist/credcheck.js), got "${arg}"`);
  const lib = arg.slice(0, eq);
  const port = path.resolve(arg.slice(eq + 1));
  const isFile = lib.includes('/') || lib.endsWith('.so');
  return { name: path.basename(lib).replace(/\.so$/, ''), library: isFile ? path.resolve(lib) : null, port };
}

/** What `record` writes and `against` reads: the real side's observation of every run, by case id. */
export interface Recording {
  format: 'pg-authsim-differential/1';
  /** server_version of the real server, e.g. `15.20 (Debian 15.20-0+deb12u1)`. */
  realVersion: string;
  /** The libraries that were loaded (names only). */
  extensions: string[];
  cases: Record<string, Observation[]>;
}

export function readRecording(file: string): Recording {
  const r = JSON.parse(readFileSync(file, 'utf8')) as Recording;
  if (r.format !== 'pg-authsim-differential/1') throw new Error(`${file}: not a pg-authsim differential recording`);
  return r;
}

export interface DifferentialOptions {
  scenarios: ExtensionScenarios;
  extensions: readonly ExtensionPair[];
  /** Replace the file's state / reset SQL. */
  state?: string;
  reset?: string;
  /** Only cases whose id contains this. */
  filter?: string;
  /** A PostgreSQL bin directory of your own (default: Debian's 15). */
  pgBin?: string;
  /** Replay this recording as the real side instead of running PostgreSQL. */
  against?: Recording;
  /** Groups (pg_hba.conf variants) run at once (default 2). */
  jobs?: number;
  onProgress?: (line: string) => void;
}

/** One psql run of a case, as the report names it. */
export interface RunRef {
  id: string;
  caseId: string;
  run: number;
}

export interface DifferentialReport extends ConformanceReport<RunRef> {
  /** Set when the real side ran live: what `record` writes. */
  recording: Recording | null;
}

const TIMESTAMP_RE = /\b\d{4}-\d\d-\d\d[ T]\d\d:\d\d:\d\d(?:\.\d{1,6})?(?:[+-]\d\d(?::?\d\d)?)?/g;

/**
 * psql's output of the harness SQL, comparable across servers: timestamps as
 * `<timestamp>` (both clocks are real but never equal), rows of one
 * unordered query sorted, and the exit code and errors appended.
 */
export function harnessText(r: ClientRun, sql: string, n: Normaliser): string {
  let out = normalise(r.stdout, n).replace(TIMESTAMP_RE, '<timestamp>');
  const statements = sql.trim().replace(/;\s*$/, '').split(';').filter((s) => s.trim() !== '');
  if (statements.length === 1 && !/\border\s+by\b/i.test(sql)) {
    const [header, ...rows] = out.replace(/\n$/, '').split('\n');
    if (header !== undefined && header !== '') out = `${[header, ...rows.sort()].join('\n')}\n`;
  }
  const err = normalise(r.stderr, n).replace(TIMESTAMP_RE, '<timestamp>');
  return `${out}${err ? `[stderr] ${err}` : ''}${r.exitCode !== 0 ? `[exit ${r.exitCode}]\n` : ''}`;
}

interface ClientEnv {
  psql: string;
  libpqDir: string;
  home: string;
}

function baseEnv(c: ClientEnv): Record<string, string> {
  return { PATH: '/usr/bin:/bin', LC_ALL: 'C', LANG: 'C', HOME: c.home, PGPASSFILE: path.join(c.home, 'no-passfile'), LD_LIBRARY_PATH: c.libpqDir };
}

/** The case's psql run against 127.0.0.1:port: `psql -X -w -c 'select 1'`, or interactive on a pty answering the password prompt. */
export function runCaseClient(c: ExtensionCase, passwords: { right: string; wrong: string }, port: number, env: ClientEnv): Promise<ClientRun> {
  let conninfo = `host=127.0.0.1 port=${port} user=${c.user} dbname=${c.dbname}`;
  if (c.sslmode) conninfo += ` sslmode=${c.sslmode}`;
  if (c.sslmode === 'verify-ca' || c.sslmode === 'verify-full') conninfo += ` sslrootcert=${CA_FILE}`;
  if (c.options) conninfo += ` ${c.options}`;
  const e = baseEnv(env);
  if (c.password.startsWith('prompt:')) {
    const answer = passwords[c.password.slice('prompt:'.length) as 'right' | 'wrong'];
    // pager=off: on a pty psql would page even one row and wait for a key.
    return spawnOnPty(env.psql, ['-X', '-P', 'pager=off', '-c', 'select 1', conninfo], e, /Password for user [^:]*: ?$/, answer);
  }
  if (c.password !== 'none') e.PGPASSWORD = passwords[c.password as 'right' | 'wrong'];
  return spawnClient(env.psql, ['-X', '-w', '-c', 'select 1', conninfo], e);
}

/** The harness's SQL as its superuser over TCP, CSV output; every statement runs, errors and all. */
function runHarnessSql(sql: string, port: number, env: ClientEnv): Promise<ClientRun> {
  const conninfo = `host=127.0.0.1 port=${port} user=${HARNESS_ROLE} dbname=postgres sslmode=disable`;
  return spawnClient(env.psql, ['-X', '--csv', '-f', '-', conninfo], baseEnv(env), 60_000, `${sql.trim()}\n`);
}

/** shared_preload_libraries' names, and the same list with each C library replaced by its port. */
export function preloadLists(conf: Record<string, ConfValue> | undefined, pairs: readonly ExtensionPair[]): { real: string[]; sim: string[] } {
  const given = String(conf?.shared_preload_libraries ?? '').split(',').map((s) => s.trim()).filter(Boolean);
  const real = [...given];
  for (const p of pairs) if (!real.some((l) => path.basename(l).replace(/\.so$/, '') === p.name)) real.push(p.name);
  const sim = real.map((l) => pairs.find((p) => p.name === path.basename(l).replace(/\.so$/, ''))?.port ?? l);
  return { real, sim };
}

interface GroupSides {
  real: { side: RealSide; version: string } | null;
  sim: SimSide;
}

function errorText(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

async function pool<T>(items: readonly T[], jobs: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < items.length) await fn(items[next++]!);
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(jobs, items.length)) }, worker));
}

export async function runDifferential(o: DifferentialOptions): Promise<DifferentialReport> {
  const t0 = performance.now();
  const { scenarios } = o;
  const file = scenarios.file;
  const state = o.state ?? file.state ?? null;
  const reset = o.reset ?? file.reset ?? null;
  const cases = o.filter ? scenarios.cases.filter((c) => c.id.includes(o.filter!)) : scenarios.cases;
  if (cases.length === 0) throw new Error(`no case matches "${o.filter}"`);
  if (o.extensions.length === 0) throw new Error('no --extension LIBRARY=PORT given');
  const live = o.against === undefined;
  const notes: string[] = [];

  let install: PgInstallation = o.pgBin !== undefined ? locatePostgresIn(o.pgBin) : locatePostgres(15);
  const major = install.major;
  let overlay: Overlay | null = null;
  let builds: ExtensionBuild[] = [];
  if (live) {
    const missing = o.extensions.filter((p) => p.library === null).map((p) => p.name);
    if (missing.length > 0) throw new Error(`no built library for ${missing.join(', ')}: give --extension path/to/${missing[0]}.so=PORT, or replay a recording with --against`);
    builds = o.extensions.map((p) => extensionBuild(p.library!));
    overlay = overlayInstallation(install, builds);
    install = overlay.install;
  } else {
    notes.push(`real side replayed from a recording of PostgreSQL ${o.against!.realVersion} with ${o.against!.extensions.join(', ')}`);
  }

  const preload = preloadLists(file.conf, o.extensions);
  const conf: Record<string, ConfValue> = { ...file.conf };
  delete conf.shared_preload_libraries;
  const roles = `${file.roles.trim()}\nCREATE ROLE ${HARNESS_ROLE} SUPERUSER LOGIN;\n`;
  const realSetup = file.realSetup ?? builds.filter((b) => b.sqlFiles.length > 0).map((b) => `CREATE EXTENSION ${b.name};`).join('\n');
  const home = mkdtempSync(path.join(tmpdir(), 'pg-authsim-differential-home-'));
  const env: ClientEnv = { psql: install.psql ?? PSQL, libpqDir: install.libpqDir, home };

  const results: CaseResult<RunRef>[] = [];
  const recorded: Record<string, Observation[]> = {};
  let realVersion = o.against?.realVersion ?? '?';

  const record = (c: ExtensionCase, run: number, real: Observation | null, sim: Observation | null, error?: string) => {
    const id = c.repeat > 1 ? `${c.id} #${run}` : c.id;
    results.push({ major, scenario: { id, caseId: c.id, run }, real, sim, ...(error ? { error } : {}) });
    if (live && real) (recorded[c.id] ??= []).push(real);
  };

  const startGroup = async (hba: string): Promise<GroupSides> => {
    const setup: SideSetup = { serverSsl: file.ssl ?? true, hba: `${HARNESS_HBA_LINE}\n${file.hba[hba]!.trim()}\n`, roles, conf };
    const [real, sim] = await Promise.allSettled([
      live
        ? RealSide.start({
          major, installation: install, setup: { ...setup, conf: { ...conf, shared_preload_libraries: preload.real.join(',') } },
          ...(realSetup ? { setupSql: realSetup } : {}), restartAfterSetup: true,
        })
        : Promise.resolve(null),
      SimSide.start(major, setup, (n) => { if (!notes.includes(n)) notes.push(n); }, { preload: preload.sim, bootstrapSuperuser: BOOTSTRAP_USER }),
    ]);
    if (real.status === 'rejected' || sim.status === 'rejected') {
      await Promise.allSettled([real, sim].map((p) => (p.status === 'fulfilled' && p.value ? p.value.stop() : undefined)));
      throw new Error([
        real.status === 'rejected' ? `real PostgreSQL ${major} did not start: ${errorText(real.reason)}` : null,
        sim.status === 'rejected' ? `pg-authsim did not start: ${errorText(sim.reason)}` : null,
      ].filter(Boolean).join('; '));
    }
    return { real: real.value ? { side: real.value, version: await real.value.pg.version() } : null, sim: sim.value };
  };

  /**
   * The harness's SQL on one side, observed like a case (so the log lines it caused, e.g. an
   * ERROR whose STATEMENT an emit_log_hook hid, are compared too); on the real side it also
   * waits for a reload the SQL asked for, since pg_reload_conf() only signals the postmaster.
   */
  const harness = async (side: RealSide | SimSide, sql: string, withLog: boolean): Promise<string> => {
    let raw: ClientRun | null = null;
    const off = side instanceof RealSide ? side.pg.logOffset() : 0;
    const obs = await side.observe(async (port) => (raw = await runHarnessSql(sql, port, env)));
    if (side instanceof RealSide && /pg_reload_conf\s*\(/i.test(sql) && raw!.exitCode === 0) await side.reloaded(off);
    const text = harnessText(raw!, sql, side.normaliser());
    if (!withLog) return text;
    const log = obs.errorLog.flat();
    return `${text}${log.length ? `[log] ${obs.sqlstates.join(' ')}\n${log.join('\n')}\n` : ''}`;
  };

  const replayed = (c: ExtensionCase, run: number): Observation => {
    const runs = o.against!.cases[c.id];
    const obs = runs?.[run - 1];
    if (!obs) throw new Error(`the recording has no run ${run} of "${c.id}": record again with --record`);
    return obs;
  };

  try {
    await pool(groupByHba(cases), o.jobs ?? 2, async (group) => {
      const tg = performance.now();
      const hba = group[0]!.hba;
      let sides: GroupSides;
      try {
        sides = await startGroup(hba);
      } catch (e) {
        for (const c of group) for (let run = 1; run <= c.repeat; run++) record(c, run, null, null, errorText(e));
        return;
      }
      if (sides.real) realVersion = sides.real.version;
      try {
        for (const c of group) {
          // Each piece a statement list of its own: a missing final semicolon must not glue two together.
          const sql = [c.reset && reset ? reset : null, c.before].filter((s): s is string => s !== null && s.trim() !== '')
            .map((s) => s.trim().replace(/;?$/, ';')).join('\n');
          let setupReal = '';
          let setupSim = '';
          try {
            if (sql) [setupReal, setupSim] = await Promise.all([sides.real ? harness(sides.real.side, sql, true) : Promise.resolve(''), harness(sides.sim, sql, true)]);
          } catch (e) {
            for (let run = 1; run <= c.repeat; run++) record(c, run, null, null, `harness SQL before the case: ${errorText(e)}`);
            continue;
          }
          for (let run = 1; run <= c.repeat; run++) {
            const at = (port: number) => runCaseClient(c, scenarios.passwords, port, env);
            const [r, m] = await Promise.allSettled([
              sides.real ? sides.real.side.observe(at) : Promise.resolve(replayed(c, run)),
              sides.sim.observe(at),
            ]);
            let real = r.status === 'fulfilled' ? r.value : null;
            let sim = m.status === 'fulfilled' ? m.value : null;
            let error = [
              r.status === 'rejected' ? `real: ${errorText(r.reason)}` : null,
              m.status === 'rejected' ? `pg-authsim: ${errorText(m.reason)}` : null,
            ].filter(Boolean).join('; ');
            if (real && sim && sides.real) real = { ...real, setup: run === 1 ? setupReal : '' };
            if (sim) sim = { ...sim, setup: run === 1 ? setupSim : '' };
            if (state && real && sim && !error) {
              try {
                const [sr, ss] = await Promise.all([sides.real ? harness(sides.real.side, state, false) : Promise.resolve(real.state ?? ''), harness(sides.sim, state, false)]);
                if (sides.real) real = { ...real, state: sr };
                sim = { ...sim, state: ss };
              } catch (e) {
                error = `state query: ${errorText(e)}`;
              }
            }
            record(c, run, real, sim, error || undefined);
          }
        }
      } finally {
        await Promise.allSettled([sides.real?.side.stop(), sides.sim.stop()]);
        const mine = results.filter((x) => group.some((c) => c.id === x.scenario.caseId));
        const agree = mine.filter((x) => caseOutcome(x, DIFFERENTIAL_FIELDS) === 'agree').length;
        o.onProgress?.(`[${major}] ${hba}: ${agree}/${mine.length} runs agree (${((performance.now() - tg) / 1000).toFixed(1)} s)`);
      }
    });
  } finally {
    overlay?.dispose();
    rmSync(home, { recursive: true, force: true });
  }

  // Report order: the file's, whatever the scheduling.
  const order = new Map(cases.map((c, i) => [c.id, i]));
  results.sort((a, b) => order.get(a.scenario.caseId)! - order.get(b.scenario.caseId)! || a.scenario.run - b.scenario.run);
  const count = (what: ReturnType<typeof caseOutcome>) => results.filter((r) => caseOutcome(r, DIFFERENTIAL_FIELDS) === what).length;
  const seconds = Math.round(performance.now() - t0) / 1000;
  return {
    versions: [{ major, realVersion, cases: results.length, agreeing: count('agree'), differing: count('differ'), errors: count('error'), skipped: count('skipped'), seconds }],
    results,
    fields: DIFFERENTIAL_FIELDS,
    notes,
    seconds,
    recording: live && count('error') === 0
      ? { format: 'pg-authsim-differential/1', realVersion, extensions: o.extensions.map((p) => p.name), cases: recorded }
      : null,
  };
}

export function writeRecording(file: string, r: Recording): void {
  writeFileSync(file, `${JSON.stringify(r, null, 1)}\n`);
}
