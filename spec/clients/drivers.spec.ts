/**
 * Driver models against the real drivers, case by case. Each case runs twice:
 *
 * - the REAL driver (pg 8.23.1 in this process; postgres 3.4.9 in this process; pgjdbc 42.7.13
 *   in one JVM; asyncpg in one Python process) over TCP against a real-clock TestCluster;
 * - the MODEL (src/clients/drivers) in-process against a virtual-clock TestCluster with the
 *   same configuration;
 *
 * and the two server-side views must agree: the number of TCP connections, the
 * ClientAuthentication_hook calls (status and TLS), a per-connection transcript (SSLRequest
 * answer, TLS, startup, SASL mechanism, hook, errors sent, errors only logged), and the error
 * the driver reports (text, SQLSTATE or code, class where the driver has one).
 *
 * Grid: server ssl on/off × sslmode {disable, allow, prefer, require, unset} × password
 * {right, wrong, none} against `host all all 127.0.0.1/32 scram-sha-256`, plus `hostssl` and
 * `hostnossl` lines for allow/prefer with a wrong or no password (where pgjdbc's 28000-only
 * retry and asyncpg's retry differ), a `reject` line, and an md5 line. Then per-driver extras
 * (trusted and untrusted root certificates, verify modes, node-postgres's socket dropped after
 * the rejection) and a scripted fake server for what PostgreSQL does not readily do (an 'E'
 * answer to SSLRequest, a close right after the startup packet).
 *
 * The drivers run with their default options: pgjdbc SETs application_name after login,
 * postgres.js fetches the array types and runs `select 1` over the extended protocol, as an
 * application's would. PG* variables are cleared and no password file is read.
 */
