/**
 * The fuzz harness: many client streams, each a small random script of one
 * class of misbehaviour, run against one server in batches, with the server's
 * invariants checked after every batch:
 *
 *  - no crash, no uncaught exception, no unhandled rejection;
 *  - nothing left behind: no backend, no PGPROC slot, no timer on the
 *    server's clock, no server-side socket still open, no TCP handle;
 *  - memory bounded: a flooding client cannot make a backend hold more than a
 *    bounded amount of its bytes (256 KiB; it stops reading), and the floors of
 *    heap and RSS (sampled after every batch) stay flat;
 *  - a good client is still served (SCRAM login, plaintext and TLS).
 *
 * Classes: malformed, oversized and truncated packets (startup and
 * authentication), floods during auth_delay, stalls (authentication_timeout),
 * resets, half-closes, TLS garbage and TLS clients that misbehave inside TLS,
 * hooks that hang, throw or sleep, and cancel requests. Streams run over the
 * in-memory transport on virtual time; a share of them also over TCP on real
 * time (`tcpShare`). Everything follows from the seed.
 *
 * Used by spec/fuzz/fuzz.spec.ts (a short run in `npm test`) and
 * scripts/fuzz.ts (`npm run fuzz -- --streams N --seed S`).
 */
import * as net from 'node:net';
import * as tls from 'node:tls';
import * as v8 from 'node:v8';
import * as vm from 'node:vm';
import type { Duplex } from 'node:stream';
import { TestCluster } from '../../src/testing/index.js';
import type { ExtensionModule } from '../../src/extensions/extension.js';
import { SeededRandom, type Random } from '../../src/random.js';
import { createHash } from 'node:crypto';
import { RealClock, VirtualClock, type Clock, type TimerHandle } from '../../src/clock.js';
import type { ServerEvent } from '../../src/events.js';
import { encodeFrontend } from '../../src/wire/codec.js';
import { ScramClient } from '../../src/auth/scram-client.js';
import type { MemorySocket } from '../../src/server/memory-transport.js';
import { resetSocket } from '../../src/server/wire-tap.js';
import { startupMessage } from './raw-login.js';

export const STREAM_CLASSES = [
  'malformed-startup', 'malformed-auth', 'oversized', 'truncated', 'flood', 'stall', 'reset', 'half-close',
  'tls-garbage', 'tls-misbehave', 'hook-hang', 'hook-throw', 'hook-sleep', 'cancel', 'good',
] as const;
export type StreamClass = (typeof STREAM_CLASSES)[number];

/** Relative frequency of each class (TLS handshakes cost the most, so they are rarer). */
const WEIGHTS: Record<StreamClass, number> = {
  'malformed-startup': 14, 'malformed-auth': 12, oversized: 6, truncated: 8, flood: 3, stall: 6, reset: 8, 'half-close': 8,
  'tls-garbage': 6, 'tls-misbehave': 2, 'hook-hang': 4, 'hook-throw': 4, 'hook-sleep': 4, cancel: 6, good: 4,
};

export interface FuzzOptions {
  streams: number;
  seed: number | string;
  /** Streams run at once in a batch (default 64). */
  concurrency?: number;
  /** Fraction of batches that run over TCP (real clock) instead of in memory (default 0). */
  tcpShare?: number;
  /** More extensions for both clusters: every hook call reaches theirs before the harness's misbehaving hooks. */
  extensions?: ExtensionModule[];
  /** Most input bytes a flooded backend may hold (default 256 KiB). */
  maxFloodBytes?: number;
  /** How far the heap's floor may rise above its level after warm-up (default 64 MB). */
  maxHeapGrowthMb?: number;
  /** How far RSS's floor may rise above its level after warm-up (default 256 MB). */
  maxRssGrowthMb?: number;
  /** Only these classes (default: all, by their weights). */
  classes?: readonly StreamClass[];
  /** Stop early after this many violations (default 20). */
  maxViolations?: number;
  /** Called after each batch. */
  onBatch?: (s: FuzzStats) => void;
}

/** Memory after one batch. */
export interface MemorySample { streams: number; seconds: number; rssMb: number; heapMb: number }

export interface Range { first: number; min: number; max: number; last: number }

export interface FuzzStats {
  streams: number;
  tcpStreams: number;
  byClass: Record<string, number>;
  batches: number;
  /** Logins of the good client after each batch (plaintext and TLS). */
  goodLogins: number;
  /** Streams of the class 'good' that reached ReadyForQuery (the rest met max_connections or a cancel). */
  goodStreamsServed: number;
  /** Largest input a backend held while a client flooded it (bytes). */
  maxFloodBuffered: number;
  /** How often each SQLSTATE was logged, and a few other server events (timeouts, hook calls, cancels). */
  outcomes: Record<string, number>;
  /** A digest of what the in-memory server did (event types, SQLSTATEs, messages): same seed, same digest. */
  digest: string;
  /** One sample per batch. */
  samples: MemorySample[];
  rssMb: Range;
  heapMb: Range;
  violations: string[];
  wallMs: number;
}

