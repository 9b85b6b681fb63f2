/**
 * A scripted protocol client for deterministic tests: send typed frontend messages (or raw
 * bytes), await decoded backend messages, ask for SSL and run the TLS handshake in one call,
 * log in by hand and stop wherever the test wants. In memory against a PgServer (so a virtual
 * clock keeps working) or over TCP against anything that speaks the protocol.
 *
 * Messages are decoded with pg-authsim's own codec (src/wire) by default; a test that wants an
 * independent parser plugs in its own BackendDecoder (the project's specs use node-postgres's
 * pg-protocol).
 */
import * as net from 'node:net';
import * as tls from 'node:tls';
import type { Duplex } from 'node:stream';
import type { PgServer } from '../server/server.js';
import { decodeBackend, encodeFrontend, type BackendMessage, type FrontendMessage } from '../wire/codec.js';
import { ScramClient } from '../clients/libpq/scram-client.js';
import { md5ClientResponse } from '../common/md5.js';
import { SeededRandom } from '../random.js';

/** Turns received bytes into messages: `parse` is fed every chunk in order and emits whole messages. */
export interface BackendDecoder<M> {
  parse(chunk: Buffer, emit: (m: M) => void): void;
  /** The message's name, for until() and expect(). */
  name(m: M): string;
}

/** pg-authsim's codec: frames split here, each decoded by decodeBackend(); names are BackendMessage['type']. */
export function codecDecoder(): BackendDecoder<BackendMessage> {
  let pending: Buffer = Buffer.alloc(0);
  return {
    parse(chunk, emit) {
      pending = pending.length === 0 ? chunk : Buffer.concat([pending, chunk]);
      while (pending.length >= 5) {
        const length = pending.readInt32BE(1);
        if (pending.length < 1 + length) break;
        emit(decodeBackend(pending[0]!, pending.subarray(5, 1 + length)));
        pending = pending.subarray(1 + length);
      }
    },
    name: (m) => m.type,
  };
}

/** The client with any decoder (subclass it with a constructor taking the socket). */
export class WireClientBase<M> {
  private chunks: Buffer[] = [];
  private parsed: M[] = [];
  private waiters: Array<() => void> = [];
  private mode: 'raw' | 'messages' = 'raw';
  /** The server closed (or the socket failed). */
  closed = false;
  readonly closedPromise: Promise<void>;
  private resolveClosed!: () => void;
  private socket: Duplex;
  private readonly decoder: BackendDecoder<M>;

  constructor(socket: Duplex, decoder: BackendDecoder<M>) {
    this.socket = socket;
    this.decoder = decoder;
    this.closedPromise = new Promise((r) => { this.resolveClosed = r; });
    this.attach(socket);
  }

  /** An in-memory connection to `server` (the address the server sees is 127.0.0.1). */
  static memory<T>(this: new (socket: Duplex) => T, server: PgServer): T {
    return new this(server.connect());
  }

  static async tcp<T>(this: new (socket: Duplex) => T, port: number, host = '127.0.0.1'): Promise<T> {
    return new this(await openTcp(port, host));
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
    else this.decoder.parse(d, (m) => { this.parsed.push(m); });
    this.wake();
  }

  private wake(): void {
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f();
  }

  private wait(): Promise<void> {
    return new Promise((r) => this.waiters.push(r));
  }

