/**
 * Bad input never takes the server down. Every attack runs over real TCP
 * against a fresh server; afterwards a good client must still log in (trust
 * and SCRAM, then SELECT 1), and once the server is closed no backend and no
 * socket, listener or timer created by the test may remain.
 *
 * The expected log lines are PostgreSQL 15's (reference/pg-server.md
 * §2, §3.1, §6.2, §9); the TLS reasons were checked against a live 15.20
 * with the same bytes on the wire.
 */
import { expect } from 'chai';
import * as net from 'node:net';
import * as tls from 'node:tls';
import { makeServer, devTls } from '../support/fixtures.js';
import { WireClient, type Received } from '../support/wire-client.js';
import { encodeFrontend } from '../../src/wire/codec.js';
import { ScramClient } from '../../src/auth/scram-client.js';
import { SeededRandom } from '../../src/random.js';
import { RealClock, type Clock, type TimerHandle } from '../../src/clock.js';
import { PgError } from '../../src/errors.js';
import { duplexPair } from '../../src/server/memory-transport.js';
import { renderServerLog } from '../../src/views/server-log.js';
import type { PgServer } from '../../src/server/server.js';
import type { ServerEvent } from '../../src/events.js';
import type { ServerSettings } from '../../src/server/settings.js';
import type { ClientAuthenticationHook } from '../../src/hooks/hook.js';

// ---- bytes ------------------------------------------------------------------

const SSL_REQUEST = encodeFrontend({ type: 'SSLRequest' });
const TERMINATE = encodeFrontend({ type: 'Terminate' });
const query = (sql: string) => encodeFrontend({ type: 'Query', sql });
const startup = (user: string, database = 'postgres') =>
  encodeFrontend({ type: 'StartupMessage', protocolVersion: { major: 3, minor: 0 }, params: [['user', user], ['database', database]] });

function int32(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n >>> 0);
  return b;
}

/** A frontend message with an arbitrary type byte, body and (optionally lying) length word. */
function message(type: string, body: Buffer, length = body.length + 4): Buffer {
  return Buffer.concat([Buffer.from(type, 'latin1'), int32(length), body]);
}

/** The first flight of a real TLS client, captured off an in-memory pipe. */
async function clientHello(): Promise<Buffer> {
  const [near, far] = duplexPair();
  const t = tls.connect({ socket: near as unknown as net.Socket, rejectUnauthorized: false });
  t.on('error', () => {});
  const hello = await new Promise<Buffer>((resolve) => far.once('data', resolve));
  t.destroy(); near.destroy(); far.destroy();
  return hello;
}

// ---- a raw TCP peer ---------------------------------------------------------

class RawPeer {
  private chunks: Buffer[] = [];
  isClosed = false;
  readonly closed: Promise<void>;
  /** Kept from connect time: a closed socket forgets its address. */
  readonly localPort: number;
  private constructor(readonly socket: net.Socket) {
    this.localPort = socket.localPort!;
    socket.on('data', (d: Buffer) => this.chunks.push(d));
    socket.on('error', () => {});
    this.closed = new Promise((resolve) => socket.on('close', () => { this.isClosed = true; resolve(); }));
  }

  static async connect(port: number): Promise<RawPeer> {
    const s = net.connect({ port, host: '127.0.0.1' });
    await new Promise<void>((resolve, reject) => { s.once('connect', resolve); s.once('error', reject); });
    return new RawPeer(s);
  }

  get received(): Buffer { return Buffer.concat(this.chunks); }

  send(b: Buffer): void { this.socket.write(b); }

  async readBytes(n: number, withinMs = 2000): Promise<Buffer> {
    const deadline = Date.now() + withinMs;
    while (this.received.length < n && !this.isClosed && Date.now() < deadline) await sleep(5);
    return this.received.subarray(0, n);
  }

