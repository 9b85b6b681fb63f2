/**
 * One hook author's test, end to end, as spec/examples/failure-counter.spec.ts writes it:
 * TestCluster.start (the seed configuration: ssl on, auth_delay 2000 ms, one scram-sha-256
 * line), cluster.psql with sslmode=prefer and a wrong password (two connections, one TLS
 * handshake, 4 s of virtual auth_delay), idle(), close(). Median wall time per test.
 * Run: npm run build && node dist/bench/seed-test.js [runs]
 */
import { TestCluster } from '../src/testing/index.js';

const runs = Number(process.argv[2] ?? 60);

async function oneTest(): Promise<void> {
  const cluster = await TestCluster.start({
    postgresqlConf: { ssl: true, shared_preload_libraries: 'auth_delay', 'auth_delay.milliseconds': 2000 },
    hba: 'host all all 127.0.0.1/32 scram-sha-256',
    roles: "CREATE ROLE test LOGIN PASSWORD 'secret';",
  });
  const psql = await cluster.psql('user=test dbname=postgres', { password: 'wrong' });
  await cluster.idle();
  if (psql.exitCode !== 2 || cluster.trace.hookCalls().length !== 2) throw new Error('the seed test did not behave as the seed test does');
  await cluster.close();
}

// The first run pays for module loading and JIT warm-up, as the first test of a suite does.
const first = performance.now();
await oneTest();
const firstMs = performance.now() - first;
const times: number[] = [];
const c0 = process.cpuUsage();
for (let i = 0; i < runs; i++) {
  const t = performance.now();
  await oneTest();
  times.push(performance.now() - t);
}
const cpu = process.cpuUsage(c0);
times.sort((a, b) => a - b);
const q = (p: number) => times[Math.min(times.length - 1, Math.floor(p * times.length))]!;
console.log(`seed test (start, psql prefer + wrong password, idle, close): median ${q(0.5).toFixed(1)} ms, p10 ${q(0.1).toFixed(1)}, p90 ${q(0.9).toFixed(1)} over ${runs} runs; ${((cpu.user + cpu.system) / 1000 / runs).toFixed(1)} ms CPU per test; first test ${firstMs.toFixed(0)} ms`);