const HBA = [
  'host all hang 127.0.0.1/32 password',
  'host all throw 127.0.0.1/32 password',
  'host all sleep 127.0.0.1/32 password',
  'host template1 all 127.0.0.1/32 trust',
  'hostssl certdb all 127.0.0.1/32 cert',
  'host rejectdb all 127.0.0.1/32 reject',
  'host md5db all 127.0.0.1/32 md5',
  'host passworddb all 127.0.0.1/32 password',
  'host all all 127.0.0.1/32 scram-sha-256',
].join('\n');
const ROLES = `
CREATE ROLE test LOGIN PASSWORD 'secret';
SET password_encryption = 'md5';
CREATE ROLE md5user LOGIN PASSWORD 'secret';
SET password_encryption = 'scram-sha-256';
CREATE ROLE hang LOGIN PASSWORD 'secret';
CREATE ROLE throw LOGIN PASSWORD 'secret';
CREATE ROLE sleep LOGIN PASSWORD 'secret';
`;
const USERS = ['test', 'md5user', 'nobody', 'hang', 'throw', 'sleep', ''];
const DATABASES = ['postgres', 'template1', 'template0', 'passworddb', 'md5db', 'rejectdb', 'certdb', 'nosuch'];

/** Hooks that misbehave by user name. */
const misbehaving: ExtensionModule = {
  name: 'fuzz_hooks',
  _PG_init(ctx) {
    const previous = ctx.hooks.ClientAuthentication_hook;
    ctx.hooks.ClientAuthentication_hook = async (port, status) => {
      if (previous) await previous(port, status);
      if (port.user_name === 'hang') await new Promise<void>(() => {});
      if (port.user_name === 'throw') throw ctx.error({ sqlstate: 'XX000', message: 'fuzz hook refuses' });
      if (port.user_name === 'sleep') await ctx.pg_usleep(3_600_000);
    };
  },
};

// ---- bytes ------------------------------------------------------------------------

const int32 = (n: number) => { const b = Buffer.alloc(4); b.writeInt32BE(n | 0); return b; };
const untyped = (body: Buffer) => Buffer.concat([int32(body.length + 4), body]);
const typed = (type: number, body: Buffer, length = body.length + 4) => Buffer.concat([Buffer.from([type]), int32(length), body]);
const pick = <T>(rng: Random, xs: readonly T[]): T => xs[rng.int(0, xs.length - 1)]!;
/** Random bytes that can stand in a C string (a NUL would end it early). */
const noNul = (b: Buffer) => Buffer.from(b.map((x) => x || 0x3f));
/** A well-formed StartupMessage. */
/** Wait at most ms of real time (the timer does not outlive the wait). */
async function within(p: Promise<unknown>, ms: number): Promise<void> {
  let t: NodeJS.Timeout | undefined;
  await Promise.race([p, new Promise((r) => { t = setTimeout(r, ms); })]);
  clearTimeout(t);
}
const SSL_REQUEST = untyped(int32(80877103));
const GSS_REQUEST = untyped(int32(80877104));

function startup(rng: Random, user = pick(rng, USERS), database = pick(rng, DATABASES)): Buffer {
  const params: Array<[string, string]> = [];
  if (rng.int(0, 9) > 0) params.push(['user', user]);
  if (rng.int(0, 3) > 0) params.push(['database', database]);
  if (rng.int(0, 5) === 0) params.push(['application_name', noNul(rng.bytes(rng.int(0, 12))).toString('latin1')]);
  if (rng.int(0, 7) === 0) params.push(['options', pick(rng, ['-c geqo=off', '-c x=1', '--', 'foo', '-c'])]);
  if (rng.int(0, 9) === 0) params.push(['_pq_.x', '1']);
  const minor = rng.int(0, 9) === 0 ? rng.int(0, 3) : 0;
  const major = rng.int(0, 19) === 0 ? pick(rng, [0, 2, 4, 1234]) : 3;
  return encodeFrontend({ type: 'StartupMessage', protocolVersion: { major, minor }, params });
}

/** A random typed message, sometimes with a lying length word. */
function randomMessage(rng: Random): Buffer {
  const body = rng.bytes(rng.int(0, 40));
  const type = rng.int(0, 3) === 0 ? rng.int(0, 255) : 0x70;
  const length = rng.int(0, 4) === 0 ? rng.int(-10, 100000) : body.length + 4;
  return typed(type, body, length);
}

