import { Duplex } from 'node:stream';
import { noteIoActivity } from '../clock.js';

/**
 * Two connected in-memory duplex ends, so a client and the server can talk
 * without a port. Writes on one side surface as reads on the other on a later
 * tick, like a socket would deliver them, and behave like TCP where it
 * matters to a backend:
 *  - backpressure: a write is not acknowledged while the other side has a
 *    full buffer and is not reading (a flooding client blocks, as on a full
 *    socket buffer);
 *  - half-close: end() is a FIN; the other side can keep writing;
 *  - reset: resetAndDestroy() makes the other side fail with ECONNRESET, as RST does.
 */
export function duplexPair(): [MemorySocket, MemorySocket] {
  const a = new MemorySocket();
  const b = new MemorySocket();
  a.peer = b;
  b.peer = a;
  return [a, b];
}

function connectionError(code: 'ECONNRESET' | 'ECONNREFUSED', syscall: string): NodeJS.ErrnoException {
  const text = code === 'ECONNRESET' ? 'read ECONNRESET' : 'connect ECONNREFUSED';
  return Object.assign(new Error(syscall === 'read' || code === 'ECONNREFUSED' ? text : `${syscall} ${code}`), { code, syscall, errno: code === 'ECONNRESET' ? -104 : -111 });
}

export class MemorySocket extends Duplex {
  peer: MemorySocket | null = null;
  readonly remoteAddress = '127.0.0.1';
  remotePort = 0;
  /** This side has received the peer's FIN (or reset). */
  private ended = false;
  /** The callback of our last write, held while the peer's read buffer is full. */
  private blocked: (() => void) | null = null;

  constructor() {
    super({ allowHalfOpen: true });
  }

  override _read(): void {
    // We can take more: let a writer the full buffer held back go on.
    const writer = this.peer;
    const release = writer?.blocked;
    if (writer && release) {
      writer.blocked = null;
      release();
    }
  }

  override _write(chunk: Buffer, _enc: BufferEncoding, cb: (err?: Error | null) => void): void {
    if (this.resetPending) {
      cb(connectionError('ECONNRESET', 'write'));
      return;
    }
    const peer = this.peer;
    if (!peer || peer.destroyed || peer.ended) {
      cb();
      return;
    }
    noteIoActivity();
    setImmediate(() => {
      noteIoActivity();
      if (peer.destroyed || peer.ended) { cb(); return; }
      if (peer.push(chunk)) cb();
      else this.blocked = () => cb();
    });
  }

  override _final(cb: (err?: Error | null) => void): void {
    const peer = this.peer;
    setImmediate(() => {
      if (peer && !peer.destroyed && !peer.ended) {
        peer.ended = true;
        peer.push(null);
      }
      cb();
    });
  }

  override _destroy(err: Error | null, cb: (err?: Error | null) => void): void {
    const peer = this.peer;
    this.releaseBlocked();
    peer?.releaseBlocked();
    if (peer && !peer.destroyed && !peer.ended) {
      setImmediate(() => {
        if (!peer.destroyed && !peer.ended) {
          peer.ended = true;
          peer.push(null);
        }
      });
    }
    cb(err);
  }

  private releaseBlocked(): void {
    const release = this.blocked;
    this.blocked = null;
    release?.();
  }

  /**
   * Abort the connection (RST). As on a socket, the other side finds out when it
   * next reads (at once if it is reading) or writes: ECONNRESET.
   */
  resetAndDestroy(): this {
    const peer = this.peer;
    this.peer = null;
    if (peer && !peer.destroyed) {
      noteIoActivity();
      peer.resetPending = true;
      if (peer.isPaused()) peer.once('resume', () => peer.failReset());
      else setImmediate(() => peer.failReset());
    }
    this.destroy();
    return this;
  }

  /** The peer reset the connection and we have not noticed yet. */
  private resetPending = false;

  private failReset(): void {
    if (this.destroyed) return;
    this.ended = true;
    this.destroy(connectionError('ECONNRESET', 'read'));
  }

  /** A connection attempt nobody accepts (the server has stopped): fails with ECONNREFUSED. */
  refuse(): this {
    this.peer = null;
    setImmediate(() => this.destroy(connectionError('ECONNREFUSED', 'connect')));
    return this;
  }

  /** Sockets have these; TLS wrapping and our backend call them. */
  setNoDelay(): this { return this; }
  setKeepAlive(): this { return this; }
  setTimeout(): this { return this; }
  ref(): this { return this; }
  unref(): this { return this; }
}
