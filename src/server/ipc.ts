/**
 * ipc.c's exit callbacks and shmem.c's named structs, per server (and per backend for exit
 * callbacks registered while a backend runs). A C postmaster is its own process, so its
 * globals and shared memory are its own; here several servers share one process, so all of
 * it lives in objects each server owns.
 */
import { PgError } from '../errors.js';
import type { EventBody } from '../events.js';

export type ExitCallback = (code: number, arg: unknown) => void;
export type ExitList = 'before_shmem_exit' | 'on_shmem_exit' | 'on_proc_exit';

interface Registered { fn: ExitCallback; arg: unknown; extension: string }

/** The three lists proc_exit() runs, each last-registered first, in this order. */
export class ExitCallbacks {
  private readonly lists: Record<ExitList, Registered[]> = { before_shmem_exit: [], on_shmem_exit: [], on_proc_exit: [] };
  private ran = false;

  register(list: ExitList, fn: ExitCallback, arg: unknown, extension: string): void {
    this.lists[list].push({ fn, arg, extension });
  }

  /** cancel_before_shmem_exit(): only the most recent registration can be taken back, as in C. */
  cancelBeforeShmemExit(fn: ExitCallback, arg: unknown): void {
    const list = this.lists.before_shmem_exit;
    const last = list[list.length - 1];
    if (last && last.fn === fn && last.arg === arg) list.pop();
    else throw new PgError({ severity: 'ERROR', sqlstate: 'XX000', message: `before_shmem_exit callback (${fn.name}) is not the latest entry` });
  }

  get empty(): boolean {
    return Object.values(this.lists).every((l) => l.length === 0);
  }

  /**
   * proc_exit(code): shmem_exit's before_shmem_exit and on_shmem_exit callbacks, then the
   * on_proc_exit ones. A callback that throws is reported and the rest still run (C would
   * recurse into proc_exit; the outcome in the log is the same report).
   */
  run(code: number, emit: (body: EventBody) => void): void {
    if (this.ran) return;
    this.ran = true;
    for (const list of ['before_shmem_exit', 'on_shmem_exit', 'on_proc_exit'] as const) {
      const entries = this.lists[list];
      while (entries.length > 0) {
        const { fn, arg, extension } = entries.pop()!;
        emit({ type: 'exit-callback', list, extension });
        try {
          fn(code, arg);
        } catch (err) {
          const fields = err instanceof PgError ? err.fields : { severity: 'FATAL' as const, sqlstate: 'XX000', message: err instanceof Error ? err.message : String(err) };
          emit({ type: 'error', error: { ...fields, severity: fields.severity === 'ERROR' ? 'FATAL' : fields.severity }, toClient: false, toLog: true });
        }
      }
    }
  }
}

/**
 * The server's shared memory: named structs and hash tables created by shmem_startup_hook
 * (ShmemInitStruct / ShmemInitHash), fresh at every server start and never shared between
 * two servers in one process.
 */
export class SharedMemory {
  /** process_shmem_requests_in_progress: true while shmem_request_hook runs. */
  requestsInProgress = false;
  /** Bytes requested with RequestAddinShmemSpace (bookkeeping only). */
  requestedBytes = 0;
  readonly lwlockTranches = new Map<string, number>();
  private readonly structs = new Map<string, unknown>();

  initStruct<T>(name: string, init: () => T): { ptr: T; found: boolean } {
    if (this.structs.has(name)) return { ptr: this.structs.get(name) as T, found: true };
    const ptr = init();
    this.structs.set(name, ptr);
    return { ptr, found: false };
  }

  has(name: string): boolean {
    return this.structs.has(name);
  }
}