  /** True if the server closed the connection within the time limit. */
  async closedWithin(ms: number): Promise<boolean> {
    let timer: NodeJS.Timeout | undefined;
    const expired = new Promise<false>((resolve) => { timer = setTimeout(() => resolve(false), ms); });
    try {
      return await Promise.race([this.closed.then(() => true as const), expired]);
    } finally {
      clearTimeout(timer);
    }
  }
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

async function waitFor(cond: () => boolean, withinMs = 2000): Promise<void> {
  const deadline = Date.now() + withinMs;
  while (!cond() && Date.now() < deadline) await sleep(5);
  expect(cond(), 'condition reached in time').to.equal(true);
}

// ---- timers -----------------------------------------------------------------

/** A real clock that remembers what became of every timer it handed out. */
class RecordingClock implements Clock {
  private real = new RealClock();
  timers: Array<{ state: 'pending' | 'fired' | 'cancelled' }> = [];
  now(): number { return this.real.now(); }
  sleep(ms: number, signal?: AbortSignal): Promise<void> { return this.real.sleep(ms, signal); }
  setTimer(ms: number, fn: () => void): TimerHandle {
    const t = { state: 'pending' as 'pending' | 'fired' | 'cancelled' };
    this.timers.push(t);
    const h = this.real.setTimer(ms, () => { t.state = 'fired'; fn(); });
    return { cancel: () => { if (t.state === 'pending') t.state = 'cancelled'; h.cancel(); } };
  }
}

// ---- the server under attack ------------------------------------------------

// test (and the roles the hook cases use) log in by trust; everyone else by SCRAM.
const HBA = `
host all test,nopw,md5user,postgres 127.0.0.1/32 trust
host all all                        127.0.0.1/32 scram-sha-256
`;

interface HookCall { user: string; status: number }

interface Harness {
  server: PgServer;
  events: ServerEvent[];
  port: number;
  hookCalls: HookCall[];
  /** The log PostgreSQL would write for the connection that came from `localPort` (log_connections off, empty prefix). */
  logOf(localPort: number): string[];
  /** The lifecycle end of that connection. */
  closeReasonOf(localPort: number): string | undefined;
}

function connectionId(events: ServerEvent[], localPort: number): number {
  const e = events.find((ev) => ev.type === 'connection-received' && ev.remotePort === localPort);
  if (!e) throw new Error(`no connection from port ${localPort}`);
  return e.connection;
}

const WATCHED = ['TCPSocketWrap', 'TCPServerWrap', 'Timeout'] as const;
type Counts = Record<(typeof WATCHED)[number], number>;

function handleCounts(): Counts {
  const info = process.getActiveResourcesInfo();
  return Object.fromEntries(WATCHED.map((k) => [k, info.filter((r) => r === k).length])) as Counts;
}

/** Wait (bounded) for handles to go, then demand none beyond what was there before the test. */
async function expectNoLeakedHandles(before: Counts): Promise<void> {
  const deadline = Date.now() + 1500;
  let now = handleCounts();
  while (WATCHED.some((k) => now[k] > before[k]) && Date.now() < deadline) {
    await sleep(10);
    // Count from a fresh turn of the loop, where the sleep's own Timeout is gone.
    await new Promise<void>((r) => setImmediate(r));
    now = handleCounts();
  }
  for (const k of WATCHED) expect(now[k], `${k} handles left behind`).to.be.at.most(before[k]);
}

/** A trust login and a SCRAM login, each followed by SELECT 1: the server is still serving. */
async function expectServesGoodClients(port: number): Promise<void> {
  const trust = await WireClient.tcp(port);
  trust.send(startup('test'));
  const hello = await trust.until('readyForQuery');
  expect(hello[0]?.name).to.equal('authenticationOk');
  expect(await selectOne(trust)).to.deep.equal(['1']);
  trust.send(TERMINATE);
  await trust.closedPromise;

  const scram = await WireClient.tcp(port);
  const msgs = await scramLogin(scram, 'other', 'secret');
  expect(msgs.map((m) => m.name)).to.include.members(['authenticationSASLFinal', 'authenticationOk', 'readyForQuery']);
  expect(await selectOne(scram)).to.deep.equal(['1']);
  scram.send(TERMINATE);
  await scram.closedPromise;
}

async function selectOne(c: WireClient): Promise<unknown> {
  c.send(query('SELECT 1'));
  const rows = await c.until('readyForQuery');
  return rows.find((m) => m.name === 'dataRow')?.fields;
}

async function scramLogin(c: WireClient, user: string, password: string): Promise<Received[]> {
  c.send(startup(user));
  const sasl = await c.next();
  expect(sasl?.name).to.equal('authenticationSASL');
  const client = new ScramClient({ password, mechanism: 'SCRAM-SHA-256', sslInUse: false, random: new SeededRandom(5) });
  c.send(encodeFrontend({ type: 'SASLInitialResponse', mechanism: 'SCRAM-SHA-256', data: client.clientFirst() }));
  const cont = await c.next();
  expect(cont?.name).to.equal('authenticationSASLContinue');
  c.send(encodeFrontend({ type: 'SASLResponse', data: client.serverFirst(Buffer.from(cont!.data as string)) }));
  return c.until('readyForQuery');
}

/**
 * Run `attack` against a fresh TCP server, then check that it still serves,
 * close it, and check that nothing was left behind.
 */
async function underAttack(
  attack: (h: Harness) => Promise<void>,
  opts: { settings?: Partial<ServerSettings>; hook?: ClientAuthenticationHook; clock?: Clock } = {},
): Promise<void> {
  // mocha arms its own test timer just after the test function returns its promise; count after that.
  await new Promise<void>((r) => setImmediate(r));
  const before = handleCounts();
  const hookCalls: HookCall[] = [];
  const { server, events } = makeServer({
    hba: HBA,
    settings: { ssl: true, tls: devTls(true), ...opts.settings },
    ...(opts.clock ? { clock: opts.clock } : {}),
    hook: async (port, status) => {
      hookCalls.push({ user: port.user_name, status });
      await opts.hook?.(port, status);
    },
  });
  const port = (await server.listen(0, ['127.0.0.1']))[0]!.port;
  const logSettings = { logConnections: false, logDisconnections: false, logLinePrefix: '', hbaPath: server.settings.hbaPath, serverVersion: '15' };
  const h: Harness = {
    server, events, port, hookCalls,
    logOf: (localPort) => {
      const id = connectionId(events, localPort);
      return renderServerLog(events.filter((e) => e.connection === id), logSettings).split('\n').filter((l) => l !== '');
    },
    closeReasonOf: (localPort) => {
      const id = connectionId(events, localPort);
      const e = events.find((ev) => ev.connection === id && ev.type === 'connection-closed');
      return e && e.type === 'connection-closed' ? e.reason : undefined;
    },
  };
  try {
    await attack(h);
    await expectServesGoodClients(port);
  } catch (err) {
    // Sessions a failed attack left open would keep close() waiting; end them so the real error shows.
    for (const b of server.backends()) b.terminate();
    await server.close();
    throw err;
  }
  await server.close();
  expect(server.backends()).to.have.length(0);
  await expectNoLeakedHandles(before);
}

/** Send `bytes` on a fresh connection, optionally hang up, and wait for the server to close it. */
async function hitAndWait(h: Harness, bytes: Buffer, opts: { hangUp?: boolean } = {}): Promise<RawPeer> {
  const peer = await RawPeer.connect(h.port);
  if (bytes.length) peer.send(bytes);
  if (opts.hangUp) peer.socket.end();
  expect(await peer.closedWithin(2000), 'server closed the connection').to.equal(true);
  await h.server.idle();
  return peer;
}

/** The SQLSTATE of an ErrorResponse at the start of `b`, or null. */
function errorCode(b: Buffer): string | null {
  if (b[0] !== 0x45 /* E */ || b.length < 5) return null;
  const body = b.subarray(5, 1 + b.readUInt32BE(1));
  for (let i = 0; i < body.length && body[i] !== 0;) {
    const end = body.indexOf(0, i + 1);
    if (String.fromCharCode(body[i]!) === 'C') return body.subarray(i + 1, end).toString();
    i = end + 1;
  }
  return null;
}

const HINT_TLS = 'HINT:  This may indicate that the client does not support any SSL protocol version between TLSv1.2 and TLSv1.3.';

describe('Bad input never takes the server down', function () {
  this.timeout(15000);

  describe('malformed startup packets (LOG only, nothing sent)', () => {
    const cases: Array<{ name: string; bytes: Buffer; hangUp?: boolean; log: string[]; sent: string | null }> = [
      { name: 'length word 0x7fffffff', bytes: Buffer.concat([int32(0x7fffffff), int32(196608)]), log: ['LOG:  invalid length of startup packet'], sent: null },
      { name: 'length word 10005 (one past the limit)', bytes: int32(10005), log: ['LOG:  invalid length of startup packet'], sent: null },
      { name: 'length word 7 (body shorter than a version)', bytes: int32(7), log: ['LOG:  invalid length of startup packet'], sent: null },
      { name: 'length word 0xffffffff (negative)', bytes: int32(0xffffffff), log: ['LOG:  invalid length of startup packet'], sent: null },
      { name: 'two bytes of a length word, then EOF', bytes: Buffer.from([0, 0]), hangUp: true, log: ['LOG:  incomplete startup packet'], sent: null },
      { name: 'length 100 with 10 bytes of body, then EOF', bytes: Buffer.concat([int32(100), Buffer.alloc(10, 0x41)]), hangUp: true, log: ['LOG:  incomplete startup packet'], sent: null },
      { name: 'nothing at all, then EOF (a port probe)', bytes: Buffer.alloc(0), hangUp: true, log: [], sent: null },
      { name: 'protocol 3.0 without the terminator', bytes: Buffer.concat([int32(8), int32(196608)]), log: ['FATAL:  invalid startup packet layout: expected terminator as last byte'], sent: '08P01' },
      { name: 'protocol 4.0', bytes: Buffer.concat([int32(9), int32(4 << 16), Buffer.from([0])]), log: ['FATAL:  unsupported frontend protocol 4.0: server supports 3.0 to 3.0'], sent: '0A000' },
      { name: 'no user name', bytes: Buffer.concat([int32(9), int32(196608), Buffer.from([0])]), log: ['FATAL:  no PostgreSQL user name specified in startup packet'], sent: '28000' },
    ];
    for (const c of cases) {
      it(c.name, () => underAttack(async (h) => {
        const peer = await hitAndWait(h, c.bytes, c.hangUp ? { hangUp: true } : {});
        expect(h.logOf(peer.localPort)).to.deep.equal(c.log);
        if (c.sent === null) expect(peer.received.length).to.equal(0);
        else expect(errorCode(peer.received)).to.equal(c.sent);
        expect(h.hookCalls).to.deep.equal([]);
      }));
    }

    it('a pre-3.0 startup packet gets the old unframed error text', () => underAttack(async (h) => {
      const peer = await hitAndWait(h, Buffer.concat([int32(9), int32(2 << 16), Buffer.from([0])]));
      expect(peer.received.toString('latin1')).to.equal('EFATAL:  unsupported frontend protocol 2.0: server supports 3.0 to 3.0\n\0');
    }));
  });

  describe('random garbage', () => {
    it('60 connections of seeded random bytes each end with the connection closed and a known complaint', () => underAttack(async (h) => {
      const rnd = new SeededRandom('garbage');
      const known = /^(LOG: {2}invalid length of startup packet|LOG: {2}incomplete startup packet|FATAL: {2}unsupported frontend protocol \d+\.\d+: server supports 3\.0 to 3\.0)$/;
      const peers: RawPeer[] = [];
      for (let i = 0; i < 60; i++) {
        // Pure noise; noise behind a plausible length word (so the body gets parsed); and a length that promises more than comes.
        const body = rnd.bytes(rnd.int(1, 64));
        const bytes = i % 3 === 0 ? body
          : i % 3 === 1 ? Buffer.concat([int32(body.length + 4), body])
            : Buffer.concat([int32(body.length + 5), body]);
        const peer = await RawPeer.connect(h.port);
        peer.send(bytes);
        peer.socket.end();
        peers.push(peer);
      }
      for (const p of peers) expect(await p.closedWithin(2000)).to.equal(true);
      await h.server.idle();
      const seen = new Set<string>();
      for (const p of peers) {
        expect(h.closeReasonOf(p.localPort)).to.be.oneOf(['socket-error', 'fatal']);
        const log = h.logOf(p.localPort);
        expect(log).to.have.length(1);
        expect(log[0]).to.match(known);
        seen.add(log[0]!.replace(/\d+\.\d+/, 'X.Y'));
      }
      // The seeds reach every branch, not just the first.
      expect(seen.size).to.equal(3);
      expect(h.server.backends()).to.have.length(0);
    }));

    it('garbage inside a session: an unknown message type is FATAL 08P01; an absurd length is a LOG and a hang-up', () => underAttack(async (h) => {
      for (const [bytes, log] of [
        [message('?', Buffer.from('junk')), ['FATAL:  invalid frontend message type 63']],
        [Buffer.concat([Buffer.from('Q'), int32(0x7fffffff)]), ['LOG:  invalid message length']],
        [Buffer.concat([Buffer.from('Q'), int32(2)]), ['LOG:  invalid message length']],
      ] as const) {
        const peer = await RawPeer.connect(h.port);
        peer.send(startup('test'));
        // AuthenticationOk .. ReadyForQuery ends with Z 0 0 0 5 I.
        const deadline = Date.now() + 2000;
        while (!peer.received.includes(Buffer.from('Z\0\0\0\x05I')) && Date.now() < deadline) await sleep(5);
        peer.send(bytes);
        expect(await peer.closedWithin(2000)).to.equal(true);
        await h.server.idle();
        expect(h.logOf(peer.localPort)).to.deep.equal(log);
      }
    }));
  });

  describe('SSLRequest followed by something that is not a TLS handshake (LOG only)', () => {
    const startupBytes = startup('test');
    // Each reason is what PostgreSQL 15.20 logged for the same bytes.
    const cases: Array<{ name: string; after: Buffer | 'hang-up' | 'reset'; log: string[] }> = [
      { name: 'a plaintext StartupMessage instead of a ClientHello', after: startupBytes, log: ['LOG:  could not accept SSL connection: wrong version number', HINT_TLS] },
      { name: 'eight zero bytes', after: Buffer.alloc(8), log: ['LOG:  could not accept SSL connection: wrong version number', HINT_TLS] },
      { name: 'an HTTP request', after: Buffer.from('GET / HTTP/1.1\r\nHost: x\r\n\r\n'), log: ['LOG:  could not accept SSL connection: http request'] },
      { name: 'a TLS record header with a length too long', after: Buffer.from('170303ffff00', 'hex'), log: ['LOG:  could not accept SSL connection: packet length too long'] },
      { name: 'a hang-up', after: 'hang-up', log: ['LOG:  could not accept SSL connection: EOF detected'] },
      { name: 'a connection reset', after: 'reset', log: ['LOG:  could not accept SSL connection: Connection reset by peer'] },
    ];
    for (const c of cases) {
      it(c.name, () => underAttack(async (h) => {
        const peer = await RawPeer.connect(h.port);
        peer.send(SSL_REQUEST);
        expect((await peer.readBytes(1)).toString()).to.equal('S');
        if (c.after === 'hang-up') peer.socket.end();
        else if (c.after === 'reset') peer.socket.resetAndDestroy();
        else peer.send(c.after);
        expect(await peer.closedWithin(2000)).to.equal(true);
        await h.server.idle();
        expect(h.logOf(peer.localPort)).to.deep.equal(c.log);
        if (c.after !== 'reset') expect(peer.received.subarray(0, 1).toString()).to.equal('S');
        expect(h.closeReasonOf(peer.localPort)).to.equal('socket-error');
        expect(h.hookCalls).to.deep.equal([]);
      }));
    }

    it('a ClientHello, then a hang-up before the handshake finishes', () => underAttack(async (h) => {
      const hello = await clientHello();
      expect(hello[0]).to.equal(0x16); // a TLS handshake record
      const peer = await RawPeer.connect(h.port);
      peer.send(SSL_REQUEST);
      expect((await peer.readBytes(1)).toString()).to.equal('S');
      peer.send(hello);
      peer.socket.end();
      expect(await peer.closedWithin(2000)).to.equal(true);
      await h.server.idle();
      expect(h.logOf(peer.localPort)).to.deep.equal(['LOG:  could not accept SSL connection: EOF detected']);
      // The server did answer the hello (ServerHello is a handshake record too).
      expect(peer.received[1]).to.equal(0x16);
    }));

    it('plaintext pipelined behind the SSLRequest is refused over the new TLS session (CVE-2021-23214)', () => underAttack(async (h) => {
      const c = await WireClient.tcp(h.port);
      c.send(Buffer.concat([SSL_REQUEST, startup('test')]));
      expect(await c.readByte()).to.equal('S');
      await c.startTls();
      const msgs = await c.drain();
      expect(msgs).to.have.length(1);
      expect(msgs[0]).to.include({ name: 'error', severity: 'FATAL', code: '08P01', message: 'received unencrypted data after SSL request' });
      expect(h.hookCalls).to.deep.equal([]);
    }));
  });

  describe('half-finished SCRAM exchanges', () => {
    async function sasl(h: Harness): Promise<WireClient> {
      const c = await WireClient.tcp(h.port);
      c.send(startup('other'));
      expect((await c.next())?.name).to.equal('authenticationSASL');
      return c;
    }

    it('hang-up when asked for SASL: hook sees EOF, nothing logged, nothing sent', () => underAttack(async (h) => {
      const c = await sasl(h);
      const port = (c.stream as net.Socket).localPort!;
      c.end();
      expect(await c.drain()).to.deep.equal([]);
      await h.server.idle();
      expect(h.hookCalls).to.deep.equal([{ user: 'other', status: -2 }]);
      expect(h.logOf(port)).to.deep.equal([]);
    }));

    it('hang-up after server-first: hook sees EOF, nothing logged', () => underAttack(async (h) => {
      const c = await sasl(h);
      const port = (c.stream as net.Socket).localPort!;
      const client = new ScramClient({ password: 'secret', mechanism: 'SCRAM-SHA-256', sslInUse: false, random: new SeededRandom(9) });
      c.send(encodeFrontend({ type: 'SASLInitialResponse', mechanism: 'SCRAM-SHA-256', data: client.clientFirst() }));
      expect((await c.next())?.name).to.equal('authenticationSASLContinue');
      c.end();
      expect(await c.drain()).to.deep.equal([]);
      await h.server.idle();
      expect(h.hookCalls).to.deep.equal([{ user: 'other', status: -2 }]);
      expect(h.logOf(port)).to.deep.equal([]);
    }));

    const broken: Array<{ name: string; bytes: Buffer; code: string; message: string; hook: number[] }> = [
      {
        name: 'SASLInitialResponse whose data length overruns the message',
        bytes: message('p', Buffer.concat([Buffer.from('SCRAM-SHA-256\0'), int32(100), Buffer.from('n,,')])),
        code: '08P01', message: 'insufficient data left in message', hook: [],
      },
      {
        name: 'an unknown mechanism',
        bytes: encodeFrontend({ type: 'SASLInitialResponse', mechanism: 'SCRAM-SHA-1', data: Buffer.from('n,,n=,r=abc') }),
        code: '08P01', message: 'client selected an invalid SASL authentication mechanism', hook: [],
      },
      {
        name: 'a client-first message of noise',
        bytes: encodeFrontend({ type: 'SASLInitialResponse', mechanism: 'SCRAM-SHA-256', data: Buffer.from('xyzzy') }),
        code: '08P01', message: 'malformed SCRAM message', hook: [],
      },
      {
        name: 'a query instead of a SASL response',
        bytes: query('SELECT 1'),
        code: '08P01', message: 'expected SASL response, got message type 81', hook: [],
      },
      {
        // PostgreSQL's surprise: a too-long SASL message is STATUS_ERROR, so the hook runs and the password FATAL follows.
        name: 'a SASL message over 1024 bytes',
        bytes: encodeFrontend({ type: 'SASLInitialResponse', mechanism: 'SCRAM-SHA-256', data: Buffer.alloc(2000, 0x61) }),
        code: '28P01', message: 'password authentication failed for user "other"', hook: [-1],
      },
    ];
    for (const b of broken) {
      it(`${b.name}: FATAL ${b.code}`, () => underAttack(async (h) => {
        const c = await sasl(h);
        c.send(b.bytes);
        const rest = await c.drain();
        expect(rest).to.have.length(1);
        expect(rest[0]).to.include({ name: 'error', severity: 'FATAL', code: b.code, message: b.message });
        await h.server.idle();
        expect(h.hookCalls.map((x) => x.status)).to.deep.equal(b.hook);
      }));
    }
  });

  describe('a client that stalls (authentication_timeout = 200 ms, real clock)', () => {
    const settings = { authenticationTimeoutMs: 200 };

    const phase1: Array<{ name: string; bytes: Buffer; ssl?: boolean }> = [
      { name: 'sends nothing', bytes: Buffer.alloc(0) },
      { name: 'stops inside the startup packet', bytes: startup('test').subarray(0, 12) },
      { name: 'stops after the SSLRequest was answered', bytes: Buffer.alloc(0), ssl: true },
    ];
    for (const c of phase1) {
      it(`phase 1, ${c.name}: closed, nothing logged, nothing sent`, () => underAttack(async (h) => {
        const peer = await RawPeer.connect(h.port);
        if (c.ssl) {
          peer.send(SSL_REQUEST);
          expect((await peer.readBytes(1)).toString()).to.equal('S');
        }
        if (c.bytes.length) peer.send(c.bytes);
        expect(await peer.closedWithin(3000)).to.equal(true);
        await h.server.idle();
        expect(h.logOf(peer.localPort)).to.deep.equal([]);
        expect(peer.received.toString()).to.equal(c.ssl ? 'S' : '');
        expect(h.closeReasonOf(peer.localPort)).to.equal('timeout');
      }, { settings }));
    }

    it('phase 2, silent after AuthenticationSASL: FATAL 57014 logged but not sent, hook not called', () => {
      const clock = new RecordingClock();
      return underAttack(async (h) => {
        const c = await WireClient.tcp(h.port);
        const port = (c.stream as net.Socket).localPort!;
        c.send(startup('other'));
        expect((await c.next())?.name).to.equal('authenticationSASL');
        const started = Date.now();
        expect(await c.drain()).to.deep.equal([]);
        expect(Date.now() - started).to.be.below(3000);
        await h.server.idle();
        expect(h.logOf(port)).to.deep.equal(['FATAL:  canceling authentication due to timeout']);
        const err = h.events.find((e) => e.type === 'error' && e.error.sqlstate === '57014');
        expect(err && err.type === 'error' && err.toClient).to.equal(false);
        expect(h.hookCalls).to.deep.equal([]);
        // The startup window was disarmed when the packet arrived; the authentication window fired.
        expect(clock.timers.map((t) => t.state)).to.deep.equal(['cancelled', 'fired']);
      }, { settings, clock });
    });
  });

  describe('timers', () => {
    it('every authentication_timeout timer is cancelled when a backend exits early (60 s timeout, none may linger)', async () => {
      const clock = new RecordingClock();
      await underAttack(async (h) => {
        // Early exits in each phase: probe, bad length, TLS failure, EOF and FATAL during SCRAM.
        await hitAndWait(h, Buffer.alloc(0), { hangUp: true });
        await hitAndWait(h, int32(10005));
        await hitAndWait(h, SSL_REQUEST, { hangUp: true });
        const tlsPeer = await RawPeer.connect(h.port);
        tlsPeer.send(SSL_REQUEST);
        await tlsPeer.readBytes(1);
        tlsPeer.send(Buffer.alloc(8));
        expect(await tlsPeer.closedWithin(2000)).to.equal(true);
        const eof = await WireClient.tcp(h.port);
        eof.send(startup('other'));
        await eof.next();
        eof.end();
        await eof.drain();
        const wrong = await WireClient.tcp(h.port);
        await scramLogin(wrong, 'other', 'wrong');
        await h.server.idle();
      }, { clock });
      // Two windows per connection that got past the startup packet, one otherwise; none may be left pending.
      expect(clock.timers.length).to.be.at.least(8);
      expect(clock.timers.filter((t) => t.state === 'pending')).to.have.length(0);
      expect(clock.timers.filter((t) => t.state === 'fired')).to.have.length(0);
    });
  });

  describe('many connections at once', () => {
    it('200 concurrent sessions all log in, run SELECT 1 and are all live together', () => underAttack(async (h) => {
      const clients = await Promise.all(Array.from({ length: 200 }, () => WireClient.tcp(h.port)));
      const results = await Promise.all(clients.map(async (c) => {
        c.send(startup('test'));
        const msgs = await c.until('readyForQuery');
        return { ok: msgs[0]?.name === 'authenticationOk', row: await selectOne(c) };
      }));
      expect(results.filter((r) => r.ok)).to.have.length(200);
      expect(results.every((r) => JSON.stringify(r.row) === '["1"]')).to.equal(true);
      expect(h.server.backends()).to.have.length(200);
      for (const c of clients) c.send(TERMINATE);
      await Promise.all(clients.map((c) => c.closedPromise));
      await h.server.idle();
      expect(h.server.backends()).to.have.length(0);
    }, { settings: { maxConnections: 250 } }));

    it('200 concurrent garbage connections and a full house of max_connections: the next one is "sorry, too many clients already"', () => underAttack(async (h) => {
      const rnd = new SeededRandom('burst');
      const garbage = await Promise.all(Array.from({ length: 200 }, () => RawPeer.connect(h.port)));
      for (const g of garbage) { g.send(rnd.bytes(16)); g.socket.end(); }
      const held = await Promise.all(Array.from({ length: 5 }, () => WireClient.tcp(h.port)));
      for (const c of held) {
        c.send(startup('test'));
        expect((await c.until('readyForQuery')).at(-1)?.name).to.equal('readyForQuery');
      }
      const sixth = await WireClient.tcp(h.port);
      sixth.send(startup('test'));
      const refused = await sixth.drain();
      expect(refused).to.have.length(1);
      expect(refused[0]).to.include({ name: 'error', code: '53300', message: 'sorry, too many clients already' });
      for (const g of garbage) expect(await g.closedWithin(2000)).to.equal(true);
      for (const c of held) c.send(TERMINATE);
      await Promise.all(held.map((c) => c.closedPromise));
      await h.server.idle();
    }, { settings: { maxConnections: 5, superuserReservedConnections: 0 } }));
  });

  describe('server.close()', () => {
    it('ends sessions that are still open (plain and TLS), then no backend, socket, listener or timer is left', async () => {
      await new Promise<void>((r) => setImmediate(r));
      const before = handleCounts();
      const { server } = makeServer({ hba: HBA, settings: { ssl: true, tls: devTls(true) } });
      const port = (await server.listen(0, ['127.0.0.1']))[0]!.port;
      const clients = await Promise.all([0, 1].map(() => WireClient.tcp(port)));
      for (const c of clients) {
        c.send(startup('test'));
        await c.until('readyForQuery');
      }
      const tlsClient = await WireClient.tcp(port);
      tlsClient.send(SSL_REQUEST);
      expect(await tlsClient.readByte()).to.equal('S');
      await tlsClient.startTls();
      tlsClient.send(startup('test'));
      await tlsClient.until('readyForQuery');
      // A backend still waiting for its startup packet, too.
      const silent = await RawPeer.connect(port);
      await waitFor(() => server.backends().length === 4);

      let timer: NodeJS.Timeout | undefined;
      const finished = await Promise.race([
        server.close().then(() => true),
        new Promise<false>((r) => { timer = setTimeout(() => r(false), 3000); }),
      ]);
      clearTimeout(timer);
      if (!finished) {
        for (const b of server.backends()) b.terminate();
        await server.close();
      }
      expect(finished, 'close() finished while sessions were open').to.equal(true);
      expect(server.backends()).to.have.length(0);
      await Promise.all([...clients, tlsClient].map((c) => c.closedPromise));
      expect(await silent.closedWithin(1000)).to.equal(true);
      await expectNoLeakedHandles(before);
    });
  });

  describe('a ClientAuthentication hook that throws ends only that connection', () => {
    const hook: ClientAuthenticationHook = async (port) => {
      if (port.user_name === 'nopw') throw new Error('hook exploded');
      if (port.user_name === 'md5user') {
        throw new PgError({ severity: 'FATAL', sqlstate: '28000', message: 'account locked by hook', detail: 'Too many attempts.', hint: 'Wait a minute.', routine: 'my_hook' });
      }
      if (port.user_name === 'postgres') {
        throw new PgError({ severity: 'ERROR', sqlstate: '42501', message: 'superuser logins are disabled' });
      }
    };

    const cases: Array<{ user: string; fields: Record<string, unknown>; log: string[] }> = [
      { user: 'nopw', fields: { severity: 'FATAL', code: 'XX000', message: 'hook exploded' }, log: ['FATAL:  hook exploded'] },
      {
        user: 'md5user',
        fields: { severity: 'FATAL', code: '28000', message: 'account locked by hook', detail: 'Too many attempts.', hint: 'Wait a minute.', routine: 'my_hook' },
        log: ['FATAL:  account locked by hook', 'DETAIL:  Too many attempts.', 'HINT:  Wait a minute.'],
      },
      // ereport(ERROR) during authentication is promoted to FATAL (pg-server.md §6.2).
      { user: 'postgres', fields: { severity: 'FATAL', code: '42501', message: 'superuser logins are disabled' }, log: ['FATAL:  superuser logins are disabled'] },
    ];
    for (const c of cases) {
      it(`${c.user}: ${c.fields.code}`, () => underAttack(async (h) => {
        // A session that is already up must not notice.
        const bystander = await WireClient.tcp(h.port);
        bystander.send(startup('test'));
        await bystander.until('readyForQuery');

        const victim = await WireClient.tcp(h.port);
        const port = (victim.stream as net.Socket).localPort!;
        victim.send(startup(c.user));
        const msgs = await victim.drain();
        expect(msgs).to.have.length(1);
        expect(msgs[0]).to.include({ name: 'error', ...c.fields });
        await waitFor(() => h.closeReasonOf(port) !== undefined);
        expect(h.logOf(port)).to.deep.equal(c.log);
        expect(h.closeReasonOf(port)).to.equal('fatal');

        expect(await selectOne(bystander)).to.deep.equal(['1']);
        bystander.send(TERMINATE);
        await bystander.closedPromise;
      }, { hook }));
    }
  });
});
