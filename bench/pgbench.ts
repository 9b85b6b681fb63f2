/**
 * Connection rate of `serve` against a real PostgreSQL 15 on the same machine,
 * measured with pgbench -C (a new connection per transaction, each running
 * `SELECT 1`), interleaved round by round so both see the same load:
 *
 *   trust/plain   host ... trust,          sslmode=disable
 *   scram/plain   host ... scram-sha-256,   sslmode=disable
 *   scram/TLS     host ... scram-sha-256,   sslmode=require
 *
 *   npm run build && node dist/bench/pgbench.js [--seconds 5] [--rounds 3] [--clients 8] [--jobs 2]
 *                                               [--modes trust,scram,tls] [--load 1000] [--cpu-prof DIR]
 *
 * `--load N` then runs N concurrent scram/TLS clients against `serve` alone
 * (authentication_timeout = 60s) and reports aborted clients (a startup that
 * timed out or failed shows up there) and the connection rate. `--cpu-prof`
 * starts `serve` with node --cpu-prof, writing its profile to DIR.
 *
 * Needs root (the real server runs as the postgres OS user) and pgbench 15.
 * A benchmark, not a test: numbers depend on the machine and its load.
 */
import { spawn, execFile, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { parseArgs, promisify } from 'node:util';
import { fileURLToPath } from 'node:url';
import { RealPg } from '../spec/support/real-pg.js';

const run = promisify(execFile);
const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

const { values: args } = parseArgs({
  options: {
    seconds: { type: 'string', default: '5' },
    rounds: { type: 'string', default: '3' },
    clients: { type: 'string', default: '8' },
    jobs: { type: 'string', default: '2' },
    modes: { type: 'string', default: 'trust,scram,tls' },
    load: { type: 'string' },
    'load-seconds': { type: 'string', default: '20' },
    'cpu-prof': { type: 'string' },
    'skip-real': { type: 'boolean', default: false },
  },
});

interface Mode { name: string; user: string; sslmode: 'disable' | 'require' }
const MODES: Record<string, Mode> = {
  trust: { name: 'trust/plain', user: 'bench_trust', sslmode: 'disable' },
  scram: { name: 'scram/plain', user: 'bench_scram', sslmode: 'disable' },
  tls: { name: 'scram/TLS', user: 'bench_scram', sslmode: 'require' },
};
const HBA = 'host all bench_trust 127.0.0.1/32 trust\nhost all bench_scram 127.0.0.1/32 scram-sha-256\n';
const ROLES = "CREATE ROLE bench_trust LOGIN;\nCREATE ROLE bench_scram LOGIN PASSWORD 'secret';\n";
const MAX_CONNECTIONS = 1100;

interface Result { rate: number; aborted: number; failed: number; avgConnectMs: number | null; cpuMsPerConnection: number | null; clientCpuMsPerConnection: number | null }

/**
 * CPU time (ms) from /proc: a process with its reaped children (utime+stime+cutime+cstime),
 * or only the reaped children (`childrenOnly`: this process's finished pgbench runs).
 */
function cpuMs(pid: number | undefined, childrenOnly = false): number | null {
  if (!pid) return null;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const ticks = (childrenOnly ? 0 : Number(f[11]) + Number(f[12])) + Number(f[13]) + Number(f[14]);
    return (ticks * 1000) / CLOCK_TICKS;
  } catch {
    return null;
  }
}
const CLOCK_TICKS = 100;

async function pgbench(port: number, mode: Mode, opts: { seconds: number; clients: number; jobs: number; script: string; serverPid?: number }): Promise<Result> {
  const cpuBefore = cpuMs(opts.serverPid);
  const clientBefore = cpuMs(process.pid, true);
  const env = { ...process.env, PGSSLMODE: mode.sslmode, PGPASSWORD: 'secret', PGCONNECT_TIMEOUT: '120' };
  const { stdout, stderr } = await run('pgbench', [
    '-n', '-C', '-T', String(opts.seconds), '-c', String(opts.clients), '-j', String(opts.jobs), '-f', opts.script,
    '-h', '127.0.0.1', '-p', String(port), '-U', mode.user, 'postgres',
  ], { env, maxBuffer: 64 * 1024 * 1024 }).catch((e: { stdout?: string; stderr?: string }) => ({ stdout: e.stdout ?? '', stderr: e.stderr ?? '' }));
  const num = (re: RegExp, text = stdout) => { const m = re.exec(text); return m ? Number(m[1]) : null; };
  const processed = num(/number of transactions actually processed: (\d+)/) ?? 0;
  const cpuAfter = cpuMs(opts.serverPid);
  const clientAfter = cpuMs(process.pid, true);
  const duration = num(/duration: (\d+) s/) ?? opts.seconds;
  return {
    // -C: every transaction is one new connection, so transactions per second are connections per second.
    rate: processed / duration,
    aborted: (stderr.match(/aborted/g) ?? []).length + (num(/number of (?:aborted|failed) clients?: (\d+)/) ?? 0),
    failed: num(/number of failed transactions: (\d+)/) ?? 0,
    avgConnectMs: num(/average connection time = ([\d.]+) ms/),
    // The server's own CPU per connection (PostgreSQL: the postmaster with its exited backends).
    cpuMsPerConnection: cpuBefore !== null && cpuAfter !== null && processed > 0 ? (cpuAfter - cpuBefore) / processed : null,
    // pgbench's own CPU (libpq's TLS and SCRAM work): it shares the machine with the server.
    clientCpuMsPerConnection: clientBefore !== null && clientAfter !== null && processed > 0 ? (clientAfter - clientBefore) / processed : null,
  };
}

