/**
 * A JS stream between the accepted socket and everything that reads or
 * writes it. It serves two purposes:
 *
 *  - capture (`PgServer.captureWire`): the bytes that cross the connection
 *    are reported as they go (`wire` events, `layer: 'tcp'`). TLS over a
 *    net.Socket otherwise runs natively underneath JS and its records would
 *    never be seen; over this stream node's TLS goes through JS, so the
 *    records pass here too. It also notes how each direction ended
 *    (`wire-close`): FIN when a side ended its writing, RST when the peer
 *    reset the connection or the server reset it on purpose.
 *
 *  - TLS bookkeeping, for every TLS connection: how many bytes the client
 *    sent after TLS began (OpenSSL reads a failed first record's 5-byte
 *    header only, and leaves the rest in the kernel: RST at exit), and the
 *    shape of the client's last record (a TLS 1.3 close_notify is a 19-byte
 *    encrypted record, a TLS 1.2 one an alert record): PostgreSQL logs an
 *    EOF without close_notify as a connection reset.
 */
import { Duplex } from 'node:stream';

export interface WireTapSink {
  bytes(from: 'client' | 'server', data: Buffer): void;
  closed(from: 'client' | 'server', how: 'fin' | 'rst'): void;
}

/** A socket that can be reset (net.Socket.resetAndDestroy, and the in-memory transport's). */
export interface Resettable { resetAndDestroy?(): unknown }

/**
 * Abort a socket so the peer sees RST, where that is still possible. Once a shutdown (FIN) is
 * pending, libuv refuses SO_LINGER 0 (EINVAL) and node then marks the socket destroyed without
 * closing its handle, leaking it and its descriptor: such a socket is only destroyed.
 */
export function resetSocket(sock: Duplex & Resettable): void {
  const shutdownPending = sock.writableEnded && !sock.writableFinished;
  if (typeof sock.resetAndDestroy === 'function' && !shutdownPending) sock.resetAndDestroy();
  else sock.destroy();
}

const TLS_ALERT = 0x15;
const TLS_APPLICATION_DATA = 0x17;
/**
 * Encrypted TLS 1.3 records holding one or two 2-byte alerts (content type byte plus a
 * 16-byte AEAD tag): too short to carry any protocol message (5 bytes at least).
 */
const TLS13_ALERT_RECORD_LENGTHS = [2 + 1 + 16, 4 + 1 + 16];

/** Follows the record layer of the client's TLS bytes: header by header, bodies skipped. */
class RecordWatch {
  bytes = 0;
  last: { type: number; length: number } | null = null;
  private header = Buffer.alloc(5);
  private headerHave = 0;
  private bodyLeft = 0;

  feed(chunk: Buffer): void {
    this.bytes += chunk.length;
    let at = 0;
    while (at < chunk.length) {
      if (this.bodyLeft > 0) {
        const k = Math.min(this.bodyLeft, chunk.length - at);
        this.bodyLeft -= k;
        at += k;
        continue;
      }
      const k = Math.min(5 - this.headerHave, chunk.length - at);
      chunk.copy(this.header, this.headerHave, at, at + k);
      this.headerHave += k;
      at += k;
      if (this.headerHave === 5) {
        this.headerHave = 0;
        this.last = { type: this.header[0]!, length: this.header.readUInt16BE(3) };
        this.bodyLeft = this.last.length;
      }
    }
  }

  /** Whether the last complete record looks like the client's close_notify. */
  endedWithAlert(): boolean {
    const r = this.last;
    if (!r || this.bodyLeft > 0 || this.headerHave > 0) return false;
    return r.type === TLS_ALERT || (r.type === TLS_APPLICATION_DATA && TLS13_ALERT_RECORD_LENGTHS.includes(r.length));
  }
}

export class WireTap extends Duplex {
  private clientClosed = false;
  private clientReset = false;
  private serverClosed = false;
  private records: RecordWatch | null = null;

  constructor(private readonly raw: Duplex & Resettable, private readonly sink: WireTapSink | null = null) {
    super({ allowHalfOpen: true });
    raw.on('data', (chunk: Buffer) => {
      sink?.bytes('client', chunk);
      this.records?.feed(chunk);
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

  /** TLS starts now: follow the client's records from here (`prefix`: bytes of it read earlier). */
  watchTls(prefix: Buffer = Buffer.alloc(0)): void {
    this.records = new RecordWatch();
    if (prefix.length > 0) this.records.feed(prefix);
  }

  /** Bytes the client sent since watchTls(). */
  get tlsBytesFromClient(): number {
    return this.records?.bytes ?? 0;
  }

  /** Whether the client's TLS stream ended with an alert record (its close_notify). */
  get clientSentCloseNotify(): boolean {
    return this.records?.endedWithAlert() ?? false;
  }

  private noteClient(how: 'fin' | 'rst'): void {
    if (how === 'rst') this.clientReset = true;
    if (this.clientClosed) return;
    this.clientClosed = true;
    this.sink?.closed('client', how);
  }

  private noteServer(how: 'fin' | 'rst'): void {
    if (this.serverClosed) return;
    this.serverClosed = true;
    this.sink?.closed('server', how);
  }

  override _read(): void {
    this.raw.resume();
  }

  override _write(chunk: Buffer, _enc: BufferEncoding, cb: (err?: Error | null) => void): void {
    this.sink?.bytes('server', chunk);
    this.raw.write(chunk, (err) => cb(err ?? null));
  }

  /** TLS writes a flight as several records at once (corked): one socket write for all of them. */
  override _writev(chunks: Array<{ chunk: Buffer }>, cb: (err?: Error | null) => void): void {
    const data = chunks.length === 1 ? chunks[0]!.chunk : Buffer.concat(chunks.map((c) => c.chunk));
    this._write(data, 'latin1', cb);
  }

  /**
   * Whether ending the tap ends the socket (FIN). Off until the socket's owner (the
   * backend's connection) has decided on FIN rather than RST, so TLS giving up on the
   * stream cannot close the socket behind its back; destroying the tap never touches it.
   */
  endsSocket = false;

  override _final(cb: (err?: Error | null) => void): void {
    if (this.endsSocket) {
      // The FIN is ours from the moment it is queued, whatever the peer does meanwhile.
      this.noteServer('fin');
      this.raw.end();
    }
    cb();
  }

  override _destroy(err: Error | null, cb: (err?: Error | null) => void): void {
    cb(err);
  }

  /** Abort the connection (the socket itself): the peer sees RST. */
  resetAndDestroy(): this {
    this.noteServer('rst');
    resetSocket(this.raw);
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
