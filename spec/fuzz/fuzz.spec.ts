/**
 * The fuzz harness (spec/support/fuzz.ts) in a short, bounded run: a few thousand client
 * streams of every class of misbehaviour, mostly in memory on virtual time, a share over
 * loopback TCP, with the server's invariants checked after every batch. The long run is
 * `npm run fuzz -- --streams 1000000 --seed 8` (scripts/fuzz.ts).
 *
 * The last tests make the harness fail on purpose (an extension that leaks memory, one that
 * leaves a listener behind), so a clean run above means something.
 */
import { expect } from 'chai';
import { execFile } from 'node:child_process';
import * as net from 'node:net';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { runFuzz, STREAM_CLASSES, type FuzzStats } from '../support/fuzz.js';
import type { ExtensionModule } from '../../src/extensions/extension.js';

/** The lowest heap reading in samples [from, to): the floor under GC's sawtooth. */
const heapFloor = (s: FuzzStats, from: number, to: number) => Math.min(...s.samples.slice(from, to).map((x) => x.heapMb));

describe('fuzz: many misbehaving clients against one server', function () {
  this.timeout(120_000);

  let run: FuzzStats;
  before(async () => {
    run = await runFuzz({ streams: 3200, seed: 8, tcpShare: 0.04, concurrency: 64 });
  });

  it('breaks no invariant: no crash or unhandled rejection, no backend, slot, timer, socket or handle left, good clients served', () => {
    expect(run.violations).to.deep.equal([]);
    expect(run.streams).to.equal(3200);
    expect(run.tcpStreams, 'streams over TCP').to.be.above(0);
    expect(run.goodLogins, 'good client logins (plaintext and TLS, after every batch)').to.equal(2 * run.batches);
    // The rest met max_connections (40, with 64 streams at once).
    expect(run.goodStreamsServed, "'good' streams that reached ReadyForQuery").to.be.at.least(0.8 * (run.byClass.good ?? 0)).and.above(0);
  });

  it('ran every class of stream, and the server met each the way it should', () => {
    for (const c of STREAM_CLASSES) expect(run.byClass[c] ?? 0, `streams of class ${c}`).to.be.above(0);
    const o = run.outcomes;
    expect(o['FATAL 57014'] ?? 0, 'canceling authentication due to timeout (stalls, hung hooks)').to.be.above(0);
    expect(o['FATAL XX000'] ?? 0, 'the throwing hook\'s error').to.be.above(0);
    expect(o['FATAL 08P01'] ?? 0, 'protocol violations').to.be.above(0);
    expect(o['FATAL 28P01'] ?? 0, 'password authentication failed').to.be.above(0);
    expect(o['closed socket-error'] ?? 0, 'connections reset by the client').to.be.above(0);
    expect(o['tls-established'] ?? 0, 'TLS sessions').to.be.above(0);
    expect(o['closed timeout'] ?? 0, 'stalled connections cut at authentication_timeout').to.be.above(0);
    for (const r of ['signalled', 'wrong-key', 'no-such-process']) expect(o[`cancel ${r}`] ?? 0, `cancel requests: ${r}`).to.be.above(0);
    expect(o['session-started'] ?? 0, 'sessions').to.be.at.least(run.goodLogins);
  });

  it('bounds what a flooding client makes a backend hold, and memory stays flat', () => {
    expect(run.maxFloodBuffered, 'bytes a flooded backend held').to.be.above(0).and.below(256 * 1024);
    expect(run.samples).to.have.length(run.batches);
    const n = run.samples.length;
    expect(heapFloor(run, n - 10, n) - heapFloor(run, 5, 15), 'heap floor growth (MB), last 10 batches vs batches 5-15').to.be.below(64);
  });

  it('is deterministic: the same seed does the same things in memory, another seed other things', async () => {
    const [a, b, c] = [await runFuzz({ streams: 400, seed: 'same' }), await runFuzz({ streams: 400, seed: 'same' }), await runFuzz({ streams: 400, seed: 'other' })];
    for (const r of [a, b, c]) expect(r.violations).to.deep.equal([]);
    expect(b.byClass).to.deep.equal(a.byClass);
    expect(b.outcomes).to.deep.equal(a.outcomes);
    expect(b.digest).to.equal(a.digest);
    expect(c.digest).to.not.equal(a.digest);
  });

  describe('fails when the server misbehaves', () => {
    it('reports memory growth when a hook keeps what it sees', async () => {
      const kept: number[][] = [];
      const hoarder: ExtensionModule = {
        name: 'hoarder',
        _PG_init(ctx) {
          const previous = ctx.hooks.ClientAuthentication_hook;
          ctx.hooks.ClientAuthentication_hook = async (port, status) => {
            // Half a megabyte of heap per login attempt, never let go.
            kept.push(new Array<number>(64 * 1024).fill(kept.length));
            if (previous) await previous(port, status);
          };
        },
      };
      const r = await runFuzz({ streams: 64 * 45, seed: 8, extensions: [hoarder] });
      kept.length = 0;
      expect(r.violations.join('\n')).to.match(/memory grew: heap floor \+\d+/);
    });

    it('reports a TCP listener an extension leaves behind', async () => {
      let listener: net.Server | null = null;
      const squatter: ExtensionModule = {
        name: 'squatter',
        _PG_init(ctx) {
          const previous = ctx.hooks.ClientAuthentication_hook;
          ctx.hooks.ClientAuthentication_hook = async (port, status) => {
            listener ??= net.createServer().listen(0, '127.0.0.1');
            if (previous) await previous(port, status);
          };
        },
      };
      try {
        const r = await runFuzz({ streams: 128, seed: 8, extensions: [squatter] });
        expect(listener, 'the extension ran').to.not.equal(null);
        expect(r.violations.join('\n')).to.match(/after the run: 1 TCP listeners/);
      } finally {
        (listener as net.Server | null)?.close();
      }
    });
  });

  describe('npm run fuzz (scripts/fuzz.ts)', () => {
    const script = path.resolve('dist/scripts/fuzz.js');
    const run = promisify(execFile);

    it('prints the classes, the server outcomes and the memory curve; exit 0 without violations', async () => {
      const { stdout } = await run(process.execPath, [script, '--streams', '300', '--seed', '2', '--tcp-share', '0'], { timeout: 60_000 });
      expect(stdout).to.match(/^300 streams \(0 over TCP\) in [\d.]+ s/m);
      for (const c of STREAM_CLASSES) expect(stdout).to.match(new RegExp(`^  ${c} +\\d+$`, 'm'));
      expect(stdout).to.match(/^memory curve:\n {2}streams +rssMb +heapMb\n +300 +[\d.]+ +[\d.]+$/m);
      expect(stdout).to.match(/^no violations$/m);
    });

    it('refuses bad options with exit 2', async () => {
      const err = await run(process.execPath, [script, '--streams', 'many'], { timeout: 10_000 }).then(() => null, (e: { code: number; stderr: string }) => e);
      expect(err?.code).to.equal(2);
      expect(err?.stderr).to.match(/--streams must be a number/);
    });
  });
});
