/**
 * The conformance runner: the same real clients against a real PostgreSQL
 * (15 to 18, or a bin directory of the user's own) and against pg-authsim
 * set up for that major, case by case, and what each side showed.
 *
 * Per group of scenarios (same ssl, pg_hba.conf line and roles) it starts
 * one real server (hook_probe ahead of auth_delay, log_error_verbosity =
 * verbose so every message carries its SQLSTATE) and one simulator
 * (server_version = the major, a pass-through hook named hook_probe), then
 * runs each case on both at once. Groups run `jobs` at a time, interleaved
 * across majors. The client is psql 15 on that major's libpq
 * (LD_LIBRARY_PATH), or psycopg 3 with the libpq it bundles.
 */
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { parseArgs, promisify } from 'node:util';
import { PG_MAJORS, type PgMajor, type ProbeBuildOptions } from './probe.js';
import { locatePostgres, locatePostgresIn, PSQL, type ConfValue, type PgInstallation } from './real-server.js';
import { RealSide, SimSide, type SideSetup } from './sides.js';
import { conninfoOptions, defaultScenarios, filterScenarios, groupScenarios, PASSWORDS, type ClientName, type Scenario } from './scenarios.js';
import { spawnClient, type ClientRun } from './client-run.js';
import { parseExtensionArg, readRecording, runDifferential, writeRecording, type DifferentialReport, type ExtensionPair } from './differential.js';
import { readScenarioFile } from './extension-scenarios.js';
import { caseOutcome, exitCodeFor, renderReport, type CaseResult, type ConformanceReport, type Observation, type ReportFormat, type VersionSummary } from './compare.js';

const run = promisify(execFile);

export { logObservation, realMessages, simMessages, type Normaliser } from './observe.js';
export type { SideSetup } from './sides.js';

export interface ConformanceOptions {
  /** Majors to compare (default 15 to 18); ignored with `pgBin`, whose major is used. */
  versions?: readonly PgMajor[];
  /** Default: defaultScenarios(). */
  scenarios?: readonly Scenario[];
  /** Keep scenarios whose id contains this. */
  filter?: string;
  /** Only these clients' scenarios. */
  clients?: readonly ClientName[];
  /** Groups run at once (default 2: this machine class has 2 cores). */
  jobs?: number;
  /** auth_delay.milliseconds on both sides; 0 leaves auth_delay out (default 50). */
  authDelayMs?: number;
  /** A PostgreSQL bin directory of the user's own instead of the built-in 15-18. */
  pgBin?: string;
  /** Change the simulator's setup, e.g. to check that the kit notices a difference. */
  alterSimulator?: (setup: SideSetup, major: PgMajor) => SideSetup;
  /** One line per finished group. */
  onProgress?: (line: string) => void;
  /** The Python interpreter for psycopg cases (default: python3 on PATH). */
  python?: string;
  /** Install psycopg[binary] with pip when it is missing (default true). */
  installPsycopg?: boolean;
}

// ---------------------------------------------------------------- clients

export type { ClientRun } from './client-run.js';

interface ClientSetup {
  /** psql to run, and the LD_LIBRARY_PATH that gives it this major's libpq. */
  psql: string;
  libpqDir: string;
  /** Python with psycopg, or why there is none. */
  python: { path: string } | { unavailable: string };
  /** An empty HOME: no ~/.pgpass, no ~/.postgresql/root.crt. */
  home: string;
}

const PSYCOPG_SCRIPT = `
import sys
import psycopg
try:
    conn = psycopg.connect(sys.argv[1])
except psycopg.Error as e:
    print(f"{type(e).__name__}: {e}", file=sys.stderr)
    sys.exit(2)
with conn:
    # The simple query protocol (PQexec), as psql uses.
    res = conn.pgconn.exec_(b"select 1")
    if res.status != psycopg.pq.ExecStatus.TUPLES_OK:
        print(res.error_message.decode(), file=sys.stderr, end="")
        sys.exit(1)
    print(res.get_value(0, 0).decode())
`;