// ---- one client stream ---------------------------------------------------------------

/** What the server sent on one connection, and how it ended. */
class Peer {
  received = 0;
  closed: Promise<void>;
  isClosed = false;
  private wake: (() => void) | null = null;
  private buf = Buffer.alloc(0);
  private done = (): void => {};

  constructor(readonly sock: Duplex) {
    sock.on('error', () => {});
    sock.on('data', (d: Buffer) => { this.received += d.length; if (this.buf.length < 65536) this.buf = Buffer.concat([this.buf, d]); this.wake?.(); });
    this.closed = new Promise((resolve) => {
      this.done = () => { if (!this.isClosed) { this.isClosed = true; this.wake?.(); resolve(); } };
      sock.on('end', this.done);
      sock.on('close', this.done);
    });
  }

  send(b: Buffer): boolean {
    if (this.sock.destroyed || this.sock.writableEnded) return false;
    return this.sock.write(b);
  }

  /** Wait until at least n bytes arrived (or the server closed); returns the first n. */
  async read(n: number): Promise<Buffer | null> {
    while (this.buf.length < n && !this.isClosed) await new Promise<void>((r) => { this.wake = r; });
    if (this.buf.length < n) return null;
    const out = this.buf.subarray(0, n);
    this.buf = this.buf.subarray(n);
    return out;
  }

  /** The next framed message's type and body (or null at close). */
  async message(): Promise<{ type: number; body: Buffer } | null> {
    const head = await this.read(5);
    if (!head) return null;
    const body = await this.read(Math.max(0, head.readUInt32BE(1) - 4));
    return body ? { type: head[0]!, body } : null;
  }

  end(): void { if (!this.sock.destroyed) this.sock.end(); }
  /** The connection is known to be over (its TLS layer closed): the raw socket may not say so itself. */
  markClosed(): void { this.done(); }
  reset(): void {
    // A socket that answered the server's FIN with its own (allowHalfOpen off) can only be dropped.
    resetSocket(this.sock);
  }
}

const turns = async (n: number) => { for (let i = 0; i < n; i++) await new Promise((r) => setImmediate(r)); };

interface StreamContext {
  rng: Random;
  cluster: TestCluster;
  stats: FuzzStats;
  tcp: boolean;
}

/** Start TLS as a client on `p` after an 'S'; null when the handshake fails. */
async function clientTls(p: Peer): Promise<tls.TLSSocket | null> {
  p.sock.removeAllListeners('data');
  const t = tls.connect({ socket: p.sock as net.Socket, rejectUnauthorized: false });
  t.on('error', () => {});
  const ok = await new Promise<boolean>((resolve) => { t.once('secureConnect', () => resolve(true)); t.once('close', () => resolve(false)); });
  if (!ok) { t.destroy(); return null; }
  return t;
}

/** A SCRAM or cleartext exchange far enough to reach the hook (right or wrong password). */
async function authenticate(p: Peer, rng: Random, password: string): Promise<void> {
  for (let i = 0; i < 4; i++) {
    const m = await p.message();
    if (!m || m.type !== 0x52) return;
    const code = m.body.readInt32BE(0);
    if (code === 3 || code === 5) { p.send(encodeFrontend({ type: 'PasswordMessage', password })); continue; }
    if (code === 10) {
      const scram = new ScramClient({ password, mechanism: 'SCRAM-SHA-256', sslInUse: false, channelBinding: 'disable', random: new SeededRandom(rng.int(0, 1e9)) });
      p.send(encodeFrontend({ type: 'SASLInitialResponse', mechanism: 'SCRAM-SHA-256', data: scram.clientFirst() }));
      const cont = await p.message();
      if (!cont || cont.type !== 0x52 || cont.body.readInt32BE(0) !== 11) return;
      p.send(encodeFrontend({ type: 'SASLResponse', data: scram.serverFirst(cont.body.subarray(4)) }));
      return;
    }
    return;
  }
}

/** A prefix of a normal connection, to be cut short (by FIN, RST or silence). */
async function validPrefix(p: Peer, rng: Random): Promise<void> {
  const step = rng.int(0, 4);
  if (step === 0) return;
  if (step === 1) { p.send(startup(rng).subarray(0, rng.int(1, 12))); return; }
  if (step === 2) { p.send(SSL_REQUEST); await p.read(1); return; }
  p.send(startup(rng, pick(rng, ['test', 'md5user', 'nobody']), pick(rng, ['postgres', 'passworddb', 'md5db'])));
  if (step === 4) { await p.read(5); p.send(encodeFrontend({ type: 'PasswordMessage', password: 'wrong' }).subarray(0, rng.int(1, 10))); }
}

