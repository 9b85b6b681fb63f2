/**
 * Everything that waits or stamps time goes through a Clock, so tests can swap
 * real time for virtual time.
 */
export interface TimerHandle { cancel(): void }

export interface Clock {
  /** Milliseconds since the Unix epoch (fractional allowed). */
  now(): number;
  /** Resolve after `ms`; rejects with AbortError-like reason when `signal` aborts. */
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
  /** Call `fn` once after `ms`. */
  setTimer(ms: number, fn: () => void): TimerHandle;
}

export class RealClock implements Clock {
  now(): number {
    return performance.timeOrigin + performance.now();
  }
  sleep(ms: number, signal?: AbortSignal): Promise<void> {
    return new Promise((resolve, reject) => {
      if (signal?.aborted) return reject(signal.reason);
      const t = setTimeout(() => { signal?.removeEventListener('abort', onAbort); resolve(); }, ms);
      const onAbort = () => { clearTimeout(t); reject(signal!.reason); };
      signal?.addEventListener('abort', onAbort, { once: true });
    });
  }
  setTimer(ms: number, fn: () => void): TimerHandle {
    const t = setTimeout(fn, ms);
    return { cancel: () => clearTimeout(t) };
  }
}

/**
 * In-process I/O (the in-memory transport) reports each delivery here, so a
 * virtual clock can tell "nothing is happening" from "bytes are in flight".
 */
let ioActivity = 0;
export function noteIoActivity(): void { ioActivity++; }

interface VirtualTimer { at: number; seq: number; fn: () => void; cancelled: boolean }

/**
 * Virtual time: sleeps and timers complete as soon as the process has
 * nothing else to do, and `now()` moves forward by exactly the time they
 * asked for. A 2 s auth_delay costs microseconds of wall time, yet every
 * timestamp reads as if 2 s passed.
 *
 * Time advances to the earliest pending timer once in-memory I/O has been
 * quiet for a few event-loop turns. Real sockets are outside its view, so
 * use it with the in-memory transport.
 */
export class VirtualClock implements Clock {
  private current: number;
  private timers: VirtualTimer[] = [];
  private seq = 0;
  private scheduled = false;
  /** Event-loop turns without in-memory I/O before time may jump. */
  private readonly quietTurns: number;

  constructor(start: number | Date = Date.UTC(2026, 0, 1, 0, 0, 0), opts: { quietTurns?: number } = {}) {
    this.current = typeof start === 'number' ? start : start.getTime();
    this.quietTurns = opts.quietTurns ?? 3;
  }

  now(): number { return this.current; }

  setTimer(ms: number, fn: () => void): TimerHandle {
    const t: VirtualTimer = { at: this.current + Math.max(0, ms), seq: this.seq++, fn, cancelled: false };
    this.timers.push(t);
    this.timers.sort((a, b) => a.at - b.at || a.seq - b.seq);
    this.schedule();
    return { cancel: () => { t.cancelled = true; this.timers = this.timers.filter((x) => x !== t); } };
  }

  sleep(ms: number, signal?: AbortSignal): Promise<void> {
    return new Promise((resolve, reject) => {
      if (signal?.aborted) return reject(signal.reason);
      const onAbort = () => { h.cancel(); reject(signal!.reason); };
      const h = this.setTimer(ms, () => { signal?.removeEventListener('abort', onAbort); resolve(); });
      signal?.addEventListener('abort', onAbort, { once: true });
    });
  }

  /** Move time forward by hand, firing whatever falls due (in order). */
  advance(ms: number): void {
    const target = this.current + ms;
    for (;;) {
      const next = this.timers[0];
      if (!next || next.at > target) break;
      this.fire(next);
    }
    this.current = target;
  }

  /** Timers still waiting. */
  pending(): number { return this.timers.length; }

  private fire(t: VirtualTimer): void {
    this.timers.shift();
    if (t.at > this.current) this.current = t.at;
    if (!t.cancelled) t.fn();
  }

  private schedule(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    let quiet = 0;
    let seen = ioActivity;
    const turn = () => {
      if (this.timers.length === 0) { this.scheduled = false; return; }
      if (ioActivity !== seen) { seen = ioActivity; quiet = 0; }
      else quiet++;
      if (quiet >= this.quietTurns) {
        quiet = 0;
        this.fire(this.timers[0]!);
      }
      setImmediate(turn);
    };
    setImmediate(turn);
  }
}
