/**
 * A second lane for `matrix`: one worker thread, kept for the process (idle, it does not keep
 * the process alive), that runs cases on a server of its own started from the same data
 * directory. runMatrix() decides when cases may run there (independentCases()); the two lanes
 * share a counter of the next case, so the worker, which starts late, takes fewer.
 */
import { Worker } from 'node:worker_threads';
import type { MatrixCase, MatrixRow } from './matrix.js';

/** What the worker needs to run cases as runMatrix() would: everything but the server, which it starts itself. */
export interface LaneJob {
  dataDirectory: string;
  seed: number;
  overrides: Record<string, string>;
  sslrootcert: string | null;
  wrong: string;
  several: boolean;
  /** The clients by name (MATRIX_CLIENTS); cases refer to them by index. */
  clients: string[];
  cases: MatrixCase[];
  /** Int32 index of the next case to take, shared with the main thread. */
  next: SharedArrayBuffer;
}

/** The worker's answer: the rows of the cases it took, by case index. */
export type LaneReply = { ok: true; rows: Array<[number, MatrixRow]> } | { ok: false; error: string };

class MatrixLane {
  private worker: Worker | null = null;
  busy = false;

  /**
   * Run the job's cases until the counter runs out; resolves with the worker's rows. A
   * worker that fails resolves with none (the caller runs what is missing itself).
   */
  run(job: LaneJob): Promise<Array<[number, MatrixRow]>> {
    this.busy = true;
    return new Promise<Array<[number, MatrixRow]>>((resolve) => {
      let worker: Worker;
      try {
        worker = this.worker ??= new Worker(new URL('./lane-worker.js', import.meta.url));
      } catch {
        resolve([]);
        return;
      }
      const settle = (rows: Array<[number, MatrixRow]>, broken: boolean) => {
        worker.off('message', onMessage);
        worker.off('error', onError);
        worker.off('exit', onExit);
        if (broken) {
          this.worker = null;
          void worker.terminate();
        } else {
          worker.unref();
        }
        resolve(rows);
      };
      const onMessage = (reply: LaneReply) => settle(reply.ok ? reply.rows : [], !reply.ok);
      const onError = () => settle([], true);
      const onExit = () => settle([], true);
      worker.on('message', onMessage);
      worker.on('error', onError);
      worker.on('exit', onExit);
      // Held while it works for us, so the process waits for its rows.
      worker.ref();
      worker.postMessage(job);
    }).finally(() => { this.busy = false; });
  }
}

let lane: MatrixLane | null = null;

/** The worker lane, when it is free (a matrix already using it runs without one). */
export function matrixLane(): MatrixLane | null {
  lane ??= new MatrixLane();
  return lane.busy ? null : lane;
}