const STREAMS: Record<StreamClass, (p: Peer, c: StreamContext) => Promise<void>> = {
  async 'malformed-startup'(p, { rng }) {
    const kind = rng.int(0, 4);
    if (kind === 0) p.send(rng.bytes(rng.int(0, 64)));
    else if (kind === 1) p.send(untyped(Buffer.concat([int32(pick(rng, [196608, 131072, 80877102, 80877103, 80877104, rng.int(0, 2 ** 31 - 1)])), rng.bytes(rng.int(0, 40))])));
    else if (kind === 2) { const s = startup(rng); s[rng.int(4, s.length - 1)] = rng.int(0, 255); p.send(s); }
    else if (kind === 3) p.send(Buffer.concat([pick(rng, [SSL_REQUEST, GSS_REQUEST]), startup(rng)]));
    else p.send(Buffer.concat([GSS_REQUEST, SSL_REQUEST, rng.bytes(rng.int(0, 20))]));
    if (rng.int(0, 1) === 0) p.end();
  },
  async 'malformed-auth'(p, { rng }) {
    p.send(startup(rng, pick(rng, ['test', 'md5user', 'nobody']), pick(rng, ['postgres', 'passworddb', 'md5db'])));
    await p.read(5);
    for (let i = rng.int(1, 3); i > 0; i--) p.send(randomMessage(rng));
    if (rng.int(0, 1) === 0) p.end();
  },
  async oversized(p, { rng }) {
    if (rng.int(0, 1) === 0) {
      p.send(Buffer.concat([int32(pick(rng, [10005, 10_000_000, 2 ** 31 - 1, -1])), rng.bytes(rng.int(0, 12000))]));
    } else {
      p.send(startup(rng, pick(rng, ['test', 'md5user']), pick(rng, ['postgres', 'passworddb'])));
      await p.read(5);
      p.send(Buffer.concat([Buffer.from('p'), int32(pick(rng, [1025, 65536, 1 << 30, 2 ** 31 - 1])), rng.bytes(rng.int(0, 3000))]));
    }
    if (rng.int(0, 1) === 0) p.end();
  },
  async truncated(p, { rng }) {
    const whole = rng.int(0, 1) === 0 ? startup(rng) : Buffer.concat([SSL_REQUEST, startup(rng)]);
    p.send(whole.subarray(0, rng.int(0, whole.length - 1)));
    p.end();
  },
  async flood(p, { rng, cluster, stats }) {
    // A wrong password, then everything the socket takes while the backend sleeps in auth_delay.
    p.send(startup(rng, 'test', 'passworddb'));
    await p.read(5);
    p.send(encodeFrontend({ type: 'PasswordMessage', password: 'wrong' }));
    await turns(5);
    const chunk = Buffer.alloc(64 * 1024, 0x41);
    for (let sent = 0; sent < 4 * 1024 * 1024 && !p.isClosed;) {
      if (p.send(chunk)) { sent += chunk.length; continue; }
      // The writer is held back: what does the backend hold meanwhile?
      for (const b of cluster.server.backends()) stats.maxFloodBuffered = Math.max(stats.maxFloodBuffered, b.conn.bufferedLength());
      await Promise.race([new Promise((r) => p.sock.once('drain', r)), p.closed, turns(20)]);
      sent += chunk.length;
    }
    p.end();
  },
  async stall(p, { rng }) {
    await validPrefix(p, rng);
    // Nothing more: authentication_timeout ends it (virtual time jumps while everyone waits).
  },
  async reset(p, { rng }) {
    await validPrefix(p, rng);
    await turns(rng.int(0, 3));
    p.reset();
  },
  async 'half-close'(p, { rng }) {
    await validPrefix(p, rng);
    p.end();
  },
  async 'tls-garbage'(p, { rng }) {
    p.send(SSL_REQUEST);
    const answer = await p.read(1);
    if (!answer || answer[0] !== 0x53) { p.end(); return; }
    const kind = rng.int(0, 3);
    if (kind === 0) p.send(rng.bytes(rng.int(1, 300)));
    else if (kind === 1) p.send(Buffer.concat([Buffer.from([0x16, 0x03, 0x01]), int32(rng.int(0, 70000)).subarray(2), rng.bytes(rng.int(0, 200))]));
    else if (kind === 2) p.send(startupMessage('test', 'postgres'));
    else p.send(Buffer.from('GET / HTTP/1.1\r\nHost: x\r\n\r\n'));
    if (rng.int(0, 1) === 0) p.end();
  },
  async 'tls-misbehave'(p, { rng }) {
    p.send(SSL_REQUEST);
    const answer = await p.read(1);
    if (!answer || answer[0] !== 0x53) { p.end(); return; }
    const t = await clientTls(p);
    if (!t) return;
    const kind = rng.int(0, 4);
    if (kind === 0) t.write(rng.bytes(rng.int(1, 64)));
    else if (kind === 1) t.write(startupMessage('test', 'postgres').subarray(0, rng.int(1, 20)));
    else if (kind === 2) t.write(startupMessage('test', pick(rng, ['template1', 'postgres'])));
    else if (kind === 3) t.write(SSL_REQUEST);
    await turns(rng.int(0, 5));
    const end = rng.int(0, 2);
    if (end === 0) t.end();
    else if (end === 1) p.sock.end(); // FIN without close_notify
    else p.reset();
    // The client side of a TLS socket over TCP may never see its raw socket close; the server's
    // side is what the batch's invariants check, so the client only lingers a moment.
    const tlsClosed = new Promise<void>((r) => { if (t.destroyed) r(); else t.once('close', () => r()); });
    await within(tlsClosed, 200);
    t.destroy();
    p.markClosed();
  },
  async 'hook-hang'(p, { rng }) {
    p.send(startup(rng, 'hang'));
    await authenticate(p, rng, pick(rng, ['secret', 'wrong']));
    if (rng.int(0, 1) === 0) p.end();
  },
  async 'hook-throw'(p, { rng }) {
    p.send(startup(rng, 'throw'));
    await authenticate(p, rng, pick(rng, ['secret', 'wrong']));
  },
  async 'hook-sleep'(p, { rng }) {
    p.send(startup(rng, 'sleep'));
    await authenticate(p, rng, pick(rng, ['secret', 'wrong']));
    if (rng.int(0, 2) === 0) p.reset();
  },
  async cancel(p, { rng, cluster }) {
    // Let the batch's other connections get going, then aim at one of them (or at no one).
    await turns(rng.int(0, 20));
    const live = cluster.server.backends();
    const victim = live.length > 0 && rng.int(0, 3) > 0 ? live[rng.int(0, live.length - 1)]! : null;
    const pid = victim ? victim.pid : rng.int(-(2 ** 31), 2 ** 31 - 1);
    const key = victim && rng.int(0, 1) === 0 ? victim.cancelKey : rng.bytes(pick(rng, [0, 4, 4, 4, 8]));
    p.send(untyped(Buffer.concat([int32(80877102), int32(pid), key])));
  },
  async good(p, { rng, stats }) {
    p.send(startupMessage('test', pick(rng, ['postgres', 'template1'])));
    await authenticate(p, rng, 'secret');
    for (let m = await p.message(); m; m = await p.message()) {
      if (m.type === 0x5a) {
        stats.goodStreamsServed++;
        p.send(encodeFrontend({ type: 'Query', sql: 'SELECT 1' }));
        await p.message();
        p.send(encodeFrontend({ type: 'Terminate' }));
        break;
      }
    }
  },
};

