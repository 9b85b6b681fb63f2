/**
 * Wall time of whole `matrix` runs on the seed configuration (virtual time): psql alone (the
 * default 36 cases) and every client side by side over every sslmode, unset included, and the
 * four password kinds. The first run in a process is slower (its code is not optimised yet,
 * nor is the worker lane's, when a core is idle for one). CPU is the whole process's, worker
 * thread included. Run: npm run build && node dist/bench/matrix.js
 */
import { ALL_PASSWORD_KINDS, MATRIX_SSLMODES, runMatrix, type MatrixOptions } from '../src/matrix/matrix.js';
import { MATRIX_CLIENTS } from '../src/matrix/clients.js';

async function measure(label: string, opts: MatrixOptions, runs: number): Promise<void> {
  const times: number[] = [];
  const cpu: number[] = [];
  let cases = 0;
  let virtual = 0;
  for (let i = 0; i < runs; i++) {
    const c0 = process.cpuUsage();
    const t = performance.now();
    const { rows } = await runMatrix(opts);
    times.push(performance.now() - t);
    const c = process.cpuUsage(c0);
    cpu.push((c.user + c.system) / 1000);
    cases = rows.length;
    virtual = rows.reduce((s, r) => s + r.authDelayMs, 0);
  }
  const med = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
  console.log(`${label}: ${cases} cases, median ${med(times).toFixed(0)} ms wall (min ${Math.min(...times).toFixed(0)}, first ${times[0]!.toFixed(0)}), median ${med(cpu).toFixed(0)} ms CPU; ${virtual} ms of auth_delay simulated per run`);
}

await measure('matrix -D examples/seed (psql)', { dataDirectory: 'examples/seed' }, 5);
await measure('matrix -D examples/seed --client all --sslmode all --password all',
  { dataDirectory: 'examples/seed', clients: Object.values(MATRIX_CLIENTS), sslmodes: MATRIX_SSLMODES, passwords: ALL_PASSWORD_KINDS }, 5);