/** Run the scenario's client against 127.0.0.1:port; the same command and environment for either side. */
export function runClient(s: Scenario, port: number, c: ClientSetup): Promise<ClientRun> {
  const conninfo = `${conninfoOptions(s)} port=${port}`;
  const env: Record<string, string> = {
    PATH: '/usr/bin:/bin',
    LC_ALL: 'C',
    LANG: 'C',
    HOME: c.home,
    PGPASSFILE: path.join(c.home, 'no-passfile'),
  };
  if (s.password !== 'none') env.PGPASSWORD = PASSWORDS[s.password];
  if (s.client === 'psql') {
    env.LD_LIBRARY_PATH = c.libpqDir;
    return spawnClient(c.psql, ['-X', '-w', '-c', 'select 1', conninfo], env);
  }
  if ('unavailable' in c.python) return Promise.reject(new Error(`psycopg: ${c.python.unavailable}`));
  // psycopg's wheel carries its own libpq (18); LD_LIBRARY_PATH is left out so nothing else can shadow it.
  return spawnClient(c.python.path, ['-c', PSYCOPG_SCRIPT, conninfo], env);
}

export interface PsycopgInfo {
  python: string;
  version: string;
  libpq: number;
}

/** The interpreter that has psycopg, after a pip install if allowed and needed; throws with the reason otherwise. */
export async function ensurePsycopg(python = 'python3', install = true): Promise<PsycopgInfo> {
  const probe = async (): Promise<PsycopgInfo> => {
    const { stdout } = await run(python, ['-c', 'import sys, psycopg; print(sys.executable); print(psycopg.__version__); print(psycopg.pq.version())'], { timeout: 30_000 });
    const [exe, version, libpq] = stdout.trim().split('\n');
    return { python: exe!, version: version!, libpq: Number(libpq) };
  };
  try {
    return await probe();
  } catch (first) {
    if (!install) throw new Error(`${python} cannot import psycopg: ${(first as Error).message.split('\n')[0]}`);
    try {
      await run(python, ['-m', 'pip', 'install', '--quiet', 'psycopg[binary]'], { timeout: 300_000 });
    } catch (e) {
      const err = e as { stderr?: string; message: string };
      throw new Error(`pip install psycopg[binary] failed: ${(err.stderr || err.message).trim().split('\n').slice(-3).join(' ')}`);
    }
    return probe();
  }
}

// ---------------------------------------------------------------- running

interface Group {
  major: PgMajor;
  scenarios: Scenario[];
}

async function pool<T>(items: readonly T[], jobs: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const item = items[next++]!;
      await fn(item);
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(jobs, items.length)) }, worker));
}

