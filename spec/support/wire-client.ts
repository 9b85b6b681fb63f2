/**
 * A raw protocol client for specs. It decodes what the server sends with
 * node-postgres's pg-protocol parser, so our codec is not only checked
 * against itself.
 */
import * as net from 'node:net';
import * as tls from 'node:tls';
import type { Duplex } from 'node:stream';
import { Parser } from 'pg-protocol/dist/parser.js';
import type { BackendMessage as PgpMessage } from 'pg-protocol/dist/messages.js';
import type { PgServer } from '../../src/server/server.js';

export type Received = PgpMessage & Record<string, unknown>;

export class WireClient {
  private chunks: Buffer[] = [];
  private parsed: Received[] = [];
  private waiters: Array<() => void> = [];
  private parser = new Parser();
  private mode: 'raw' | 'messages' = 'raw';
  closed = false;
  readonly closedPromise: Promise<void>;
  private resolveClosed!: () => void;
  private socket: Duplex;

  constructor(socket: Duplex) {
    this.socket = socket;
    this.closedPromise = new Promise((r) => { this.resolveClosed = r; });
    this.attach(socket);
  }

  static memory(server: PgServer): WireClient {
    return new WireClient(server.connect());
  }

  static async tcp(port: number, host = '127.0.0.1'): Promise<WireClient> {
    const s = net.connect({ port, host });
    await new Promise<void>((res, rej) => { s.once('connect', res); s.once('error', rej); });
    return new WireClient(s);
  }

  private attach(s: Duplex): void {
    s.on('data', (d: Buffer) => this.onData(d));
    s.on('error', () => {});
    s.on('close', () => this.onClose());
    s.on('end', () => this.onClose());
  }

  private onClose(): void {
    if (this.closed) return;
    this.closed = true;
    this.resolveClosed();
    this.wake();
  }

  private onData(d: Buffer): void {
    if (this.mode === 'raw') this.chunks.push(d);
    else this.parser.parse(d, (m) => { this.parsed.push(m as Received); });
    this.wake();
  }

  private wake(): void {
    const w = this.waiters; this.waiters = [];
    for (const f of w) f();
  }

  private wait(): Promise<void> {
    return new Promise((r) => this.waiters.push(r));
  }

  send(bytes: Buffer | Uint8Array): void {
    this.socket.write(bytes);
  }

  /** One unframed byte (the answer to SSLRequest/GSSENCRequest), or null if the server hung up. */
  async readByte(): Promise<string | null> {
    for (;;) {
      const all = Buffer.concat(this.chunks);
      if (all.length > 0) {
        this.chunks = all.length > 1 ? [all.subarray(1)] : [];
        return String.fromCharCode(all[0]!);
      }
      if (this.closed) return null;
      await this.wait();
    }
  }

  /** Raw bytes received so far and not yet consumed (used for the pre-3.0 error format). */
  async readRawUntilClose(): Promise<Buffer> {
    while (!this.closed) await this.wait();
    const all = Buffer.concat(this.chunks); this.chunks = [];
    return all;
  }

  /** Switch from raw bytes to framed messages; anything already received is parsed. */
  private toMessages(): void {
    if (this.mode === 'messages') return;
    this.mode = 'messages';
    const rest = Buffer.concat(this.chunks); this.chunks = [];
    if (rest.length) this.parser.parse(rest, (m) => { this.parsed.push(m as Received); });
  }

  async next(): Promise<Received | null> {
    this.toMessages();
    for (;;) {
      const m = this.parsed.shift();
      if (m) return m;
      if (this.closed) return null;
      await this.wait();
    }
  }

  /** Messages until the server closes the connection. */
  async drain(): Promise<Received[]> {
    const out: Received[] = [];
    for (;;) {
      const m = await this.next();
      if (!m) return out;
      out.push(m);
    }
  }

  /** Messages up to and including the first one named `name` (or until close). */
  async until(name: string): Promise<Received[]> {
    const out: Received[] = [];
    for (;;) {
      const m = await this.next();
      if (!m) return out;
      out.push(m);
      if (m.name === name) return out;
    }
  }

  async startTls(opts: tls.ConnectionOptions = {}): Promise<tls.TLSSocket> {
    this.socket.removeAllListeners('data');
    this.socket.removeAllListeners('close');
    this.socket.removeAllListeners('end');
    const t = tls.connect({ socket: this.socket as net.Socket, rejectUnauthorized: false, ...opts });
    await new Promise<void>((res, rej) => { t.once('secureConnect', res); t.once('error', rej); });
    this.socket = t;
    this.attach(t);
    return t;
  }

  get stream(): Duplex { return this.socket; }

  end(): void { this.socket.end(); }
  destroy(): void { this.socket.destroy(); }
}