function writeSimDir(): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'pg-authsim-bench-'));
  writeFileSync(path.join(dir, 'postgresql.conf'), [
    "listen_addresses = '127.0.0.1'", 'ssl = on', 'dev_certificates = on', `max_connections = ${MAX_CONNECTIONS}`,
    'authentication_timeout = 60s', 'log_connections = off', "password_encryption = 'scram-sha-256'",
  ].join('\n') + '\n');
  writeFileSync(path.join(dir, 'pg_hba.conf'), HBA);
  writeFileSync(path.join(dir, 'roles.sql'), ROLES);
  return dir;
}

async function startServe(dir: string, cpuProf?: string): Promise<{ port: number; child: ChildProcess }> {
  const nodeArgs = cpuProf ? ['--cpu-prof', '--cpu-prof-dir', cpuProf] : [];
  const child = spawn(process.execPath, [...nodeArgs, path.join(ROOT, 'dist/src/cli.js'), 'serve', '-D', dir, '--port', '0'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout!.on('data', (d: Buffer) => { out += d.toString(); });
  child.stderr!.on('data', () => {});
  for (let i = 0; i < 400; i++) {
    const m = /listening on [^:]+:(\d+)/.exec(out);
    if (m) return { port: Number(m[1]), child };
    await new Promise((r) => setTimeout(r, 25));
  }
  child.kill('SIGKILL');
  throw new Error(`serve did not start: ${out}`);
}

async function stopServe(child: ChildProcess): Promise<void> {
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGINT');
  await exited;
}

const fmt = (n: number) => n.toFixed(0).padStart(8);

async function main(): Promise<void> {
  const seconds = Number(args.seconds);
  const rounds = Number(args.rounds);
  const clients = Number(args.clients);
  const jobs = Number(args.jobs);
  const modes = args.modes!.split(',').map((m) => { const mode = MODES[m]; if (!mode) throw new Error(`unknown mode ${m}`); return mode; });
  const work = mkdtempSync(path.join(tmpdir(), 'pg-authsim-pgbench-'));
  const script = path.join(work, 'select1.sql');
  writeFileSync(script, 'SELECT 1;\n');
  const simDir = writeSimDir();
  const serve = await startServe(simDir, args['cpu-prof']);
  let pg: RealPg | null = null;
  try {
    if (!args['skip-real']) {
      pg = await RealPg.start({
        hba: HBA, setupSql: ROLES, ssl: true,
        settings: { max_connections: String(MAX_CONNECTIONS), log_connections: 'off', authentication_timeout: '60s' },
      });
      const results = new Map<string, { pg: number[]; sim: number[] }>();
      console.log(`pgbench -C -T ${seconds} -c ${clients} -j ${jobs}, SELECT 1 per connection, ${rounds} interleaved rounds`);
      for (let r = 0; r < rounds; r++) {
        for (const mode of modes) {
          const entry = results.get(mode.name) ?? { pg: [], sim: [] };
          results.set(mode.name, entry);
          // Alternate which server goes first, so neither always follows the other's load.
          const order: Array<'pg' | 'sim'> = r % 2 === 0 ? ['pg', 'sim'] : ['sim', 'pg'];
          for (const who of order) {
            const res = await pgbench(who === 'pg' ? pg.port : serve.port, mode, { seconds, clients, jobs, script, serverPid: who === 'pg' ? pg.postmasterPid : serve.child.pid });
            entry[who].push(res.rate);
            console.log(`  round ${r + 1} ${mode.name.padEnd(12)} ${who === 'pg' ? 'PostgreSQL 15' : 'pg-authsim   '} ${fmt(res.rate)} conn/s${res.avgConnectMs !== null ? `  avg connect ${res.avgConnectMs.toFixed(2)} ms` : ''}${res.cpuMsPerConnection !== null ? `  server CPU ${res.cpuMsPerConnection.toFixed(2)} ms/conn` : ''}${res.clientCpuMsPerConnection !== null ? `  pgbench CPU ${res.clientCpuMsPerConnection.toFixed(2)} ms/conn` : ''}${res.aborted || res.failed ? `  aborted ${res.aborted} failed ${res.failed}` : ''}`);
          }
        }
      }
      const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
      console.log('\nmode          PostgreSQL 15  pg-authsim   ratio (median of rounds; per-round ratios)');
      for (const [name, e] of results) {
        const ratios = e.sim.map((s, i) => s / e.pg[i]!);
        console.log(`${name.padEnd(12)} ${fmt(median(e.pg))}/s   ${fmt(median(e.sim))}/s   ${(median(e.sim) / median(e.pg)).toFixed(2)}x   (${ratios.map((x) => x.toFixed(2)).join(', ')})`);
      }
    }
    if (args.load) {
      const n = Number(args.load);
      const secs = Number(args['load-seconds']);
      console.log(`\n${n} concurrent scram/TLS clients against pg-authsim for ${secs} s (authentication_timeout = 60s)`);
      const res = await pgbench(serve.port, MODES.tls!, { seconds: secs, clients: n, jobs: jobs, script, serverPid: serve.child.pid });
      console.log(`  ${res.rate.toFixed(0)} conn/s, aborted clients ${res.aborted}, failed transactions ${res.failed}${res.avgConnectMs !== null ? `, avg connect ${res.avgConnectMs.toFixed(1)} ms` : ''}${res.cpuMsPerConnection !== null ? `, server CPU ${res.cpuMsPerConnection.toFixed(2)} ms/conn` : ''}`);
    }
  } finally {
    await stopServe(serve.child);
    await pg?.stop();
    rmSync(simDir, { recursive: true, force: true });
    rmSync(work, { recursive: true, force: true });
  }
}

await main();