function errorText(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

/** Whether pg_config's server headers are there, so hook_probe can be built natively for a custom installation. */
async function hasServerHeaders(pgConfig: string): Promise<boolean> {
  try {
    const { stdout } = await run(pgConfig, ['--includedir-server']);
    return existsSync(path.join(stdout.trim(), 'postgres.h'));
  } catch {
    return false;
  }
}

export async function runConformance(opts: ConformanceOptions = {}): Promise<ConformanceReport> {
  const t0 = performance.now();
  const notes: string[] = [];
  const note = (n: string) => { if (!notes.includes(n)) notes.push(n); };
  const authDelayMs = opts.authDelayMs ?? 50;

  const installs = new Map<PgMajor, PgInstallation>();
  let custom = false;
  if (opts.pgBin !== undefined) {
    const install = locatePostgresIn(opts.pgBin);
    installs.set(install.major, install);
    custom = true;
  } else {
    for (const major of opts.versions ?? PG_MAJORS) installs.set(major, locatePostgres(major));
  }

  let scenarios = filterScenarios(opts.scenarios ?? defaultScenarios(), opts.filter);
  if (opts.clients) scenarios = scenarios.filter((s) => opts.clients!.includes(s.client));
  if (scenarios.length === 0) throw new Error(`no scenario matches${opts.filter ? ` "${opts.filter}"` : ''}${opts.clients ? ` for ${opts.clients.join(', ')}` : ''}`);

  let python: ClientSetup['python'] = { unavailable: 'not needed' };
  if (scenarios.some((s) => s.client === 'psycopg')) {
    try {
      const info = await ensurePsycopg(opts.python, opts.installPsycopg ?? true);
      python = { path: info.python };
      note(`psycopg ${info.version} (libpq ${Math.floor(info.libpq / 10000)}.${info.libpq % 10000}) from ${info.python}`);
    } catch (e) {
      python = { unavailable: errorText(e) };
      note(`psycopg cases skipped: ${errorText(e)}`);
    }
  }

  const home = mkdtempSync(path.join(tmpdir(), 'pg-authsim-conformance-home-'));
  const results: CaseResult[] = [];
  const realVersions = new Map<PgMajor, string>();
  const secondsByMajor = new Map<PgMajor, number>();

  // Interleave majors so that the groups running at once are usually of different majors.
  const perMajor = [...installs.keys()].map((major) => groupScenarios(scenarios).map((g): Group => ({ major, scenarios: g })));
  const groups: Group[] = [];
  for (let i = 0; perMajor.some((l) => i < l.length); i++) for (const l of perMajor) if (i < l.length) groups.push(l[i]!);

  try {
    await pool(groups, opts.jobs ?? 2, async (group) => {
      const tg = performance.now();
      const { major } = group;
      const install = installs.get(major)!;
      const first = group.scenarios[0]!;
      const delay = authDelayMs > 0 && existsSync(path.join(install.pkglibDir, 'auth_delay.so')) ? authDelayMs : 0;
      if (authDelayMs > 0 && delay === 0) note(`PostgreSQL ${major} at ${install.binDir} has no auth_delay.so: auth_delay left out on both sides`);
      const conf: Record<string, ConfValue> = {
        password_encryption: 'scram-sha-256',
        ...(delay > 0 ? { shared_preload_libraries: 'auth_delay', 'auth_delay.milliseconds': delay } : {}),
      };
      const realSetup: SideSetup = { serverSsl: first.serverSsl, hba: `${first.hbaLine}\n`, roles: first.roles, conf };
      const simSetup = opts.alterSimulator ? opts.alterSimulator(structuredClone(realSetup), major) : realSetup;
      const probeBuild: ProbeBuildOptions = custom && install.pgConfig && await hasServerHeaders(install.pgConfig) ? { pgConfig: install.pgConfig } : {};
      const client: Omit<ClientSetup, 'python'> = { psql: install.psql ?? PSQL, libpqDir: install.libpqDir, home };

      const [real, sim] = await Promise.allSettled([
        RealSide.start({ major, setup: realSetup, ...(custom ? { binDir: install.binDir } : {}), probeBuild }),
        SimSide.start(major, simSetup, note),
      ]);
      try {
        if (real.status === 'rejected' || sim.status === 'rejected') {
          const why = [
            real.status === 'rejected' ? `real PostgreSQL ${major} did not start: ${errorText(real.reason)}` : null,
            sim.status === 'rejected' ? `pg-authsim did not start: ${errorText(sim.reason)}` : null,
          ].filter(Boolean).join('; ');
          for (const s of group.scenarios) results.push({ major, scenario: s, real: null, sim: null, error: why });
          return;
        }
        if (!realVersions.has(major)) realVersions.set(major, await real.value.pg.version());
        for (const s of group.scenarios) {
          if (s.client === 'psycopg' && 'unavailable' in python) {
            results.push({ major, scenario: s, real: null, sim: null, skipped: python.unavailable });
            continue;
          }
          const setup: ClientSetup = { ...client, python };
          const at = (port: number) => runClient(s, port, setup);
          const [r, m] = await Promise.allSettled([real.value.observe(at), sim.value.observe(at)]);
          const error = [
            r.status === 'rejected' ? `real: ${errorText(r.reason)}` : null,
            m.status === 'rejected' ? `pg-authsim: ${errorText(m.reason)}` : null,
          ].filter(Boolean).join('; ');
          results.push({
            major, scenario: s,
            real: r.status === 'fulfilled' ? r.value : null,
            sim: m.status === 'fulfilled' ? m.value : null,
            ...(error ? { error } : {}),
          });
        }
      } finally {
        await Promise.allSettled([real, sim].map((p) => (p.status === 'fulfilled' ? p.value.stop() : Promise.resolve())));
        const seconds = (performance.now() - tg) / 1000;
        secondsByMajor.set(major, (secondsByMajor.get(major) ?? 0) + seconds);
        const mine = results.filter((r) => r.major === major && group.scenarios.includes(r.scenario));
        const agree = mine.filter((r) => caseOutcome(r) === 'agree').length;
        opts.onProgress?.(`[${major}] ${first.hbaLine} ssl=${first.serverSsl ? 'on' : 'off'}: ${agree}/${mine.length} agree (${seconds.toFixed(1)} s)`);
      }
    });
  } finally {
    rmSync(home, { recursive: true, force: true });
  }

  // Results in a stable order whatever the scheduling: by major, then as the scenarios were given.
  const order = new Map(scenarios.map((s, i) => [s, i]));
  results.sort((a, b) => a.major - b.major || order.get(a.scenario)! - order.get(b.scenario)!);
  const versions: VersionSummary[] = [...installs.keys()].sort((a, b) => a - b).map((major) => {
    const mine = results.filter((r) => r.major === major);
    const count = (o: ReturnType<typeof caseOutcome>) => mine.filter((r) => caseOutcome(r) === o).length;
    return {
      major,
      realVersion: realVersions.get(major) ?? '?',
      cases: mine.length,
      agreeing: count('agree'),
      differing: count('differ'),
      errors: count('error'),
      skipped: count('skipped'),
      seconds: Math.round((secondsByMajor.get(major) ?? 0) * 10) / 10,
    };
  });
  return { versions, results, notes, seconds: Math.round(performance.now() - t0) / 1000 };
}

// ---------------------------------------------------------------- command line

export const CONFORMANCE_HELP = `Usage: pg-authsim conformance [options]

Runs real clients (psql 15 on each major's libpq, psycopg 3) against real
PostgreSQL and against pg-authsim set up as the same major, and diffs what
each side showed: exit code, client error, TCP connections, hook calls,
SQLSTATEs and the server log per connection. Exits 1 on any difference.
The real server runs as you; run as root, it runs as the postgres OS user.

Options:
  --versions LIST    majors to compare (default 15,16,17,18)
  --pg-bin DIR       compare with your own PostgreSQL (15-18): a bin directory with
                     postgres, initdb and pg_ctl (and psql, pg_config if present)
  --format F         table (default), markdown or json
  --filter TEXT      only scenarios whose id contains TEXT, e.g. "hostssl" or "/psycopg"
  --clients LIST     psql, psycopg or both (default both)
  --jobs N           groups run at once (default 2)
  --auth-delay MS    auth_delay.milliseconds on both sides, 0 for none (default 50)
  --list             print the scenario ids and exit
  --help             show this help

Extension differential (a C extension against its TypeScript port):
  pg-authsim conformance --scenarios FILE --extension LIB.so=PORT.js [...]

  Runs the psql cases of a scenario file on real PostgreSQL 15 (or --pg-bin)
  with LIB.so in shared_preload_libraries (and CREATE EXTENSION when a
  control file sits beside it; nothing is installed into your PostgreSQL)
  and on pg-authsim with the port, and diffs every run: the fields above,
  the output of the harness's reset/before SQL, and the state query after
  every run. The scenario file format is in the README ("Porting a C
  extension"); examples/extensions/*.scenarios.json are worked examples.

  --scenarios FILE   the scenario file (JSON)
  --extension L=P    a built library and its port (repeatable); with --against,
                     NAME=PORT.js is enough
  --state SQL        read state with this query instead of the file's "state"
  --reset SQL        reset state with this instead of the file's "reset"
  --record FILE      also write the real side's observations, for --against
  --against FILE     replay a recording as the real side (no C library or
                     compiler needed, e.g. in CI); pg-authsim still runs live
  --filter, --format, --jobs and --pg-bin apply as above (a filtered run starts
                     where the file's earlier cases would have left state: the
                     output of a reset may then differ from a full run's)
`;

export interface ConformanceIo {
  stdout: (text: string) => void;
  stderr: (text: string) => void;
}

const defaultIo: ConformanceIo = { stdout: (t) => { process.stdout.write(t); }, stderr: (t) => { process.stderr.write(t); } };

function parseList<T extends string | number>(value: string, allowed: readonly T[], what: string): T[] {
  const items = value.split(',').map((v) => v.trim()).filter(Boolean);
  const out: T[] = [];
  for (const item of items) {
    const found = allowed.find((a) => String(a) === item);
    if (found === undefined) throw new Error(`unknown ${what} "${item}" (expected ${allowed.join(', ')})`);
    if (!out.includes(found)) out.push(found);
  }
  if (out.length === 0) throw new Error(`--${what}s needs at least one value`);
  return out;
}

/** The extension differential's command-line options (present when --scenarios is given). */
export interface DifferentialArgs {
  scenarios: string;
  extensions: ExtensionPair[];
  state?: string;
  reset?: string;
  record?: string;
  against?: string;
}

/** The options `argv` asks for, or an error to print with exit code 2. */
export function parseConformanceArgs(argv: readonly string[]): { options: ConformanceOptions; format: ReportFormat; help: boolean; list: boolean; differential: DifferentialArgs | null } {
  const { values } = parseArgs({
    args: [...argv],
    options: {
      versions: { type: 'string' },
      'pg-bin': { type: 'string' },
      format: { type: 'string' },
      filter: { type: 'string' },
      clients: { type: 'string' },
      jobs: { type: 'string' },
      'auth-delay': { type: 'string' },
      list: { type: 'boolean' },
      help: { type: 'boolean' },
      scenarios: { type: 'string' },
      extension: { type: 'string', multiple: true },
      state: { type: 'string' },
      reset: { type: 'string' },
      record: { type: 'string' },
      against: { type: 'string' },
    },
  });
  const format = values.format ?? 'table';
  if (format !== 'table' && format !== 'markdown' && format !== 'json') throw new Error(`unknown format "${format}" (expected table, markdown or json)`);
  const options: ConformanceOptions = {};
  if (values.versions !== undefined) options.versions = parseList(values.versions, PG_MAJORS, 'version');
  if (values['pg-bin'] !== undefined) {
    if (values.versions !== undefined) throw new Error('--pg-bin and --versions exclude each other: the bin directory decides the version');
    options.pgBin = values['pg-bin'];
  }
  if (values.filter !== undefined) options.filter = values.filter;
  if (values.clients !== undefined) options.clients = parseList(values.clients, ['psql', 'psycopg'] as const, 'client');
  const int = (v: string, name: string, min: number) => {
    if (!/^\d+$/.test(v) || Number(v) < min) throw new Error(`--${name} needs an integer of at least ${min}, got "${v}"`);
    return Number(v);
  };
  if (values.jobs !== undefined) options.jobs = int(values.jobs, 'jobs', 1);
  if (values['auth-delay'] !== undefined) options.authDelayMs = int(values['auth-delay'], 'auth-delay', 0);
  let differential: DifferentialArgs | null = null;
  if (values.scenarios !== undefined) {
    for (const k of ['versions', 'clients', 'auth-delay', 'list'] as const) {
      if (values[k] !== undefined) throw new Error(`--${k} is for the conformance grid, not --scenarios (the scenario file sets up the servers)`);
    }
    if (!values.extension || values.extension.length === 0) throw new Error('--scenarios needs at least one --extension LIBRARY=PORT');
    if (values.record !== undefined && values.against !== undefined) throw new Error('--record and --against exclude each other: a recording comes from a live real side');
    differential = {
      scenarios: values.scenarios,
      extensions: values.extension.map(parseExtensionArg),
      ...(values.state !== undefined ? { state: values.state } : {}),
      ...(values.reset !== undefined ? { reset: values.reset } : {}),
      ...(values.record !== undefined ? { record: values.record } : {}),
      ...(values.against !== undefined ? { against: values.against } : {}),
    };
  } else {
    for (const k of ['extension', 'state', 'reset', 'record', 'against'] as const) {
      if (values[k] !== undefined) throw new Error(`--${k} needs --scenarios FILE`);
    }
  }
  return { options, format, help: values.help ?? false, list: values.list ?? false, differential };
}

/** `conformance --scenarios ...`: the extension differential; prints its report, writes a recording when asked. */
async function differentialMain(d: DifferentialArgs, options: ConformanceOptions, format: ReportFormat, io: ConformanceIo): Promise<number> {
  let report: DifferentialReport;
  try {
    report = await runDifferential({
      scenarios: readScenarioFile(d.scenarios),
      extensions: d.extensions,
      ...(d.state !== undefined ? { state: d.state } : {}),
      ...(d.reset !== undefined ? { reset: d.reset } : {}),
      ...(d.against !== undefined ? { against: readRecording(d.against) } : {}),
      ...(options.filter !== undefined ? { filter: options.filter } : {}),
      ...(options.pgBin !== undefined ? { pgBin: options.pgBin } : {}),
      ...(options.jobs !== undefined ? { jobs: options.jobs } : {}),
      onProgress: (l) => io.stderr(`${l}\n`),
    });
  } catch (e) {
    io.stderr(`pg-authsim conformance: ${errorText(e)}\n`);
    return 1;
  }
  io.stdout(renderReport(report, format));
  if (d.record !== undefined) {
    if (!report.recording) {
      io.stderr(`pg-authsim conformance: not writing ${d.record}: some runs did not complete on both sides\n`);
      return 1;
    }
    writeRecording(d.record, report.recording);
    io.stderr(`recorded ${report.results.length} runs of the real side to ${d.record}\n`);
  }
  if (format !== 'json') io.stderr(`conformance: ${report.results.length} runs in ${report.seconds.toFixed(1)} s\n`);
  return exitCodeFor(report);
}

/** `pg-authsim conformance ...`: prints the report, returns the exit code (0 all agree, 1 differences or errors, 2 usage). */
export async function conformanceMain(argv: readonly string[], io: ConformanceIo = defaultIo): Promise<number> {
  let parsed: ReturnType<typeof parseConformanceArgs>;
  try {
    parsed = parseConformanceArgs(argv);
  } catch (e) {
    io.stderr(`pg-authsim conformance: ${errorText(e)}\nTry "pg-authsim conformance --help".\n`);
    return 2;
  }
  if (parsed.help) { io.stdout(CONFORMANCE_HELP); return 0; }
  if (parsed.differential) return differentialMain(parsed.differential, parsed.options, parsed.format, io);
  if (parsed.list) {
    let list = filterScenarios(defaultScenarios(), parsed.options.filter);
    if (parsed.options.clients) list = list.filter((s) => parsed.options.clients!.includes(s.client));
    io.stdout(list.map((s) => `${s.id}\n`).join(''));
    return 0;
  }
  let report: ConformanceReport;
  try {
    report = await runConformance({ ...parsed.options, onProgress: (l) => io.stderr(`${l}\n`) });
  } catch (e) {
    io.stderr(`pg-authsim conformance: ${errorText(e)}\n`);
    return 1;
  }
  io.stdout(renderReport(report, parsed.format));
  if (parsed.format !== 'json') io.stderr(`conformance: ${report.results.length} cases in ${report.seconds.toFixed(1)} s\n`);
  return exitCodeFor(report);
}