function pickClass(rng: Random, classes: readonly StreamClass[]): StreamClass {
  const total = classes.reduce((n, c) => n + WEIGHTS[c], 0);
  let x = rng.int(0, total - 1);
  for (const c of classes) {
    x -= WEIGHTS[c];
    if (x < 0) return c;
  }
  return 'good';
}

// ---- the run ---------------------------------------------------------------------------

/** Real time that counts its live timers, so TCP batches are checked for leaked ones as the virtual clock's are. */
class CountingClock implements Clock {
  private readonly real = new RealClock();
  private live = 0;
  now(): number { return this.real.now(); }
  pending(): number { return this.live; }
  setTimer(ms: number, fn: () => void): TimerHandle {
    this.live++;
    let done = false;
    const finish = () => { if (!done) { done = true; this.live--; } };
    const h = this.real.setTimer(ms, () => { finish(); fn(); });
    return { cancel: () => { finish(); h.cancel(); } };
  }
  sleep(ms: number, signal?: AbortSignal): Promise<void> {
    this.live++;
    return this.real.sleep(ms, signal).finally(() => { this.live--; });
  }
}

/** One server under fuzz: in memory on virtual time, or over loopback TCP on (counted) real time. */
interface Target {
  cluster: TestCluster;
  clock: VirtualClock | CountingClock;
  /** TCP only: the port, and the sockets the server accepted since the last batch ended. */
  port: number | null;
  accepted: Set<Duplex>;
}

