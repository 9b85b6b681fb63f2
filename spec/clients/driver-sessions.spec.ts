/**
 * Issue 9 §2, "drivers unmodified": the six real drivers connect to the simulator over TCP with
 * their DEFAULT options and run `SELECT 1` and a parameterised `SELECT $1::int` — psql 15 (which
 * has no \bind, so PREPARE/EXECUTE), node-postgres, postgres.js (its array-type fetch included),
 * psycopg 3, asyncpg and pgjdbc 42.7.13 (its post-login SET and isValid()). Each program runs
 * through a recording proxy against real PostgreSQL 15 and against the simulator: the results
 * and every message in both directions must be the same.
 *
 * Then a connection pool of each (pg-pool, postgres.js's pool, HikariCP 5.1.0 over pgjdbc,
 * asyncpg's pool) with a wrong password and across a server restart: same outcomes and the same
 * ClientAuthentication_hook calls as real PostgreSQL 15 with the hook probe.
 */
import { expect } from 'chai';
import { execFile, execFileSync, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import * as path from 'node:path';
import { createInterface } from 'node:readline';
import { promisify } from 'node:util';
import pg from 'pg';
import postgres from 'postgres';
import { TestCluster, hookCallLabel } from '../../src/testing/index.js';
import type { ExtensionModule } from '../../src/extensions/extension.js';
import { RealPg } from '../support/real-pg.js';
import { WireProxy, normaliseTranscripts } from '../support/wire-proxy.js';

const run = promisify(execFile);
const M2 = path.join(homedir(), '.m2/repository');
const PGJDBC = path.join(M2, 'org/postgresql/postgresql/42.7.13/postgresql-42.7.13.jar');
const HIKARI = path.join(M2, 'com/zaxxer/HikariCP/5.1.0/HikariCP-5.1.0.jar');
const SLF4J = path.join(M2, 'org/slf4j/slf4j-api/2.0.17/slf4j-api-2.0.17.jar');

/** Every ClientAuthentication_hook call gets traced when a hook is installed. */
const hookProbe: ExtensionModule = {
  name: 'hook_probe',
  _PG_init(ctx) {
    const previous = ctx.hooks.ClientAuthentication_hook;
    ctx.hooks.ClientAuthentication_hook = async (port, status) => { if (previous) await previous(port, status); };
  },
};

const JAVA = String.raw`
import java.io.*;
import java.sql.*;
import com.zaxxer.hikari.*;

public class Probe {
  static BufferedReader in = new BufferedReader(new InputStreamReader(System.in));
  static void out(String s) { System.out.println(s); System.out.flush(); }
  static String err(Throwable e) {
    while (e.getCause() != null && !(e instanceof SQLException)) e = e.getCause();
    return (e instanceof SQLException ? ((SQLException) e).getSQLState() + " " : "") + e.getMessage();
  }
  public static void main(String[] a) throws Exception {
    String url = "jdbc:postgresql://127.0.0.1:" + a[1] + "/postgres";
    if (a[0].equals("plain")) {
      try (Connection c = DriverManager.getConnection(url, "test", "")) {
        try (Statement s = c.createStatement(); ResultSet r = s.executeQuery("SELECT 1")) { r.next(); out("select 1: " + r.getInt(1)); }
        try (PreparedStatement p = c.prepareStatement("SELECT ?::int")) { p.setInt(1, 42); try (ResultSet r = p.executeQuery()) { r.next(); out("select $1: " + r.getInt(1)); } }
        out("isValid: " + c.isValid(5));
      }
      return;
    }
    // A HikariCP pool: no background filling, a connection checked with isValid() when borrowed after a pause.
    HikariConfig cfg = new HikariConfig();
    cfg.setJdbcUrl(url);
    cfg.setUsername("test");
    cfg.setPassword(a[2]);
    cfg.setMaximumPoolSize(2);
    cfg.setMinimumIdle(0);
    cfg.setInitializationFailTimeout(a[0].equals("wrong") ? 1 : -1);
    for (int round = 0; round < 2; round++) {
      try (HikariDataSource ds = new HikariDataSource(cfg)) {
        for (int i = 0; i < 2; i++) {
          try (Connection c = ds.getConnection(); Statement s = c.createStatement(); ResultSet r = s.executeQuery("SELECT " + (i + 1))) {
            r.next(); out("query " + i + ": " + r.getInt(1));
          } catch (Exception e) { out("query " + i + ": " + err(e)); }
          if (i == 0 && a[0].equals("restart")) { out("RESTART"); in.readLine(); Thread.sleep(700); }
        }
      } catch (Exception e) { out("pool: " + err(e)); }
      if (!a[0].equals("wrong")) break;
    }
  }
}
`;

const PSYCOPG = `
import sys, psycopg
with psycopg.connect(f"host=127.0.0.1 port={sys.argv[1]} user=test dbname=postgres") as conn:
    print("select 1:", conn.execute("SELECT 1").fetchone()[0])
    print("select $1:", conn.execute("SELECT %s::int", (42,)).fetchone()[0])
`;

const ASYNCPG = `
import sys, asyncio, asyncpg
async def plain(port):
    c = await asyncpg.connect(f"postgresql://test@127.0.0.1:{port}/postgres")
    print("select 1:", await c.fetchval("SELECT 1"))
    print("select $1:", await c.fetchval("SELECT $1::int", 42))
    await c.close()
def err(e):
    return f"{getattr(e, 'sqlstate', '') or type(e).__name__} {e}"
async def introspection(port):
    # Arrays other than text[] and oid[], and pg_type's own columns: asyncpg asks the server what they are.
    c = await asyncpg.connect(f"postgresql://test@127.0.0.1:{port}/postgres")
    print("int4[]:", await c.fetchval("SELECT ARRAY[1, 2]::int4[]"))
    print("name[]:", await c.fetchval("SELECT ARRAY['a', 'b']::name[]"))
    row = await c.fetchrow("SELECT typname, typacl, typdefaultbin FROM pg_type WHERE oid = $1", 16)
    print("pg_type:", row["typname"], row["typacl"], row["typdefaultbin"])
    await c.close()
async def pool(port, password, restart):
    for attempt in range(1 if restart else 2):
        try:
            p = await asyncpg.create_pool(f"postgresql://test:{password}@127.0.0.1:{port}/postgres", min_size=1, max_size=2)
        except Exception as e:
            print("pool:", err(e), flush=True)
            continue
        for i in range(2):
            try:
                print(f"query {i}:", await p.fetchval(f"SELECT {i + 1}"), flush=True)
            except Exception as e:
                print(f"query {i}:", err(e), flush=True)
            if i == 0 and restart:
                print("RESTART", flush=True)
                sys.stdin.readline()
                await asyncio.sleep(0.3)
        await p.close()
mode, port = sys.argv[1], sys.argv[2]
asyncio.run(plain(port) if mode == "plain" else introspection(port) if mode == "introspection" else pool(port, sys.argv[3], mode == "restart"))
`;

/** A child program that prints result lines and says RESTART when it wants the server restarted. */
async function child(cmd: string, args: string[], env: NodeJS.ProcessEnv, restart?: () => Promise<void>): Promise<string[]> {
  const p = spawn(cmd, args, { env, stdio: ['pipe', 'pipe', 'pipe'] });
  let stderr = '';
  p.stderr.on('data', (d: Buffer) => { stderr += d.toString(); });
  const lines: string[] = [];
  for await (const line of createInterface({ input: p.stdout })) {
    if (line === 'RESTART') {
      await restart!();
      p.stdin.write('go\n');
      continue;
    }
    lines.push(line);
  }
  const code = await new Promise<number>((resolve) => (p.exitCode !== null ? resolve(p.exitCode) : p.once('close', (c) => resolve(c ?? 0))));
  if (code !== 0) throw new Error(`${cmd} exited ${code}: ${stderr}`);
  return lines;
}

describe('the six real drivers with their default options (issue 9 §2)', function () {
  this.timeout(120_000);
  let work = '';
  let env: NodeJS.ProcessEnv = {};
  const saved: Record<string, string | undefined> = {};

  before(() => {
    work = mkdtempSync(path.join(tmpdir(), 'pg-authsim-driver-sessions-'));
    mkdirSync(path.join(work, 'home'));
    // An empty HOME (no .psqlrc, .pgpass, root.crt) and no PG* variables: the drivers' own defaults.
    env = { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: path.join(work, 'home'), LANG: 'C.UTF-8' };
    for (const k of Object.keys(process.env)) if (k.startsWith('PG')) { saved[k] = process.env[k]; delete process.env[k]; }
    writeFileSync(path.join(work, 'Probe.java'), JAVA);
    execFileSync('javac', ['-cp', [PGJDBC, HIKARI, SLF4J].join(':'), '-d', work, path.join(work, 'Probe.java')], { stdio: 'pipe' });
    writeFileSync(path.join(work, 'psycopg_probe.py'), PSYCOPG);
    writeFileSync(path.join(work, 'asyncpg_probe.py'), ASYNCPG);
  });
  after(() => {
    for (const [k, v] of Object.entries(saved)) if (v !== undefined) process.env[k] = v;
    if (work) rmSync(work, { recursive: true, force: true });
  });

  const java = (args: string[], restart?: () => Promise<void>) =>
    child('java', ['-Duser.timezone=UTC', `-Duser.home=${env.HOME}`, '-cp', [work, PGJDBC, HIKARI, SLF4J].join(':'), 'Probe', ...args], env, restart);

  describe('SELECT 1 and SELECT $1::int: the same results and the same messages as PostgreSQL 15', () => {
    const ROLES = 'CREATE ROLE test LOGIN;';
    const HBA = 'host all all 127.0.0.1/32 trust';
    let real: RealPg;
    let sim: TestCluster;
    let realProxy: WireProxy;
    let simProxy: WireProxy;
    before(async () => {
      real = await RealPg.start({ hba: HBA, setupSql: ROLES, ssl: false });
      sim = await TestCluster.start({ clock: 'real', hba: HBA, roles: ROLES });
      realProxy = await WireProxy.start(real.port);
      simProxy = await WireProxy.start(await sim.listen());
    });
    after(async () => {
      await realProxy?.close();
      await simProxy?.close();
      await sim?.close();
      await real?.stop();
    });

    const PROGRAMS: Record<string, { run: (port: number) => Promise<string[]>; expected: string[] }> = {
      'psql 15 (PREPARE/EXECUTE for the parameter)': {
        run: async (port) => (await run('psql', ['-h', '127.0.0.1', '-p', String(port), '-U', 'test', '-d', 'postgres', '-At',
          '-c', 'SELECT 1', '-c', 'PREPARE q(int) AS SELECT $1::int', '-c', 'EXECUTE q(42)'], { env })).stdout.trim().split('\n'),
        expected: ['1', 'PREPARE', '42'],
      },
      'node-postgres (pg)': {
        run: async (port) => {
          const c = new pg.Client({ host: '127.0.0.1', port, user: 'test', database: 'postgres' });
          await c.connect();
          try {
            return [`select 1: ${JSON.stringify((await c.query('SELECT 1')).rows)}`, `select $1: ${JSON.stringify((await c.query('SELECT $1::int', [42])).rows)}`];
          } finally {
            await c.end();
          }
        },
        expected: ['select 1: [{"?column?":1}]', 'select $1: [{"int4":42}]'],
      },
      'postgres.js': {
        run: async (port) => {
          const sql = postgres({ host: '127.0.0.1', port, user: 'test', database: 'postgres', onnotice: () => {} });
          try {
            return [`select 1: ${JSON.stringify([...await sql`SELECT 1`])}`, `select $1: ${JSON.stringify([...await sql`SELECT ${42}::int`])}`];
          } finally {
            await sql.end({ timeout: 1 });
          }
        },
        expected: ['select 1: [{"?column?":1}]', 'select $1: [{"int4":42}]'],
      },
      'psycopg 3': {
        run: async (port) => (await run('python3', [path.join(work, 'psycopg_probe.py'), String(port)], { env })).stdout.trim().split('\n'),
        expected: ['select 1: 1', 'select $1: 42'],
      },
      asyncpg: {
        run: async (port) => (await run('python3', [path.join(work, 'asyncpg_probe.py'), 'plain', String(port)], { env })).stdout.trim().split('\n'),
        expected: ['select 1: 1', 'select $1: 42'],
      },
      'asyncpg, introspecting the types it has no codec for': {
        run: async (port) => (await run('python3', [path.join(work, 'asyncpg_probe.py'), 'introspection', String(port)], { env })).stdout.trim().split('\n'),
        expected: ['int4[]: [1, 2]', "name[]: ['a', 'b']", 'pg_type: bool None None'],
      },
      'pgjdbc 42.7.13 (and isValid())': {
        run: (port) => java(['plain', String(port)]),
        expected: ['select 1: 1', 'select $1: 42', 'isValid: true'],
      },
    };

    for (const [driver, program] of Object.entries(PROGRAMS)) {
      it(driver, async () => {
        realProxy.clear();
        simProxy.clear();
        const onReal = await program.run(realProxy.port);
        const onSim = await program.run(simProxy.port);
        await real.settle();
        await sim.idle();
        expect(onReal, 'results on PostgreSQL 15').to.deep.equal(program.expected);
        expect(onSim, 'results on the simulator').to.deep.equal(program.expected);
        expect(normaliseTranscripts(simProxy.connections), 'messages, both directions').to.deep.equal(normaliseTranscripts(realProxy.connections));
      });
    }
  });

  describe('connection pools: a wrong password and a server restart, hook calls as on PostgreSQL 15', () => {
    const ROLES = "CREATE ROLE test LOGIN PASSWORD 'secret';";
    const HBA = 'host all all 127.0.0.1/32 scram-sha-256';

    /** One side: start, restart, hook calls so far, stop. */
    interface Side { port: number; restart(): Promise<void>; hooks(): string[]; stop(): Promise<void> }

    async function realSide(): Promise<Side> {
      const pgServer = await RealPg.start({ hba: HBA, setupSql: ROLES, ssl: false });
      if (!pgServer.hookProbe) throw new Error('the hook probe did not build (postgresql-server-dev-15 and a compiler are needed)');
      const from = pgServer.logOffset();
      return {
        port: pgServer.port,
        restart: () => pgServer.restart(),
        hooks: () => pgServer.logSince(from).flatMap((l) => {
          const m = /hook_probe: status=(\w+) ssl=(on|off)/.exec(l.text);
          return m ? [`${m[1]}/${m[2] === 'on' ? 'ssl' : 'plain'}`] : [];
        }),
        stop: async () => { await pgServer.settle(); await pgServer.stop(); },
      };
    }

    async function simSide(): Promise<Side> {
      const opts = { clock: 'real' as const, hba: HBA, roles: ROLES, extensions: [hookProbe] };
      let cluster = await TestCluster.start(opts);
      const port = await cluster.listen();
      const before: string[] = [];
      return {
        port,
        restart: async () => {
          await cluster.close();
          before.push(...cluster.trace.hookCalls().map(hookCallLabel));
          cluster = await TestCluster.start(opts);
          await cluster.listen(port);
        },
        hooks: () => [...before, ...cluster.trace.hookCalls().map(hookCallLabel)],
        stop: async () => { await cluster.idle(); await cluster.close(); },
      };
    }

    type PoolProgram = (port: number, password: string, restart?: () => Promise<void>) => Promise<string[]>;
    const describeError = (e: unknown) => { const x = e as Error & { code?: string }; return `${x.code ?? ''} ${x.message}`; };

    const POOLS: Record<string, PoolProgram> = {
      'pg-pool': async (port, password, restart) => {
        const pool = new pg.Pool({ host: '127.0.0.1', port, user: 'test', password, database: 'postgres', max: 2 });
        // An idle client whose server goes away reports it here; the pool drops it.
        pool.on('error', () => {});
        const out: string[] = [];
        for (let i = 0; i < 2; i++) {
          try { out.push(`query ${i}: ${JSON.stringify((await pool.query('SELECT $1::int AS x', [i + 1])).rows)}`); } catch (e) { out.push(`query ${i}: ${describeError(e)}`); }
          if (i === 0 && restart) { await restart(); await new Promise((r) => setTimeout(r, 300)); }
        }
        await pool.end();
        return out;
      },
      'postgres.js': async (port, password, restart) => {
        const sql = postgres({ host: '127.0.0.1', port, user: 'test', pass: password, database: 'postgres', max: 2, onnotice: () => {} });
        const out: string[] = [];
        for (let i = 0; i < 2; i++) {
          try { out.push(`query ${i}: ${JSON.stringify([...await sql`SELECT ${i + 1}::int AS x`])}`); } catch (e) { out.push(`query ${i}: ${describeError(e)}`); }
          if (i === 0 && restart) { await restart(); await new Promise((r) => setTimeout(r, 300)); }
        }
        await sql.end({ timeout: 1 });
        return out;
      },
      'HikariCP 5.1.0 with pgjdbc (isValid() on borrow)': (port, password, restart) => java([restart ? 'restart' : password === 'secret' ? 'right' : 'wrong', String(port), password], restart),
      'asyncpg pool': (port, password, restart) => child('python3', [path.join(work, 'asyncpg_probe.py'), restart ? 'restart' : 'wrong', String(port), password], env, restart),
    };

    for (const [name, program] of Object.entries(POOLS)) {
      for (const scenario of ['wrong password', 'server restart'] as const) {
        it(`${name}: ${scenario}`, async () => {
          const results: Array<{ out: string[]; hooks: string[] }> = [];
          for (const start of [realSide, simSide]) {
            const side = await start();
            try {
              const out = scenario === 'wrong password'
                ? await program(side.port, 'wrong')
                : await program(side.port, 'secret', () => side.restart());
              await new Promise((r) => setTimeout(r, 200));
              results.push({ out, hooks: side.hooks() });
            } finally {
              await side.stop();
            }
          }
          const [onReal, onSim] = results as [{ out: string[]; hooks: string[] }, { out: string[]; hooks: string[] }];
          expect(onSim.out, 'what the application saw').to.deep.equal(onReal.out);
          expect(onSim.hooks, 'ClientAuthentication_hook calls').to.deep.equal(onReal.hooks);
          if (scenario === 'server restart') expect(onReal.out.every((l) => !/error|terminat/i.test(l)), `the pool recovered: ${onReal.out.join(' | ')}`).to.equal(true);
        });
      }
    }
  });
});

