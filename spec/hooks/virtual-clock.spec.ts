import { expect } from 'chai';
import { VirtualClock } from '../../src/clock.js';

describe('VirtualClock', () => {
  it('completes a long sleep at once while now() moves by exactly the requested time', async () => {
    const clock = new VirtualClock(Date.UTC(2026, 0, 1));
    const wallStart = performance.now();
    const t0 = clock.now();
    await clock.sleep(2000);
    expect(clock.now() - t0).to.equal(2000);
    expect(performance.now() - wallStart).to.be.below(1000);
  });

  it('wakes concurrent sleepers in deadline order, each at its own time', async () => {
    const clock = new VirtualClock(0);
    const woke: Array<[string, number]> = [];
    await Promise.all([
      clock.sleep(300).then(() => woke.push(['300', clock.now()])),
      clock.sleep(100).then(() => woke.push(['100', clock.now()])),
      clock.sleep(200).then(() => woke.push(['200', clock.now()])),
    ]);
    expect(woke).to.deep.equal([['100', 100], ['200', 200], ['300', 300]]);
  });

  it('never fires a cancelled timer', async () => {
    const clock = new VirtualClock(0);
    let fired = false;
    const h = clock.setTimer(50, () => { fired = true; });
    h.cancel();
    await clock.sleep(100);
    expect(fired).to.equal(false);
    expect(clock.pending()).to.equal(0);
  });

  it('rejects a sleep whose signal aborts, without moving time to its deadline', async () => {
    const clock = new VirtualClock(0);
    const ac = new AbortController();
    const long = clock.sleep(10_000, ac.signal);
    clock.setTimer(1000, () => ac.abort('timeout'));
    let reason: unknown;
    await long.catch((r) => { reason = r; });
    expect(reason).to.equal('timeout');
    expect(clock.now()).to.equal(1000);
  });

  it('advance() fires what falls due, in order', () => {
    const clock = new VirtualClock(0);
    const order: number[] = [];
    clock.setTimer(30, () => order.push(30));
    clock.setTimer(10, () => order.push(10));
    clock.setTimer(50, () => order.push(50));
    clock.advance(40);
    expect(order).to.deep.equal([10, 30]);
    expect(clock.now()).to.equal(40);
  });
});