async function startTarget(seed: string, tcp: boolean, extensions: ExtensionModule[]): Promise<Target> {
  const clock = tcp ? new CountingClock() : new VirtualClock();
  const cluster = await TestCluster.start({
    postgresqlConf: {
      ssl: true, shared_preload_libraries: 'auth_delay', 'auth_delay.milliseconds': tcp ? 50 : 500,
      authentication_timeout: tcp ? '1s' : '2s', max_connections: 40, superuser_reserved_connections: 0, log_connections: true,
    },
    hba: HBA, roles: ROLES, extensions: [...extensions, misbehaving], seed, clock,
  });
  const target: Target = { cluster, clock, port: null, accepted: new Set() };
  if (tcp) {
    // Every socket the server accepts is remembered until its batch has been checked.
    const accept = cluster.server.accept.bind(cluster.server);
    cluster.server.accept = (sock, host, port) => { target.accepted.add(sock); return accept(sock, host, port); };
    target.port = await cluster.listen();
  }
  return target;
}

/** Open a client connection to the target. */
async function openClient(target: Target, serverSockets: MemorySocket[]): Promise<Duplex> {
  if (target.port === null) {
    const s = target.cluster.server.connect();
    if (s.peer) serverSockets.push(s.peer);
    return s;
  }
  const s = net.connect({ port: target.port, host: '127.0.0.1' });
  s.on('error', () => {});
  await new Promise<void>((resolve) => { s.once('connect', () => resolve()); s.once('error', () => resolve()); });
  return s;
}

/** A good client: SCRAM over plaintext, then over TLS; null when both reach ReadyForQuery, else what went wrong. */
async function goodClientServed(open: () => Promise<Duplex>, rng: Random): Promise<string | null> {
  for (const useTls of [false, true]) {
    const p = new Peer(await open());
    let talk: Peer = p;
    if (useTls) {
      p.send(SSL_REQUEST);
      if ((await p.read(1))?.[0] !== 0x53) { p.sock.destroy(); return 'good client: SSLRequest not accepted'; }
      const t = await clientTls(p);
      if (!t) { p.sock.destroy(); return 'good client: TLS handshake failed'; }
      talk = new Peer(t);
    }
    talk.send(startupMessage('test', 'postgres'));
    const scram = new ScramClient({ password: 'secret', mechanism: 'SCRAM-SHA-256', sslInUse: useTls, channelBinding: 'disable', random: new SeededRandom(rng.int(0, 1e9)) });
    let failure: string | null = `good client${useTls ? ' over TLS' : ''}: no ReadyForQuery`;
    for (let m = await talk.message(); m; m = await talk.message()) {
      if (m.type === 0x45) { failure = `good client${useTls ? ' over TLS' : ''}: ErrorResponse ${m.body.toString('latin1').replace(/\0/g, ' ').trim()}`; break; }
      if (m.type === 0x52 && m.body.readInt32BE(0) === 10) talk.send(encodeFrontend({ type: 'SASLInitialResponse', mechanism: 'SCRAM-SHA-256', data: scram.clientFirst() }));
      if (m.type === 0x52 && m.body.readInt32BE(0) === 11) talk.send(encodeFrontend({ type: 'SASLResponse', data: scram.serverFirst(m.body.subarray(4)) }));
      if (m.type === 0x5a) { failure = null; break; }
    }
    talk.send(encodeFrontend({ type: 'Terminate' }));
    talk.end();
    await within(talk.closed, 30_000);
    talk.sock.destroy();
    p.sock.destroy();
    if (failure) return failure;
  }
  return null;
}

/** Run one client stream of a random class to its end; the class it ran, or a violation. */
async function runStream(target: Target, rng: Random, classes: readonly StreamClass[], stats: FuzzStats, serverSockets: MemorySocket[]): Promise<StreamClass> {
  const cls = pickClass(rng, classes);
  stats.byClass[cls] = (stats.byClass[cls] ?? 0) + 1;
  const tcp = target.port !== null;
  const p = new Peer(await openClient(target, serverSockets));
  try {
    await STREAMS[cls](p, { rng, cluster: target.cluster, stats, tcp });
  } catch (err) {
    stats.violations.push(`stream ${cls} threw on the client side: ${err instanceof Error ? err.message : String(err)}`);
  }
  // Whatever the script left open, the client gives up in the end (after the server had its say).
  await Promise.race([p.closed, turns(50)]);
  p.end();
  await within(p.closed, tcp ? 3000 : 30_000);
  if (!p.isClosed) stats.violations.push(`stream ${cls}${tcp ? ' (tcp)' : ''}: the server never closed the connection`);
  p.sock.destroy();
  return cls;
}

const tcpHandles = (kind: 'TCPSocketWrap' | 'TCPServerWrap') => process.getActiveResourcesInfo().filter((r) => r === kind).length;

/** Wait (bounded, real time) until cond holds; whether it does. */
async function eventually(cond: () => boolean, ms: number): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (!cond() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
  return cond();
}

