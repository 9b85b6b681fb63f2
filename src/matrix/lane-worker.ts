/**
 * The worker thread of a matrix lane (see lanes.ts): for each job, its own server from the
 * data directory, then cases taken from the shared counter until none is left.
 */
import { parentPort } from 'node:worker_threads';
import { runCase, startMatrixServer, type CaseContext, type MatrixRow } from './matrix.js';
import { MATRIX_CLIENTS } from './clients.js';
import type { LaneJob, LaneReply } from './lanes.js';

async function runJob(job: LaneJob): Promise<Array<[number, MatrixRow]>> {
  const next = new Int32Array(job.next);
  const rows: Array<[number, MatrixRow]> = [];
  // The main thread may have taken every case while this thread was loading.
  if (Atomics.load(next, 0) >= job.cases.length) return rows;
  const clients = job.clients.map((name) => {
    const c = MATRIX_CLIENTS[name];
    if (!c) throw new Error(`matrix lane: unknown client ${name}`);
    return c;
  });
  const { server, clock, events } = await startMatrixServer(job.dataDirectory, job.seed, job.overrides);
  const ctx: CaseContext = { server, clock, events, seed: job.seed, sslrootcert: job.sslrootcert, wrong: job.wrong, several: job.several };
  try {
    for (let i = Atomics.add(next, 0, 1); i < job.cases.length; i = Atomics.add(next, 0, 1)) {
      const c = job.cases[i]!;
      rows.push([i, await runCase(ctx, clients[c.clientIndex]!, c)]);
    }
  } finally {
    await server.close();
  }
  return rows;
}

parentPort!.on('message', (job: LaneJob) => {
  runJob(job).then(
    (rows) => parentPort!.postMessage({ ok: true, rows } satisfies LaneReply),
    (err: unknown) => parentPort!.postMessage({ ok: false, error: err instanceof Error ? err.stack ?? err.message : String(err) } satisfies LaneReply),
  );
});
