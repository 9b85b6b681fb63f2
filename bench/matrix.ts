/** Wall time of a whole `matrix` run on the seed configuration (virtual time). Run: node dist/bench/matrix.js */
import { runMatrix } from '../src/matrix/matrix.js';

const runs = 5;
const times: number[] = [];
let virtualTotal = 0;
for (let i = 0; i < runs; i++) {
  const t = performance.now();
  const { rows } = await runMatrix({ dataDirectory: 'examples/seed' });
  times.push(performance.now() - t);
  virtualTotal = rows.reduce((s, r) => s + r.authDelayMs, 0);
}
times.sort((a, b) => a - b);
console.log(`matrix on examples/seed: 36 cases, median ${times[Math.floor(runs / 2)]!.toFixed(0)} ms wall (min ${times[0]!.toFixed(0)}, max ${times[runs - 1]!.toFixed(0)}); ${virtualTotal} ms of auth_delay simulated per run`);