import { expect } from 'chai';
import { spawn, execFileSync, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { mkdtempSync, mkdirSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import * as path from 'node:path';
import * as net from 'node:net';
import { createInterface } from 'node:readline';
import pg from 'pg';
import postgres from 'postgres';
import { TestCluster } from '../../src/testing/index.js';
import type { ExtensionModule } from '../../src/extensions/extension.js';
import { inProcessTransport } from '../../src/clients/libpq/transport.js';
import { DRIVER_PROFILES, type DriverResult } from '../../src/clients/drivers/index.js';
import { CERTS } from '../support/fixtures.js';
import { seen } from '../support/driver-transcript.js';
import { FakeServer, SCRIPTS, type FakeScript } from '../support/fake-server.js';

const ROLES = "CREATE ROLE test LOGIN PASSWORD 'secret';";
const PASSWORDS = { right: 'secret', wrong: 'wrong', none: null } as const;
type PasswordKind = keyof typeof PASSWORDS;
const SSLMODES = ['disable', 'allow', 'prefer', 'require', 'unset'] as const;

/** A hook that does nothing, so that every ClientAuthentication_hook call is traced. */
const hookProbe: ExtensionModule = {
  name: 'hook_probe',
  _PG_init(ctx) {
    const previous = ctx.hooks.ClientAuthentication_hook;
    ctx.hooks.ClientAuthentication_hook = async (port, status) => {
      if (previous) await previous(port, status);
    };
  },
};

interface ServerConfig { key: string; ssl: boolean; hba: string; roles?: string }
const CONFIGS: ServerConfig[] = [
  { key: 'ssl=on, host', ssl: true, hba: 'host all all 127.0.0.1/32 scram-sha-256' },
  { key: 'ssl=off, host', ssl: false, hba: 'host all all 127.0.0.1/32 scram-sha-256' },
  { key: 'ssl=on, hostssl', ssl: true, hba: 'hostssl all all 127.0.0.1/32 scram-sha-256' },
  { key: 'ssl=on, hostnossl', ssl: true, hba: 'hostnossl all all 127.0.0.1/32 scram-sha-256' },
  // FATAL 28000 before any hook on every connection: pgjdbc's prefer retries even after 'N'.
  { key: 'ssl=off, reject', ssl: false, hba: 'host all all 127.0.0.1/32 reject' },
  // An md5 line and an md5-stored password: AuthenticationMD5Password instead of SASL.
  { key: 'ssl=off, md5', ssl: false, hba: 'host all all 127.0.0.1/32 md5', roles: "SET password_encryption = 'md5';\n" + ROLES },
];

interface Case {
  config: ServerConfig;
  /** 'unset' leaves the driver's default; other words go where the driver takes them (URL, property, ssl=). */
  sslmode: string;
  password: PasswordKind;
  /** More driver options by their vocabulary names, given to the real driver and the model alike. */
  params?: Record<string, string>;
  /** node-postgres: after connect() rejects, destroy the socket (a process that dies) instead of client.end(). */
  destroyAfterRejection?: boolean;
  /**
   * A client-side certificate verification failure in the JVM or Python: their TLS stacks send
   * the server an alert Node's does not, so the server's "could not accept SSL connection" log
   * line is left out of the comparison (everything else, the error text included, must match).
   */
  tlsAlertDiffers?: boolean;
}
const GRID: Case[] = [
  ...CONFIGS.slice(0, 2).flatMap((config) => SSLMODES.flatMap((sslmode) => (['right', 'wrong', 'none'] as const).map((password) => ({ config, sslmode, password })))),
  ...CONFIGS.slice(2, 4).flatMap((config) => (['allow', 'prefer'] as const).flatMap((sslmode) => (['wrong', 'none'] as const).map((password) => ({ config, sslmode, password })))),
  ...(['allow', 'prefer'] as const).map((sslmode) => ({ config: CONFIGS[4]!, sslmode, password: 'right' as const })),
  ...(['right', 'wrong', 'none'] as const).map((password) => ({ config: CONFIGS[5]!, sslmode: 'disable', password })),
];
const CA = path.join(CERTS, 'ca.crt');
/** A certificate that did not sign the server's: verification must fail. */
const NOT_THE_CA = path.join(CERTS, 'client.crt');
const [ON, OFF] = [CONFIGS[0]!, CONFIGS[1]!];
/** Beyond the grid: trusted root certificates, verify modes, and node-postgres killed while waiting. */
const EXTRA: Record<string, Case[]> = {
  pg: [
    ...['unset', 'allow', 'prefer', 'require', 'verify-ca', 'verify-full'].flatMap((sslmode) => (['right', 'wrong', 'none'] as const).map((password) => ({ config: ON, sslmode, password, params: { sslrootcert: CA } }))),
    { config: OFF, sslmode: 'unset', password: 'right', params: { sslrootcert: CA } },
    { config: ON, sslmode: 'disable', password: 'none', destroyAfterRejection: true },
  ],
  'pg-libpqcompat': [
    ...['unset', 'allow', 'prefer', 'require', 'verify-ca', 'verify-full'].flatMap((sslmode) => (['right', 'wrong', 'none'] as const).map((password) => ({ config: ON, sslmode, password, params: { sslrootcert: CA } }))),
    { config: ON, sslmode: 'prefer', password: 'none', destroyAfterRejection: true },
  ],
  'postgres.js': [
    ...[ON, OFF].flatMap((config) => (['right', 'wrong'] as const).map((password) => ({ config, sslmode: 'verify-full', password }))),
  ],
  pgjdbc: [
    ...(['right', 'wrong', 'none'] as const).map((password) => ({ config: ON, sslmode: 'verify-full', password, params: { sslrootcert: CA } })),
    { config: ON, sslmode: 'verify-ca', password: 'right', params: { sslrootcert: CA } },
    { config: OFF, sslmode: 'verify-full', password: 'right', params: { sslrootcert: CA } },
    // No ~/.postgresql/root.crt in the (empty) home directory.
    { config: ON, sslmode: 'verify-ca', password: 'right' },
    { config: ON, sslmode: 'verify-full', password: 'wrong', params: { sslrootcert: NOT_THE_CA }, tlsAlertDiffers: true },
  ],
  asyncpg: [
    ...(['right', 'wrong', 'none'] as const).map((password) => ({ config: ON, sslmode: 'verify-full', password, params: { sslrootcert: CA } })),
    { config: ON, sslmode: 'require', password: 'wrong', params: { sslrootcert: CA } },
    { config: OFF, sslmode: 'verify-ca', password: 'right', params: { sslrootcert: CA } },
    { config: ON, sslmode: 'verify-full', password: 'right' },
    { config: ON, sslmode: 'require', password: 'wrong', params: { sslrootcert: NOT_THE_CA }, tlsAlertDiffers: true },
  ],
};

/** What the driver reported, in the terms each driver exposes. */
interface Reported { ok: boolean; message?: string; code?: string; name?: string }

// ---- the real drivers -------------------------------------------------------------------

const JAVA_SOURCE = String.raw`
import java.io.*;
import java.sql.*;
import java.util.*;

/** One line per case on stdin: host, port, user, password ("\u0000" = none), then key=value properties. */
public class DriverProbe {
  public static void main(String[] args) throws Exception {
    BufferedReader in = new BufferedReader(new InputStreamReader(System.in, "UTF-8"));
    PrintStream out = new PrintStream(System.out, true, "UTF-8");
    out.println("READY");
    String line;
    while ((line = in.readLine()) != null) {
      String[] f = line.split("\t", -1);
      Properties p = new Properties();
      p.setProperty("user", f[2]);
      if (!f[3].equals("\u0000")) p.setProperty("password", f[3]);
      for (int i = 4; i < f.length; i++) {
        int eq = f[i].indexOf('=');
        if (eq > 0) p.setProperty(f[i].substring(0, eq), f[i].substring(eq + 1));
      }
      try (Connection c = DriverManager.getConnection("jdbc:postgresql://" + f[0] + ":" + f[1] + "/postgres", p)) {
        out.println("OK");
      } catch (SQLException e) {
        out.println("ERR\t" + e.getSQLState() + "\t" + String.valueOf(e.getMessage()).replace("\\", "\\\\").replace("\n", "\\n"));
      }
    }
  }
}
`;

const PYTHON_SOURCE = String.raw`
import asyncio, sys, asyncpg
from urllib.parse import quote, urlencode

async def one(f):
    # A DSN, so that sslmode and sslrootcert go where asyncpg reads them.
    host, port, user, password = f[0], f[1], f[2], f[3]
    auth = quote(user, safe='') + ('' if password == '\0' else ':' + quote(password, safe=''))
    query = urlencode([tuple(item.split('=', 1)) for item in f[4:]])
    dsn = 'postgresql://%s@%s:%s/postgres%s' % (auth, host, port, '?' + query if query else '')
    try:
        c = await asyncpg.connect(dsn)
        await c.close()
        return 'OK'
    except Exception as e:
        msg = str(e).replace('\\', '\\\\').replace('\n', '\\n')
        return 'ERR\t%s\t%s\t%s' % (type(e).__name__, getattr(e, 'sqlstate', None) or '', msg)

print('READY', flush=True)
for line in sys.stdin:
    print(asyncio.run(one(line.rstrip('\n').split('\t'))), flush=True)
`;

const unescape = (s: string) => s.replace(/\\(\\|n)/g, (_, c: string) => (c === 'n' ? '\n' : '\\'));

/** A long-lived child answering one line per request line. */
class LineChild {
  private lines: string[] = [];
  private waiting: ((l: string) => void) | null = null;
  private exited = false;
  private stderr = '';
  constructor(readonly proc: ChildProcessWithoutNullStreams) {
    createInterface({ input: proc.stdout }).on('line', (l) => {
      if (this.waiting) {
        const w = this.waiting;
        this.waiting = null;
        w(l);
      } else {
        this.lines.push(l);
      }
    });
    proc.stderr.on('data', (d: Buffer) => { this.stderr += d.toString(); });
    proc.on('exit', () => {
      this.exited = true;
      this.waiting?.(`EXITED\t${this.stderr.trim()}`);
      this.waiting = null;
    });
  }

  next(): Promise<string> {
    const l = this.lines.shift();
    if (l !== undefined) return Promise.resolve(l);
    if (this.exited) return Promise.resolve(`EXITED\t${this.stderr.trim()}`);
    return new Promise((resolve) => { this.waiting = resolve; });
  }

  async ask(fields: string[]): Promise<string> {
    this.proc.stdin.write(`${fields.join('\t')}\n`);
    return this.next();
  }

  async close(): Promise<void> {
    if (this.exited) return;
    const gone = new Promise<void>((resolve) => this.proc.once('exit', () => resolve()));
    this.proc.stdin.end();
    const timer = setTimeout(() => this.proc.kill('SIGKILL'), 5000);
    await gone;
    clearTimeout(timer);
  }
}

const PGJDBC_JAR = path.join(homedir(), '.m2/repository/org/postgresql/postgresql/42.7.13/postgresql-42.7.13.jar');

interface Runner {
  /** The real driver; the cluster listens on `port`. */
  real(c: Case, port: number): Promise<Reported>;
  /** Options for the model's profile besides sslmode. */
  modelOptions?: Record<string, string>;
  /** The model's error in the real driver's terms. */
  fromModel(r: DriverResult): Reported;
}

const pgUrl = (c: Case, port: number, compat: boolean): string => {
  const pw = PASSWORDS[c.password];
  const q: string[] = [];
  if (c.sslmode !== 'unset') q.push(`sslmode=${c.sslmode}`);
  for (const [k, v] of Object.entries(c.params ?? {})) q.push(`${k}=${encodeURIComponent(v)}`);
  if (compat) q.push('uselibpqcompat=true');
  return `postgres://test${pw === null ? '' : `:${pw}`}@127.0.0.1:${port}/postgres${q.length ? `?${q.join('&')}` : ''}`;
};

function pgRunner(compat: boolean): Runner {
  return {
    async real(c, port) {
      const client = new pg.Client({ connectionString: pgUrl(c, port, compat) });
      client.on('error', () => {});
      try {
        await client.connect();
        await client.end();
        return { ok: true };
      } catch (err) {
        // Without a password the socket is still open here: end() the client, as an application should,
        // or drop the socket as a process that exits would.
        if (c.destroyAfterRejection) (client as unknown as { connection: { stream: { destroy(): void } } }).connection.stream.destroy();
        else await client.end().catch(() => {});
        const e = err as Error & { code?: string };
        return { ok: false, message: e.message, ...(e.code !== undefined ? { code: e.code } : {}) };
      }
    },
    fromModel: (r) => (r.ok ? { ok: true } : { ok: false, message: r.error!.message, ...(r.error!.code !== undefined ? { code: r.error!.code } : {}) }),
  };
}

const postgresJsRunner: Runner = {
  async real(c, port) {
    const pw = PASSWORDS[c.password];
    const q = [...(c.sslmode === 'unset' ? [] : [`sslmode=${c.sslmode}`]), ...Object.entries(c.params ?? {}).map(([k, v]) => `${k}=${encodeURIComponent(v)}`)];
    const url = `postgres://test${pw === null ? '' : `:${pw}`}@127.0.0.1:${port}/postgres${q.length ? `?${q.join('&')}` : ''}`;
    const sql = postgres(url, { max: 1, onnotice: () => {}, connect_timeout: 10 });
    try {
      await sql`select 1`;
      return { ok: true };
    } catch (err) {
      const e = err as Error & { code?: string };
      return { ok: false, message: e.message, ...(e.code !== undefined ? { code: e.code } : {}) };
    } finally {
      await sql.end({ timeout: 1 });
    }
  },
  fromModel: (r) => (r.ok ? { ok: true } : { ok: false, message: r.error!.message, ...(r.error!.code !== undefined ? { code: r.error!.code } : {}) }),
};

function childRunner(child: () => Promise<LineChild>, props: (c: Case) => string[], parse: (line: string) => Reported, fromModel: Runner['fromModel'], modelOptions?: Record<string, string>): Runner {
  return {
    async real(c, port) {
      const pw = PASSWORDS[c.password];
      return parse(await (await child()).ask(['127.0.0.1', String(port), 'test', pw === null ? '\u0000' : pw, ...props(c)]));
    },
    fromModel,
    ...(modelOptions ? { modelOptions } : {}),
  };
}

const parseJava = (line: string): Reported => {
  const [tag, state, message] = line.split('\t');
  if (tag === 'OK') return { ok: true };
  if (tag !== 'ERR') throw new Error(`pgjdbc harness: ${line}`);
  return { ok: false, code: state!, message: unescape(message ?? '') };
};

const parsePython = (line: string): Reported => {
  const [tag, name, sqlstate, message] = line.split('\t');
  if (tag === 'OK') return { ok: true };
  if (tag !== 'ERR') throw new Error(`asyncpg harness: ${line}`);
  return { ok: false, name: name!, message: unescape(message ?? ''), ...(sqlstate ? { code: sqlstate } : {}) };
};


// ---- a scripted server (spec/support/fake-server.ts), for what a real server does not readily do -----

interface FakeCase {
  driver: string;
  sslmode: string;
  /** 'E' to SSLRequest, or a close right after the startup packet. */
  script: FakeScript;
}

const FAKE_CASES: FakeCase[] = [
  ...['pg', 'pg-libpqcompat'].flatMap((driver) => [
    { driver, sslmode: 'prefer', script: 'ssl-E' as const },
    { driver, sslmode: 'disable', script: 'close-after-startup' as const },
  ]),
  ...['prefer', 'require'].map((sslmode) => ({ driver: 'postgres.js', sslmode, script: 'ssl-E' as const })),
  ...['disable', 'prefer'].map((sslmode) => ({ driver: 'postgres.js', sslmode, script: 'close-after-startup' as const })),
  ...['prefer', 'require'].map((sslmode) => ({ driver: 'pgjdbc', sslmode, script: 'ssl-E' as const })),
  ...['disable', 'allow', 'prefer'].map((sslmode) => ({ driver: 'pgjdbc', sslmode, script: 'close-after-startup' as const })),
  ...['prefer', 'require'].map((sslmode) => ({ driver: 'asyncpg', sslmode, script: 'ssl-E' as const })),
  ...['disable', 'allow', 'prefer'].map((sslmode) => ({ driver: 'asyncpg', sslmode, script: 'close-after-startup' as const })),
];

// ---- the spec ----------------------------------------------------------------------------

describe('driver models against the real drivers (TCP, real clock) vs in-process (virtual clock)', function () {
  this.timeout(60_000);

  const real = new Map<string, { cluster: TestCluster; port: number }>();
  const model = new Map<string, TestCluster>();
  let work = '';
  /** The real drivers' (empty) home directory, which the models are told about too. */
  let home = '';
  let java: Promise<LineChild> | null = null;
  let python: Promise<LineChild> | null = null;
  const savedEnv: Record<string, string | undefined> = {};
  const children: LineChild[] = [];

  /** The JVM and Python start on first use (so a missing one fails only its own cases), in an empty HOME, with no PG* variables. */
  const childEnv = () => ({ PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: home, LANG: 'C.UTF-8' });
  const ready = async (child: LineChild, what: string): Promise<LineChild> => {
    children.push(child);
    const first = await child.next();
    if (first !== 'READY') throw new Error(`${what} harness did not start: ${first}`);
    return child;
  };
  const startJava = async (): Promise<LineChild> => {
    if (!existsSync(PGJDBC_JAR)) throw new Error(`pgjdbc 42.7.13 is not in the local Maven repository (${PGJDBC_JAR})`);
    writeFileSync(path.join(work, 'DriverProbe.java'), JAVA_SOURCE);
    execFileSync('javac', ['-d', work, path.join(work, 'DriverProbe.java')], { stdio: 'pipe' });
    // The JVM takes its home directory from user.home, not HOME.
    return ready(new LineChild(spawn('java', ['-Duser.timezone=UTC', `-Duser.home=${home}`, '-cp', `${work}:${PGJDBC_JAR}`, 'DriverProbe'], { env: childEnv() })), 'pgjdbc');
  };
  const startPython = async (): Promise<LineChild> => {
    let python3: string;
    try {
      // The interpreter asyncpg is installed for (pyenv shims need the real HOME to resolve it).
      python3 = execFileSync('python3', ['-c', 'import sys, asyncpg; print(sys.executable)'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }).trim();
    } catch {
      throw new Error('asyncpg is not importable by python3 (pip install asyncpg)');
    }
    writeFileSync(path.join(work, 'driver_probe.py'), PYTHON_SOURCE);
    return ready(new LineChild(spawn(python3, [path.join(work, 'driver_probe.py')], { env: childEnv() })), 'asyncpg');
  };

  before(async () => {
    // Real drivers in this process read PG* variables and ~/.pgpass: make them see neither.
    for (const k of Object.keys(process.env)) if (k.startsWith('PG')) { savedEnv[k] = process.env[k]; delete process.env[k]; }
    savedEnv.PGPASSFILE = process.env.PGPASSFILE;
    work = mkdtempSync(path.join(tmpdir(), 'pg-authsim-drivers-'));
    process.env.PGPASSFILE = path.join(work, 'no-such-pgpass');
    home = path.join(work, 'home');
    mkdirSync(home);

    for (const config of CONFIGS) {
      const opts = { hba: config.hba, roles: config.roles ?? ROLES, postgresqlConf: { ssl: config.ssl, ssl_ca_file: CA }, extensions: [hookProbe] };
      const cluster = await TestCluster.start({ ...opts, clock: 'real' });
      real.set(config.key, { cluster, port: await cluster.listen() });
      model.set(config.key, await TestCluster.start(opts));
    }
  });

  after(async () => {
    await Promise.all(children.map((c) => c.close()));
    for (const { cluster } of real.values()) await cluster.close();
    for (const cluster of model.values()) await cluster.close();
    for (const [k, v] of Object.entries(savedEnv)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
    if (work) rmSync(work, { recursive: true, force: true });
  });

  const RUNNERS: Record<string, Runner> = {
    pg: pgRunner(false),
    'pg-libpqcompat': pgRunner(true),
    'postgres.js': postgresJsRunner,
    pgjdbc: childRunner(
      () => (java ??= startJava()),
      (c) => [...(c.sslmode === 'unset' ? [] : [`sslmode=${c.sslmode}`]), ...Object.entries(c.params ?? {}).map(([k, v]) => `${k}=${v}`)],
      parseJava,
      (r) => (r.ok ? { ok: true } : { ok: false, message: r.error!.message, code: r.error!.code! }),
    ),
    asyncpg: childRunner(
      () => (python ??= startPython()),
      (c) => [...(c.sslmode === 'unset' ? [] : [`sslmode=${c.sslmode}`]), ...Object.entries(c.params ?? {}).map(([k, v]) => `${k}=${v}`)],
      parsePython,
      (r) => (r.ok ? { ok: true } : { ok: false, name: r.error!.name!, message: r.error!.message, ...(r.error!.code ? { code: r.error!.code } : {}) }),
    ),
  };

  for (const [driver, runner] of Object.entries(RUNNERS)) {
    describe(driver, () => {
      for (const c of [...GRID, ...(EXTRA[driver] ?? [])]) {
        const extra = [
          ...Object.entries(c.params ?? {}).map(([k, v]) => `${k}=${path.basename(v)}`),
          ...(c.destroyAfterRejection ? ['socket destroyed after the rejection'] : []),
          ...(c.tlsAlertDiffers ? ['(TLS alert in the server log not compared)'] : []),
        ];
        it(`${c.config.key}, sslmode=${c.sslmode}${extra.length ? `, ${extra.join(', ')}` : ''}, ${c.password} password: same connections, hook calls, transcript and error`, async () => {
          const r = real.get(c.config.key)!;
          r.cluster.trace.clear();
          const reported = await runner.real(c, r.port);
          await r.cluster.idle();
          const realSeen = seen(r.cluster.trace);

          const m = model.get(c.config.key)!;
          m.trace.clear();
          const result = await DRIVER_PROFILES[driver]!.connect({
            host: '127.0.0.1', port: r.port, user: 'test', database: 'postgres', password: PASSWORDS[c.password],
            options: {
              ...(c.sslmode === 'unset' ? {} : { sslmode: c.sslmode }), ...c.params, ...runner.modelOptions,
              ...(c.destroyAfterRejection ? { afterRejection: 'destroy' } : {}),
            },
          }, { transport: inProcessTransport(m.server), homeDir: home });
          await m.idle();
          const modelSeen = seen(m.trace);

          expect(modelSeen.connections, 'TCP connections').to.equal(realSeen.connections);
          expect(modelSeen.hooks, 'hook calls').to.deep.equal(realSeen.hooks);
          const alertless = (t: string[][]) => (c.tlsAlertDiffers ? t.map((conn) => conn.filter((x) => !x.startsWith('logged: could not accept SSL connection'))) : t);
          expect(alertless(modelSeen.transcript), 'per-connection transcript').to.deep.equal(alertless(realSeen.transcript));
          expect(runner.fromModel(result), 'what the driver reports').to.deep.equal(reported);
          // The model's own account matches what the server saw.
          expect(result.attempts.length, 'model attempts').to.equal(realSeen.connections);
        });
      }
    });
  }
  describe('against a scripted fake server (an E answer to SSLRequest; a silent close after the startup packet)', () => {
    for (const f of FAKE_CASES) {
      it(`${f.driver}, sslmode=${f.sslmode}, ${f.script}: same connections, packets per connection and error`, async () => {
        const runner = RUNNERS[f.driver]!;
        const c: Case = { config: CONFIGS[0]!, sslmode: f.sslmode, password: 'wrong' };
        const realFake = new FakeServer(SCRIPTS[f.script]);
        const srv = net.createServer((sock) => realFake.handle(sock));
        await new Promise<void>((resolve) => srv.listen(0, '127.0.0.1', () => resolve()));
        const port = (srv.address() as net.AddressInfo).port;
        let reported: Reported;
        try {
          reported = await runner.real(c, port);
        } finally {
          await new Promise<void>((resolve) => srv.close(() => resolve()));
        }

        const modelFake = new FakeServer(SCRIPTS[f.script]);
        const result = await DRIVER_PROFILES[f.driver]!.connect({
          host: '127.0.0.1', port, user: 'test', database: 'postgres', password: 'wrong',
          options: { sslmode: f.sslmode, ...runner.modelOptions, ...(f.driver === 'postgres.js' ? { stormLimit: '50' } : {}) },
        }, { transport: modelFake.transport(), homeDir: home });

        expect(modelFake.seen, 'packets per connection').to.deep.equal(realFake.seen);
        expect(runner.fromModel(result), 'what the driver reports').to.deep.equal(reported);
        expect(result.attempts.length, 'model attempts').to.equal(realFake.seen.length);
      });
    }
  });
});
