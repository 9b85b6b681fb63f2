/**
 * N clients log in over TLS + SCRAM at the same moment against `serve`
 * (authentication_timeout = 60s), and each one's login time is reported.
 * pgbench -C cannot do this: it opens connections one at a time per thread.
 * The clients run in worker processes (each handshake and each PBKDF2 costs
 * the client CPU too), so the server is a process of its own as in real use.
 *
 *   npm run build && node dist/bench/tls-load.js [--clients 1000] [--workers 2] [--cpu-prof DIR]
 *
 * A benchmark, not a test.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import * as net from 'node:net';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import * as tls from 'node:tls';
import { parseArgs } from 'node:util';
import { fileURLToPath } from 'node:url';
import { encodeFrontend } from '../src/wire/codec.js';
import { ScramClient } from '../src/auth/scram-client.js';
import { SeededRandom } from '../src/random.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const SELF = fileURLToPath(import.meta.url);

const { values: args } = parseArgs({
  options: {
    clients: { type: 'string', default: '1000' },
    workers: { type: 'string', default: '2' },
    worker: { type: 'boolean', default: false },
    port: { type: 'string' },
    n: { type: 'string' },
    seed: { type: 'string', default: '1' },
    'cpu-prof': { type: 'string' },
  },
});

interface Outcome { ok: boolean; ms: number; error?: string }

/** One login: SSLRequest, TLS, startup, SCRAM, ReadyForQuery, Terminate. */
async function login(port: number, seed: number): Promise<Outcome> {
  const t0 = performance.now();
  const fail = (error: string): Outcome => ({ ok: false, ms: performance.now() - t0, error });
  const raw = net.connect({ port, host: '127.0.0.1' });
  raw.on('error', () => {});
  try {
    await new Promise<void>((resolve, reject) => { raw.once('connect', resolve); raw.once('error', reject); });
    raw.write(encodeFrontend({ type: 'SSLRequest' }));
    const answer = await new Promise<Buffer | null>((resolve) => { raw.once('data', resolve); raw.once('close', () => resolve(null)); });
    if (!answer || answer[0] !== 0x53) return fail(`SSLRequest answered ${answer ? String.fromCharCode(answer[0]!) : 'by a close'}`);
    const t = tls.connect({ socket: raw, rejectUnauthorized: false });
    t.on('error', () => {});
    const up = await new Promise<boolean>((resolve) => { t.once('secureConnect', () => resolve(true)); t.once('close', () => resolve(false)); });
    if (!up) return fail('TLS handshake failed');
    let buf = Buffer.alloc(0);
    let closed = false;
    let wake: (() => void) | null = null;
    t.on('data', (d: Buffer) => { buf = Buffer.concat([buf, d]); wake?.(); });
    t.on('close', () => { closed = true; wake?.(); });
    const next = async (): Promise<{ type: string; body: Buffer } | null> => {
      while (buf.length < 5 || buf.length < 1 + buf.readUInt32BE(1)) {
        if (closed) return null;
        await new Promise<void>((r) => { wake = r; });
      }
      const len = buf.readUInt32BE(1);
      const m = { type: String.fromCharCode(buf[0]!), body: buf.subarray(5, 1 + len) };
      buf = buf.subarray(1 + len);
      return m;
    };
    t.write(encodeFrontend({ type: 'StartupMessage', protocolVersion: { major: 3, minor: 0 }, params: [['user', 'bench_scram'], ['database', 'postgres']] }));
    const scram = new ScramClient({ password: 'secret', mechanism: 'SCRAM-SHA-256', sslInUse: true, channelBinding: 'disable', random: new SeededRandom(seed) });
    for (;;) {
      const m = await next();
      if (!m) return fail('server closed the connection');
      if (m.type === 'E') return fail(`ErrorResponse ${m.body.toString('latin1').replace(/\0/g, ' ').trim()}`);
      if (m.type === 'R') {
        const code = m.body.readInt32BE(0);
        if (code === 10) t.write(encodeFrontend({ type: 'SASLInitialResponse', mechanism: 'SCRAM-SHA-256', data: scram.clientFirst() }));
        else if (code === 11) t.write(encodeFrontend({ type: 'SASLResponse', data: scram.serverFirst(m.body.subarray(4)) }));
      }
      if (m.type === 'Z') break;
    }
    t.write(encodeFrontend({ type: 'Terminate' }));
    t.end();
    return { ok: true, ms: performance.now() - t0 };
  } catch (err) {
    return fail(err instanceof Error ? err.message : String(err));
  } finally {
    setTimeout(() => raw.destroy(), 100).unref();
  }
}

