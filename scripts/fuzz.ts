/**
 * `npm run fuzz -- --streams N --seed S [--tcp-share F] [--concurrency C] [--memory-csv FILE]`:
 * the long run of the fuzz harness (spec/support/fuzz.ts). Prints progress, the streams of each
 * class, what the server did with them, and a memory curve; exits 1 on any violation.
 */
import { writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { runFuzz, STREAM_CLASSES, type FuzzStats, type MemorySample } from '../spec/support/fuzz.js';

const HELP = `usage: npm run fuzz -- [options]

Runs many client streams against an in-process pg-authsim server, each a small seeded
script of one misbehaviour (malformed, oversized or truncated startup and authentication
packets, floods during auth_delay, stalls cut at authentication_timeout, resets, half-closes,
TLS garbage, TLS clients misbehaving inside TLS, hooks that hang, throw or sleep, cancel
requests, good logins), in batches. After every batch it checks: no crash, uncaught exception
or unhandled rejection; no backend, PGPROC slot, clock timer, server-side socket or TCP handle
left; a flooded backend holds a bounded amount of input; heap and RSS floors stay flat; a good
SCRAM client (plaintext and TLS) still logs in. Exits 1 on any violation.

  --streams N          client streams in all (default 20000)
  --seed S             everything follows from it (default 1); the in-memory part is
                       reproducible: the same seed prints the same digest
  --tcp-share F        fraction of batches run over loopback TCP on real time (default 0.03);
                       the rest run in memory on a virtual clock
  --concurrency C      streams per batch, run at once (default 64)
  --memory-csv FILE    write the memory curve (one row per --csv-every streams)
  --csv-every N        streams between rows of the CSV (default 10000)
  --report-every N     streams between progress lines and points of the printed curve (default 50000)
  --json FILE          write the final statistics as JSON
  -h, --help           this text
`;

const { values } = parseArgs({
  options: {
    streams: { type: 'string', default: '20000' },
    seed: { type: 'string', default: '1' },
    'tcp-share': { type: 'string', default: '0.03' },
    concurrency: { type: 'string', default: '64' },
    'memory-csv': { type: 'string' },
    'csv-every': { type: 'string', default: '10000' },
    'report-every': { type: 'string', default: '50000' },
    json: { type: 'string' },
    help: { type: 'boolean', short: 'h', default: false },
  },
});
if (values.help) {
  process.stdout.write(HELP);
  process.exit(0);
}

function count(name: string, value: string, min: number, max = Number.MAX_SAFE_INTEGER): number {
  const n = Number(value);
  if (!Number.isFinite(n) || n < min || n > max) {
    process.stderr.write(`fuzz: --${name} must be a number in [${min}, ${max}], not "${value}"\n${HELP}`);
    process.exit(2);
  }
  return n;
}
const streams = Math.floor(count('streams', values.streams, 1));
const tcpShare = count('tcp-share', values['tcp-share'], 0, 1);
const concurrency = Math.floor(count('concurrency', values.concurrency, 1, 10_000));
const csvEvery = Math.floor(count('csv-every', values['csv-every'], 1));
const reportEvery = Math.floor(count('report-every', values['report-every'], 1));
const seed = /^-?\d+$/.test(values.seed) ? Number(values.seed) : values.seed;

const fmt = (x: number) => x.toFixed(1);
/** Memory samples at (about) every `every` streams, and the last one. */
function thinned(samples: MemorySample[], every: number): MemorySample[] {
  const out: MemorySample[] = [];
  let next = every;
  for (const s of samples) {
    if (s.streams >= next) { out.push(s); next = (Math.floor(s.streams / every) + 1) * every; }
  }
  const last = samples[samples.length - 1];
  if (last && out[out.length - 1] !== last) out.push(last);
  return out;
}

process.stdout.write(`fuzz: ${streams} streams, seed ${seed}, tcp share ${tcpShare}, concurrency ${concurrency}\n`);
let nextReport = reportEvery;
let reportedViolations = 0;
const stats: FuzzStats = await runFuzz({
  streams, seed, tcpShare, concurrency,
  onBatch: (s) => {
    for (; reportedViolations < s.violations.length; reportedViolations++) process.stdout.write(`VIOLATION ${s.violations[reportedViolations]}\n`);
    if (s.streams < nextReport) return;
    nextReport = (Math.floor(s.streams / reportEvery) + 1) * reportEvery;
    const m = s.samples[s.samples.length - 1]!;
    const rate = s.streams / m.seconds;
    process.stdout.write(`  ${s.streams} streams  ${fmt(m.seconds)} s  ${Math.round(rate)}/s  rss ${fmt(m.rssMb)} MB  heap ${fmt(m.heapMb)} MB  good logins ${s.goodLogins}  violations ${s.violations.length}\n`);
  },
});
for (; reportedViolations < stats.violations.length; reportedViolations++) process.stdout.write(`VIOLATION ${stats.violations[reportedViolations]}\n`);

const pad = (s: string, n: number) => s.padEnd(n);
process.stdout.write(`\n${stats.streams} streams (${stats.tcpStreams} over TCP) in ${fmt(stats.wallMs / 1000)} s, ${Math.round(stats.streams / (stats.wallMs / 1000))} streams/s, ${stats.batches} batches\n`);
process.stdout.write('\nstreams by class:\n');
for (const c of STREAM_CLASSES) process.stdout.write(`  ${pad(c, 18)} ${stats.byClass[c] ?? 0}\n`);
process.stdout.write('\nwhat the server did (log SQLSTATEs, events):\n');
for (const [k, v] of Object.entries(stats.outcomes).sort((a, b) => b[1] - a[1])) process.stdout.write(`  ${pad(k, 40)} ${v}\n`);
process.stdout.write(`\ngood client logins after batches ${stats.goodLogins}; 'good' streams served ${stats.goodStreamsServed} of ${stats.byClass.good ?? 0}; most input a flooded backend held: ${stats.maxFloodBuffered} bytes\n`);
process.stdout.write(`memory  rss MB first/min/max/last ${fmt(stats.rssMb.first)}/${fmt(stats.rssMb.min)}/${fmt(stats.rssMb.max)}/${fmt(stats.rssMb.last)}`
  + `  heap MB ${fmt(stats.heapMb.first)}/${fmt(stats.heapMb.min)}/${fmt(stats.heapMb.max)}/${fmt(stats.heapMb.last)}\n`);
process.stdout.write('\nmemory curve:\n  streams      rssMb   heapMb\n');
for (const s of thinned(stats.samples, reportEvery)) process.stdout.write(`  ${String(s.streams).padStart(8)} ${fmt(s.rssMb).padStart(9)} ${fmt(s.heapMb).padStart(8)}\n`);
process.stdout.write(`\ndigest of the in-memory server's events: ${stats.digest}\n`);

if (values['memory-csv']) {
  const rows = thinned(stats.samples, csvEvery).map((s) => `${s.streams},${s.seconds.toFixed(1)},${s.rssMb.toFixed(1)},${s.heapMb.toFixed(1)}`);
  writeFileSync(values['memory-csv'], `streams,seconds,rssMb,heapMb\n${rows.join('\n')}\n`);
  process.stdout.write(`memory curve written to ${values['memory-csv']}\n`);
}
if (values.json) writeFileSync(values.json, `${JSON.stringify({ ...stats, samples: thinned(stats.samples, csvEvery) }, null, 2)}\n`);

process.stdout.write(stats.violations.length === 0 ? 'no violations\n' : `${stats.violations.length} violation(s)\n`);
process.exitCode = stats.violations.length === 0 ? 0 : 1;
