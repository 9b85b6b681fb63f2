/**
 * PgServer.captureWire: the `wire` events carry exactly the bytes that crossed
 * the TCP connection (TLS records included) and the plaintext inside TLS, and
 * `wire-close` says how each side ended. The client records what it wrote and
 * read through a JS stream of its own, so the comparison is byte for byte.
 */
import { expect } from 'chai';
import * as net from 'node:net';
import { Duplex } from 'node:stream';
import { Parser } from 'pg-protocol/dist/parser.js';
import { makeServer, devTls } from '../support/fixtures.js';
import { WireClient } from '../support/wire-client.js';
import { login, startupMessage } from '../support/raw-login.js';
import { encodeFrontend } from '../../src/wire/codec.js';
import type { EventOf, ServerEvent } from '../../src/events.js';
import type { PgServer } from '../../src/server/server.js';

/** A socket seen through a JS duplex that keeps a copy of every byte each way. */
class Recorder extends Duplex {
  readonly sent: Buffer[] = [];
  readonly received: Buffer[] = [];
  constructor(readonly socket: Duplex) {
    super();
    socket.on('data', (d: Buffer) => { this.received.push(d); if (!this.push(d)) socket.pause(); });
    socket.on('end', () => this.push(null));
    socket.on('close', () => { if (!this.destroyed) this.destroy(); });
    socket.on('error', (e) => this.destroy(e));
  }

  static async connect(port: number): Promise<Recorder> {
    const s = net.connect({ port, host: '127.0.0.1' });
    await new Promise<void>((resolve, reject) => { s.once('connect', resolve); s.once('error', reject); });
    return new Recorder(s);
  }

  override _read(): void { this.socket.resume(); }
  override _write(chunk: Buffer, _enc: BufferEncoding, cb: (e?: Error | null) => void): void {
    this.sent.push(Buffer.from(chunk));
    this.socket.write(chunk, cb);
  }
  override _final(cb: () => void): void { this.socket.end(); cb(); }
  override _destroy(err: Error | null, cb: (e?: Error | null) => void): void { this.socket.destroy(); cb(err); }
}

const wire = (events: ServerEvent[], from: 'client' | 'server', layer: 'tcp' | 'tls'): Buffer =>
  Buffer.concat(events.filter((e): e is EventOf<'wire'> => e.type === 'wire' && e.from === from && e.layer === layer).map((e) => e.data));
const closes = (events: ServerEvent[]): string[] =>
  events.filter((e): e is EventOf<'wire-close'> => e.type === 'wire-close').map((e) => `${e.from} ${e.how}`);

/** Message type names pg-protocol finds in server bytes (framing checked independently of our codec). */
function serverMessages(bytes: Buffer): string[] {
  const names: string[] = [];
  new Parser().parse(bytes, (m) => { names.push(m.name); });
  return names;
}