/** What the server did in one batch: counted into stats.outcomes, and (in memory) into the digest. */
function tally(events: readonly ServerEvent[], stats: FuzzStats, digest: ReturnType<typeof createHash> | null): void {
  const count = (k: string) => { stats.outcomes[k] = (stats.outcomes[k] ?? 0) + 1; };
  for (const e of events) {
    let key: string | null = null;
    if (e.type === 'error' && e.toLog) key = `${e.error.severity} ${e.error.sqlstate}`;
    else if (e.type === 'log' && e.toLog !== false && e.sqlstate) key = `${e.severity} ${e.sqlstate}`;
    else if (e.type === 'log' && /^could not (receive|send) data/.test(e.message)) key = e.message.replace(/: .*/, '');
    else if (e.type === 'hook-invoked' || e.type === 'authenticated' || e.type === 'tls-established' || e.type === 'session-started') key = e.type;
    else if (e.type === 'cancel-request') key = `cancel ${e.result}`;
    else if (e.type === 'connection-closed') key = `closed ${e.reason}`;
    if (key) count(key);
    if (digest) digest.update(`${e.connection}|${e.type}|${e.type === 'error' ? `${e.error.sqlstate} ${e.error.message}` : e.type === 'log' ? e.message : key ?? ''}\n`);
  }
}

/** The lowest value of `key` over samples [from, to): the floor under GC's sawtooth. */
const floor = (xs: MemorySample[], key: 'rssMb' | 'heapMb', from: number, to: number) => Math.min(...xs.slice(from, to).map((x) => x[key]));

/** A full garbage collection, when one can be had (to tell garbage from growth). */
function collectGarbage(): void {
  try {
    v8.setFlagsFromString('--expose-gc');
    (vm.runInNewContext('gc') as () => void)();
  } catch { /* without it the floors decide alone */ }
}

const range = (xs: number[]): Range => ({ first: xs[0] ?? 0, min: Math.min(...xs), max: Math.max(...xs), last: xs[xs.length - 1] ?? 0 });

/** The width of a floor window (batches), and the first batch whose memory is checked. */
const WINDOW = 10;
const FIRST_MEMORY_CHECK = 30;

