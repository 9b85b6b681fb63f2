/**
 * How fast the simulator serves in-process logins, and what a 2 s auth_delay
 * costs under the virtual clock. Run: npm run bench
 */
import { TestCluster, WireClient, login } from '../src/testing/index.js';

async function run(label: string, n: number, password: string, conf: Record<string, string | number | boolean>): Promise<void> {
  const cluster = await TestCluster.start({
    postgresqlConf: conf,
    hba: 'host all all 127.0.0.1/32 scram-sha-256',
    roles: "CREATE ROLE test LOGIN PASSWORD 'secret';",
  });
  const heapBefore = process.memoryUsage().heapUsed;
  const wallStart = performance.now();
  const virtualStart = cluster.clock.now();
  for (let i = 0; i < n; i++) {
    const c = WireClient.memory(cluster.server);
    await login(c, 'test', password);
    c.end();
  }
  await cluster.idle();
  const wall = performance.now() - wallStart;
  const virtual = cluster.clock.now() - virtualStart;
  const heapMb = (process.memoryUsage().heapUsed - heapBefore) / 1e6;
  console.log(`${label.padEnd(44)} n=${n}  wall ${(wall / n).toFixed(2)} ms/login  virtual ${(virtual / n).toFixed(0)} ms/login  heap +${heapMb.toFixed(1)} MB`);
  await cluster.close();
}

await run('SCRAM login, right password', 200, 'secret', {});
await run('SCRAM login, wrong password', 200, 'wrong', {});
await run('wrong password + auth_delay 2000 ms (virtual)', 200, 'wrong', { shared_preload_libraries: 'auth_delay', 'auth_delay.milliseconds': 2000 });