describe('wire capture (PgServer.captureWire)', () => {
  let server: PgServer;
  let events: ServerEvent[];
  let port: number;

  beforeEach(async () => {
    ({ server, events } = makeServer({
      hba: 'host all all 127.0.0.1/32 scram-sha-256',
      settings: { ssl: true, tls: devTls(true) },
    }));
    server.captureWire = true;
    port = (await server.listen(0, ['127.0.0.1']))[0]!.port;
  });
  afterEach(() => server.close());

  it('a plaintext SCRAM login: the tcp bytes each way are what the client wrote and read', async () => {
    const rec = await Recorder.connect(port);
    const c = new WireClient(rec);
    const seen = await login(c, 'test', 'secret');
    expect(seen.at(-1)?.name).to.equal('readyForQuery');
    c.send(encodeFrontend({ type: 'Terminate' }));
    await c.closedPromise;
    await server.idle();

    const fromClient = wire(events, 'client', 'tcp');
    expect(fromClient.equals(Buffer.concat(rec.sent)), 'client → server bytes').to.equal(true);
    expect(fromClient.subarray(0, startupMessage('test').length).equals(startupMessage('test'))).to.equal(true);
    expect(wire(events, 'server', 'tcp').equals(Buffer.concat(rec.received)), 'server → client bytes').to.equal(true);
    expect(wire(events, 'client', 'tls')).to.have.length(0);
    expect(wire(events, 'server', 'tls')).to.have.length(0);
    // Terminate: the backend exits and closes first. The socket is gone by the time
    // the client answers with its own FIN, so that one is the capture writer's to add.
    expect(closes(events)).to.deep.equal(['server fin']);
  });

  it('a TLS SCRAM login: tcp carries the TLS records, tls the plaintext messages', async () => {
    const rec = await Recorder.connect(port);
    const c = new WireClient(rec);
    const seen = await login(c, 'test', 'secret', 'postgres', { ssl: true });
    expect(seen.at(-1)?.name).to.equal('readyForQuery');
    c.send(encodeFrontend({ type: 'Terminate' }));
    await c.closedPromise;
    await server.idle();

    const fromClient = wire(events, 'client', 'tcp');
    expect(fromClient.equals(Buffer.concat(rec.sent)), 'client → server bytes').to.equal(true);
    expect(wire(events, 'server', 'tcp').equals(Buffer.concat(rec.received)), 'server → client bytes').to.equal(true);
    // SSLRequest in the clear, then a TLS handshake record (0x16).
    expect(fromClient.subarray(0, 8).equals(encodeFrontend({ type: 'SSLRequest' }))).to.equal(true);
    expect(fromClient[8]).to.equal(0x16);
    expect(wire(events, 'server', 'tcp').subarray(0, 1).toString()).to.equal('S');
    // Inside TLS: the startup packet first, and the server's messages frame cleanly.
    const plainIn = wire(events, 'client', 'tls');
    expect(plainIn.subarray(0, startupMessage('test').length).equals(startupMessage('test'))).to.equal(true);
    expect(plainIn.subarray(-5).equals(encodeFrontend({ type: 'Terminate' }))).to.equal(true);
    const names = serverMessages(wire(events, 'server', 'tls'));
    expect(names[0]).to.equal('authenticationSASL');
    expect(names).to.include.members(['authenticationSASLContinue', 'authenticationSASLFinal', 'authenticationOk', 'backendKeyData']);
    expect(names.at(-1)).to.equal('readyForQuery');
    // None of the plaintext is visible at the tcp layer after the handshake.
    expect(fromClient.includes(Buffer.from('SCRAM-SHA-256'))).to.equal(false);
    expect(closes(events)).to.deep.equal(['server fin']);
  });

  it('a client that resets the connection: client rst, and no FIN from the server is invented', async () => {
    const rec = await Recorder.connect(port);
    rec.write(startupMessage('test').subarray(0, 6));
    await new Promise<void>((r) => setTimeout(r, 50));
    (rec.socket as net.Socket).resetAndDestroy();
    await server.idle();
    expect(wire(events, 'client', 'tcp').equals(startupMessage('test').subarray(0, 6))).to.equal(true);
    expect(closes(events)).to.deep.equal(['client rst']);
  });

  it('in memory too: a TLS login over the in-process transport', async () => {
    const rec = new Recorder(server.connect());
    const c = new WireClient(rec);
    const seen = await login(c, 'test', 'secret', 'postgres', { ssl: true });
    expect(seen.at(-1)?.name).to.equal('readyForQuery');
    c.send(encodeFrontend({ type: 'Terminate' }));
    await c.closedPromise;
    await server.idle();
    expect(wire(events, 'client', 'tcp').equals(Buffer.concat(rec.sent))).to.equal(true);
    expect(wire(events, 'server', 'tcp').equals(Buffer.concat(rec.received))).to.equal(true);
    expect(serverMessages(wire(events, 'server', 'tls')).at(-1)).to.equal('readyForQuery');
  });

  it('is off by default: no wire events at all', async () => {
    server.captureWire = false;
    const c = await WireClient.tcp(port);
    await login(c, 'test', 'secret');
    c.end();
    await c.closedPromise;
    await server.idle();
    expect(events.filter((e) => e.type === 'wire' || e.type === 'wire-close')).to.have.length(0);
  });
});