export async function runFuzz(opts: FuzzOptions): Promise<FuzzStats> {
  const concurrency = opts.concurrency ?? 64;
  const tcpShare = opts.tcpShare ?? 0;
  const maxFlood = opts.maxFloodBytes ?? 256 * 1024;
  const maxViolations = opts.maxViolations ?? 20;
  const classes = opts.classes && opts.classes.length > 0 ? opts.classes : STREAM_CLASSES;
  const stats: FuzzStats = {
    streams: 0, tcpStreams: 0, byClass: {}, batches: 0, goodLogins: 0, goodStreamsServed: 0, maxFloodBuffered: 0, outcomes: {}, digest: '',
    samples: [], rssMb: range([]), heapMb: range([]), violations: [], wallMs: 0,
  };
  const t0 = performance.now();
  const unhandled = (reason: unknown) => { stats.violations.push(`unhandled rejection: ${reason instanceof Error ? reason.stack ?? reason.message : String(reason)}`); };
  const uncaught = (err: Error) => { stats.violations.push(`uncaught exception: ${err.stack ?? err.message}`); };
  process.on('unhandledRejection', unhandled);
  process.on('uncaughtException', uncaught);
  const baseline = { sockets: tcpHandles('TCPSocketWrap'), listeners: tcpHandles('TCPServerWrap') };
  const master = new SeededRandom(opts.seed);
  const digest = createHash('sha256');
  const extensions = opts.extensions ?? [];
  const memory = await startTarget(`${opts.seed}:memory`, false, extensions);
  let tcp: Target | null = null;
  let floodReported = false;
  // The memory baseline is taken once the process has warmed up (JIT, pools, first GCs): 5% into the run.
  const warmUp = Math.min(100, Math.max(5, Math.floor((opts.streams / concurrency) * 0.05)));
  let memoryRecheckAfter = Math.max(FIRST_MEMORY_CHECK, warmUp + 2 * WINDOW);
  try {
    while (stats.streams < opts.streams && stats.violations.length < maxViolations) {
      const overTcp = tcpShare > 0 && master.int(0, 999) < tcpShare * 1000;
      if (overTcp && !tcp) tcp = await startTarget(`${opts.seed}:tcp`, true, extensions);
      const target = overTcp ? tcp! : memory;
      const n = Math.min(concurrency, opts.streams - stats.streams);
      const serverSockets: MemorySocket[] = [];
      const rngs = Array.from({ length: n }, () => new SeededRandom(master.int(0, 2 ** 31 - 1)));
      await Promise.all(rngs.map((rng) => runStream(target, rng, classes, stats, serverSockets)));
      await target.cluster.idle();
      stats.streams += n;
      if (overTcp) stats.tcpStreams += n;
      stats.batches++;

      // ---- invariants after the batch ----
      const where = `batch ${stats.batches} (${overTcp ? 'tcp' : 'memory'}, streams ${stats.streams})`;
      const fail = (what: string) => stats.violations.push(`${where}: ${what}`);
      const server = target.cluster.server;
      if (server.backends().length > 0) fail(`${server.backends().length} backends still alive`);
      if (server.procCount() > 0) fail(`${server.procCount()} PGPROC slots held`);
      if (target.clock.pending() > 0) fail(`${target.clock.pending()} timers pending on the server's clock`);
      await turns(5);
      const openMemory = serverSockets.filter((s) => !s.destroyed).length;
      if (openMemory > 0) fail(`${openMemory} server-side sockets still open`);
      if (overTcp) {
        const stillOpen = () => [...target.accepted].filter((s) => !s.destroyed).length;
        if (!(await eventually(() => stillOpen() === 0, 2000))) fail(`${stillOpen()} accepted TCP sockets still open`);
        target.accepted.clear();
        if (!(await eventually(() => tcpHandles('TCPSocketWrap') <= baseline.sockets, 2000))) {
          fail(`${tcpHandles('TCPSocketWrap') - baseline.sockets} TCP socket handles left`);
        }
      }
      if (stats.maxFloodBuffered > maxFlood && !floodReported) {
        floodReported = true;
        fail(`a flooded backend held ${stats.maxFloodBuffered} bytes of input (limit ${maxFlood})`);
      }
      const bad = await goodClientServed(() => openClient(target, []), master);
      if (bad) fail(bad);
      else stats.goodLogins += 2;
      await target.cluster.idle();
      tally(target.cluster.trace.events, stats, overTcp ? null : digest);
      // The trace of a million streams is not the point, and would be a leak of the harness's own.
      target.cluster.trace.clear();

      const m = process.memoryUsage();
      stats.samples.push({ streams: stats.streams, seconds: (performance.now() - t0) / 1000, rssMb: m.rss / 2 ** 20, heapMb: m.heapUsed / 2 ** 20 });
      if (stats.batches >= memoryRecheckAfter) {
        const xs = stats.samples;
        const grown = (key: 'rssMb' | 'heapMb') => floor(xs, key, xs.length - WINDOW, xs.length) - floor(xs, key, warmUp, warmUp + WINDOW);
        const limits = { heapMb: opts.maxHeapGrowthMb ?? 64, rssMb: opts.maxRssGrowthMb ?? 256 };
        if (grown('heapMb') > limits.heapMb || grown('rssMb') > limits.rssMb) {
          // Garbage or growth? After a full collection, the floor of the last window is re-measured.
          collectGarbage();
          const after = process.memoryUsage();
          xs[xs.length - 1] = { ...xs[xs.length - 1]!, rssMb: after.rss / 2 ** 20, heapMb: after.heapUsed / 2 ** 20 };
          const heap = grown('heapMb');
          const rss = grown('rssMb');
          if (heap > limits.heapMb || rss > limits.rssMb) {
            fail(`memory grew: heap floor +${heap.toFixed(1)} MB (limit ${limits.heapMb}), RSS floor +${rss.toFixed(1)} MB (limit ${limits.rssMb}) since batches ${warmUp}-${warmUp + WINDOW}`);
            memoryRecheckAfter = Infinity;
          } else {
            memoryRecheckAfter = stats.batches + WINDOW;
          }
        }
      }
      opts.onBatch?.(stats);
    }
  } finally {
    await memory.cluster.close();
    if (tcp) await tcp.cluster.close();
    await turns(20);
    // Nothing of the servers' may outlive them: accepted sockets, listeners, socket handles.
    if (tcp) {
      const left = [...tcp.accepted].filter((s) => !s.destroyed).length;
      if (left > 0) stats.violations.push(`${left} accepted TCP sockets left open after the run`);
    }
    if (!(await eventually(() => tcpHandles('TCPServerWrap') <= baseline.listeners && tcpHandles('TCPSocketWrap') <= baseline.sockets, 2000))) {
      stats.violations.push(`after the run: ${tcpHandles('TCPServerWrap') - baseline.listeners} TCP listeners and ${tcpHandles('TCPSocketWrap') - baseline.sockets} TCP sockets left`);
    }
    process.off('unhandledRejection', unhandled);
    process.off('uncaughtException', uncaught);
    stats.digest = digest.digest('hex');
    stats.rssMb = range(stats.samples.map((x) => x.rssMb));
    stats.heapMb = range(stats.samples.map((x) => x.heapMb));
    stats.wallMs = performance.now() - t0;
  }
  return stats;
}