async function worker(): Promise<void> {
  const port = Number(args.port);
  const n = Number(args.n);
  const seed = Number(args.seed);
  // Wait for the go signal so every worker starts its clients at the same moment.
  await new Promise<void>((resolve) => process.stdin.once('data', () => resolve()));
  const outcomes = await Promise.all(Array.from({ length: n }, (_, i) => login(port, seed * 100000 + i)));
  process.stdout.write(`${JSON.stringify(outcomes)}\n`);
  process.exit(0);
}

async function startServe(cpuProf?: string): Promise<{ port: number; child: ChildProcess; dir: string }> {
  const dir = mkdtempSync(path.join(tmpdir(), 'pg-authsim-tlsload-'));
  writeFileSync(path.join(dir, 'postgresql.conf'), [
    "listen_addresses = '127.0.0.1'", 'ssl = on', 'dev_certificates = on', 'max_connections = 1100',
    'authentication_timeout = 60s', 'log_connections = off',
  ].join('\n') + '\n');
  writeFileSync(path.join(dir, 'pg_hba.conf'), 'host all bench_scram 127.0.0.1/32 scram-sha-256\n');
  writeFileSync(path.join(dir, 'roles.sql'), "CREATE ROLE bench_scram LOGIN PASSWORD 'secret';\n");
  const child = spawn(process.execPath, [...(cpuProf ? ['--cpu-prof', '--cpu-prof-dir', cpuProf] : []), path.join(ROOT, 'dist/src/cli.js'), 'serve', '-D', dir, '--port', '0'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout!.on('data', (d: Buffer) => { out += d.toString(); });
  child.stderr!.on('data', (d: Buffer) => { err += d.toString(); });
  for (let i = 0; i < 400; i++) {
    const m = /listening on [^:]+:(\d+)/.exec(out);
    if (m) return { port: Number(m[1]), child, dir };
    await new Promise((r) => setTimeout(r, 25));
  }
  child.kill('SIGKILL');
  throw new Error(`serve did not start: ${out}${err}`);
}

function cpuMs(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return ((Number(f[11]) + Number(f[12])) * 1000) / 100;
}

async function main(): Promise<void> {
  const total = Number(args.clients);
  const workers = Number(args.workers);
  const serve = await startServe(args['cpu-prof']);
  try {
    const per = Math.ceil(total / workers);
    const children = Array.from({ length: workers }, (_, w) => spawn(process.execPath, [SELF, '--worker', '--port', String(serve.port), '--n', String(Math.min(per, total - w * per)), '--seed', String(w + 1)], { stdio: ['pipe', 'pipe', 'inherit'] }));
    const results = children.map((c) => new Promise<Outcome[]>((resolve) => {
      let out = '';
      c.stdout!.on('data', (d: Buffer) => { out += d.toString(); });
      c.once('exit', () => resolve(JSON.parse(out || '[]') as Outcome[]));
    }));
    await new Promise((r) => setTimeout(r, 500));
    const cpu0 = cpuMs(serve.child.pid!);
    const t0 = performance.now();
    for (const c of children) c.stdin!.write('go\n');
    const outcomes = (await Promise.all(results)).flat();
    const wall = performance.now() - t0;
    const cpu = cpuMs(serve.child.pid!) - cpu0;
    const ok = outcomes.filter((o) => o.ok).map((o) => o.ms).sort((a, b) => a - b);
    const pct = (p: number) => (ok.length ? ok[Math.min(ok.length - 1, Math.floor((p / 100) * ok.length))]!.toFixed(0) : '-');
    const errors = new Map<string, number>();
    for (const o of outcomes) if (!o.ok) errors.set(o.error!, (errors.get(o.error!) ?? 0) + 1);
    console.log(`${total} concurrent TLS + SCRAM logins against serve (authentication_timeout = 60s), ${workers} client processes`);
    console.log(`  succeeded ${ok.length}/${outcomes.length} in ${(wall / 1000).toFixed(1)} s wall; login ms p50 ${pct(50)} p95 ${pct(95)} max ${pct(100)}`);
    console.log(`  server CPU ${(cpu / 1000).toFixed(1)} s, ${(cpu / Math.max(1, ok.length)).toFixed(2)} ms per login`);
    for (const [e, n] of errors) console.log(`  failed ${n}: ${e}`);
  } finally {
    const exited = new Promise((r) => serve.child.once('exit', r));
    serve.child.kill('SIGINT');
    await exited;
    rmSync(serve.dir, { recursive: true, force: true });
  }
}

if (args.worker) await worker();
else await main();
