import { Duplex } from 'node:stream';
import { noteIoActivity } from '../clock.js';

/**
 * Two connected in-memory duplex ends, so a client and the server can talk
 * without a port. Writes on one side surface as reads on the other on a later
 * tick, like a socket would deliver them.
 */
export function duplexPair(): [MemorySocket, MemorySocket] {
  const a = new MemorySocket();
  const b = new MemorySocket();
  a.peer = b;
  b.peer = a;
  return [a, b];
}

export class MemorySocket extends Duplex {
  peer: MemorySocket | null = null;
  readonly remoteAddress = '127.0.0.1';
  remotePort = 0;
  private ended = false;

  override _read(): void {}

  override _write(chunk: Buffer, _enc: BufferEncoding, cb: (err?: Error | null) => void): void {
    const peer = this.peer;
    if (!peer || peer.destroyed || peer.ended) {
      cb();
      return;
    }
    noteIoActivity();
    setImmediate(() => {
      noteIoActivity();
      if (!peer.destroyed && !peer.ended) peer.push(chunk);
      cb();
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

  /** Sockets have these; TLS wrapping and our backend call them. */
  setNoDelay(): this { return this; }
  setKeepAlive(): this { return this; }
  setTimeout(): this { return this; }
  ref(): this { return this; }
  unref(): this { return this; }
}