  /** A frontend message (encoded by pg-authsim's codec), or raw bytes exactly as given. */
  send(msg: FrontendMessage | Buffer | Uint8Array): void {
    this.socket.write(msg instanceof Uint8Array ? msg : encodeFrontend(msg));
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

  /** Raw bytes received so far and not yet consumed, once the server has closed (the pre-3.0 error format). */
  async readRawUntilClose(): Promise<Buffer> {
    while (!this.closed) await this.wait();
    const all = Buffer.concat(this.chunks);
    this.chunks = [];
    return all;
  }

  /** Switch from raw bytes to framed messages; anything already received is parsed. */
  private toMessages(): void {
    if (this.mode === 'messages') return;
    this.mode = 'messages';
    const rest = Buffer.concat(this.chunks);
    this.chunks = [];
    if (rest.length) this.decoder.parse(rest, (m) => { this.parsed.push(m); });
  }

  /** The next message, or null once the server has closed and nothing is left. */
  async next(): Promise<M | null> {
    this.toMessages();
    for (;;) {
      const m = this.parsed.shift();
      if (m) return m;
      if (this.closed) return null;
      await this.wait();
    }
  }

  /** The next message, which must be `name`; throws (naming what came instead) otherwise. */
  async expect(name: string): Promise<M> {
    const m = await this.next();
    if (m === null) throw new Error(`expected ${name}, but the server closed the connection`);
    if (this.decoder.name(m) !== name) throw new Error(`expected ${name}, got ${this.decoder.name(m)}`);
    return m;
  }

  /** Messages until the server closes the connection. */
  async drain(): Promise<M[]> {
    const out: M[] = [];
    for (;;) {
      const m = await this.next();
      if (!m) return out;
      out.push(m);
    }
  }

  /** Messages up to and including the first one named `name` (or until close). */
  async until(name: string): Promise<M[]> {
    const out: M[] = [];
    for (;;) {
      const m = await this.next();
      if (!m) return out;
      out.push(m);
      if (this.decoder.name(m) === name) return out;
    }
  }

  /** The TLS handshake on this connection (after an 'S', or at once for direct SSL). Certificates are not checked unless `opts` asks. */
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

  /** SSLRequest, the server's answer, and on 'S' the TLS handshake: one call. Returns the answer ('S', 'N', 'E', ... or null). */
  async requestSsl(opts: tls.ConnectionOptions = {}): Promise<string | null> {
    this.send({ type: 'SSLRequest' });
    const answer = await this.readByte();
    if (answer === 'S') await this.startTls(opts);
    return answer;
  }

  get stream(): Duplex { return this.socket; }

  /** FIN (a close_notify first under TLS). */
  end(): void { this.socket.end(); }
  /** A reset. */
  destroy(): void { this.socket.destroy(); }
}

/** The client with pg-authsim's codec: messages are BackendMessage values. */
export class WireClient extends WireClientBase<BackendMessage> {
  constructor(socket: Duplex) {
    super(socket, codecDecoder());
  }
}

function openTcp(port: number, host: string): Promise<net.Socket> {
  const s = net.connect({ port, host });
  return new Promise((res, rej) => {
    s.once('connect', () => res(s));
    s.once('error', rej);
  });
}

export interface LoginOptions {
  database?: string;
  /** SSLRequest and TLS before the startup packet. */
  ssl?: boolean;
  /** More startup parameters. */
  params?: Record<string, string>;
  /** SCRAM nonces. Default: a fixed seed, so runs repeat. */
  seed?: number;
}

/**
 * Log in over `c` with `password` (SCRAM-SHA-256, md5 or cleartext, whichever the server asks
 * for); null hangs up when the server asks for one, as psql -w does. Returns every message
 * received after the startup packet, up to ReadyForQuery or the server's close.
 */
export async function login(c: WireClient, user: string, password: string | null, opts: LoginOptions = {}): Promise<BackendMessage[]> {
  if (opts.ssl) {
    const answer = await c.requestSsl();
    if (answer !== 'S') throw new Error(`server answered ${answer} to SSLRequest`);
  }
  c.send({ type: 'StartupMessage', protocolVersion: { major: 3, minor: 0 }, params: Object.entries({ user, database: opts.database ?? 'postgres', ...opts.params }) });
  const seen: BackendMessage[] = [];
  const take = async (): Promise<BackendMessage | null> => {
    const m = await c.next();
    if (m) seen.push(m);
    return m;
  };
  const rest = async (): Promise<BackendMessage[]> => [...seen, ...(await c.until('ReadyForQuery'))];
  const first = await take();
  if (!first) return seen;
  const hangUp = async (): Promise<BackendMessage[]> => {
    c.end();
    return [...seen, ...(await c.drain())];
  };
  switch (first.type) {
    case 'AuthenticationSASL': {
      if (password === null) return hangUp();
      const scram = new ScramClient({ password, mechanism: 'SCRAM-SHA-256', sslInUse: opts.ssl ?? false, channelBinding: 'disable', random: new SeededRandom(opts.seed ?? 11) });
      c.send({ type: 'SASLInitialResponse', mechanism: 'SCRAM-SHA-256', data: scram.clientFirst() });
      const cont = await take();
      if (!cont) return seen;
      if (cont.type !== 'AuthenticationSASLContinue') return [...seen, ...(await c.drain())];
      c.send({ type: 'SASLResponse', data: scram.serverFirst(cont.data) });
      return rest();
    }
    case 'AuthenticationMD5Password':
      if (password === null) return hangUp();
      c.send({ type: 'PasswordMessage', password: md5ClientResponse(user, password, first.salt) });
      return rest();
    case 'AuthenticationCleartextPassword':
      if (password === null) return hangUp();
      c.send({ type: 'PasswordMessage', password });
      return rest();
    default:
      return rest();
  }
}
