/**
 * A JS stream between the accepted socket and everything that reads or
 * writes it, so the bytes that cross the connection can be reported as they
 * go (`wire` events, `layer: 'tcp'`). Only used while the server captures the
 * wire: TLS over a net.Socket otherwise runs natively underneath JS, and its
 * records would never be seen; over this stream node's TLS goes through JS,
 * so the records pass here too.
 *
 * It also notes how each direction ended (`wire-close`): FIN when a side
 * ended its writing, RST when the peer reset the connection or the server
 * reset it on purpose (an exit with unread input).
 */
import { Duplex } from 'node:stream';

export interface WireTapSink {
  bytes(from: 'client' | 'server', data: Buffer): void;
  closed(from: 'client' | 'server', how: 'fin' | 'rst'): void;
}

/** A socket that can be reset (net.Socket.resetAndDestroy, and the in-memory transport's). */
export interface Resettable { resetAndDestroy?(): unknown }

export class WireTap extends Duplex {
  private clientClosed = false;
  private clientReset = false;
  private serverClosed = false;

  constructor(private readonly raw: Duplex & Resettable, private readonly sink: WireTapSink) {
    super({ allowHalfOpen: true });
    raw.on('data', (chunk: Buffer) => {
      sink.bytes('client', chunk);
      if (!this.push(chunk)) raw.pause();
    });
    raw.on('end', () => {
      this.noteClient('fin');
      this.push(null);
    });
    raw.on('error', (err: NodeJS.ErrnoException) => {
      if (err.code === 'ECONNRESET' || err.code === 'EPIPE') this.noteClient('rst');
      this.destroy(err);
    });
    raw.on('finish', () => this.noteServer('fin'));
    raw.on('close', () => {
      // Closing the descriptor sends FIN unless someone reset it first or the peer already did.
      if (!this.clientReset) this.noteServer('fin');
      if (!this.destroyed) this.destroy();
    });
  }

  private noteClient(how: 'fin' | 'rst'): void {
    if (how === 'rst') this.clientReset = true;
    if (this.clientClosed) return;
    this.clientClosed = true;
    this.sink.closed('client', how);
  }

  private noteServer(how: 'fin' | 'rst'): void {
    if (this.serverClosed) return;
    this.serverClosed = true;
    this.sink.closed('server', how);
  }

  override _read(): void {
    this.raw.resume();
  }

  override _write(chunk: Buffer, _enc: BufferEncoding, cb: (err?: Error | null) => void): void {
    this.sink.bytes('server', chunk);
    this.raw.write(chunk, (err) => cb(err ?? null));
  }

  override _final(cb: (err?: Error | null) => void): void {
    this.raw.end();
    cb();
  }

  override _destroy(err: Error | null, cb: (err?: Error | null) => void): void {
    this.raw.destroy();
    cb(err);
  }

  /** Abort the connection: the peer sees RST. */
  resetAndDestroy(): this {
    this.noteServer('rst');
    if (typeof this.raw.resetAndDestroy === 'function') this.raw.resetAndDestroy();
    else this.raw.destroy();
    this.destroy();
    return this;
  }

  // Socket methods callers may use on what they believe is a socket.
  setNoDelay(): this { return this; }
  setKeepAlive(): this { return this; }
  setTimeout(): this { return this; }
  ref(): this { return this; }
  unref(): this { return this; }
}
