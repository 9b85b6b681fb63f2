/**
 * A Clock whose time only moves when a test says so, so authentication_timeout
 * and other timers can be exercised without waiting.
 */
import type { Clock, TimerHandle } from '../../src/clock.js';

interface Pending { due: number; seq: number; fire: () => void; cancelled: boolean }

export class VirtualClock implements Clock {
  private t: number;
  private seq = 0;
  private pending: Pending[] = [];

  constructor(start = Date.now()) {
    this.t = start;
  }

  now(): number {
    return this.t;
  }

  setTimer(ms: number, fn: () => void): TimerHandle {
    const p: Pending = { due: this.t + Math.max(0, ms), seq: ++this.seq, fire: fn, cancelled: false };
    this.pending.push(p);
    return { cancel: () => { p.cancelled = true; } };
  }

  sleep(ms: number, signal?: AbortSignal): Promise<void> {
    return new Promise((resolve, reject) => {
      if (signal?.aborted) return reject(signal.reason);
      const onAbort = () => { handle.cancel(); reject(signal!.reason); };
      const handle = this.setTimer(ms, () => { signal?.removeEventListener('abort', onAbort); resolve(); });
      signal?.addEventListener('abort', onAbort, { once: true });
    });
  }

  /** Timers still waiting to fire. */
  get pendingTimers(): number {
    return this.pending.filter((p) => !p.cancelled).length;
  }

  /**
   * Move time forward by `ms`, firing due timers in order (each at its own
   * due time), and give the event loop a turn after each so that the code
   * woken by a timer runs before the next one fires.
   */
  async advance(ms: number): Promise<void> {
    const end = this.t + ms;
    for (;;) {
      const next = this.pending
        .filter((p) => !p.cancelled && p.due <= end)
        .sort((a, b) => a.due - b.due || a.seq - b.seq)[0];
      if (!next) break;
      this.pending = this.pending.filter((p) => p !== next);
      this.t = Math.max(this.t, next.due);
      next.fire();
      await new Promise<void>((r) => setImmediate(r));
    }
    this.t = end;
    this.pending = this.pending.filter((p) => !p.cancelled);
  }
}
