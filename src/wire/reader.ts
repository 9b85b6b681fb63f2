/**
 * Pull-style reading from a Node stream with the semantics of PostgreSQL's
 * pqcomm.c receive side (pq_getbyte, pq_getbytes, pq_getmessage) and of the
 * framing part of ProcessStartupPacket.
 *
 * The reader consumes the stream in flowing mode ('data' events) into its own
 * buffer, much as PostgreSQL recv()s into PqRecvBuffer. Nothing is left in the
 * stream's internal buffer, so detach() can return every byte that arrived but
 * was not consumed: the server hands the raw socket to TLS at that point, and
 * any such bytes are the plaintext of CVE-2021-23214.
 *
 * Reads are strictly one at a time, like the single-threaded backend.
 */
import type { Duplex } from 'node:stream';
import { MAX_STARTUP_PACKET_LENGTH } from './messages.js';

export type StartupRead =
  /** Clean EOF before any byte: PostgreSQL exits without a word. */
  | { kind: 'eof' }
  /**
   * EOF inside the length word (`where: 'length'`, 1–3 bytes received) or
   * inside the body. PostgreSQL logs `incomplete startup packet` for both,
   * except that the length-word case is silent once SSL or GSS was negotiated.
   */
  | { kind: 'incomplete'; where: 'length' | 'body' }
  /** Length word outside 8..10004 (`invalid length of startup packet`). `length` is the word as sent, signed. */
  | { kind: 'invalid-length'; length: number }
  /** Everything after the length word: code or version first. */
  | { kind: 'packet'; body: Buffer };

/** pq_getmessage() outcomes, for a message whose type byte was already read. */
export type MessageBodyRead =
  /** `unexpected EOF within message length word` */
  | { kind: 'eof-in-length' }
  /** `invalid message length`: below 4 or above maxLength. */
  | { kind: 'invalid-length'; length: number }
  /** `incomplete message from client` */
  | { kind: 'incomplete' }
  | { kind: 'body'; body: Buffer };

export type MessageRead =
  /** EOF before the type byte (a client that just goes away). */
  | { kind: 'eof' }
  | { kind: 'eof-in-length' }
  | { kind: 'invalid-length'; length: number }
  | { kind: 'incomplete' }
  | { kind: 'message'; type: number; body: Buffer };

export class MessageReader {
  private stream: Duplex | null = null;
  /** Received chunks; the unread data starts at chunks[head]. */
  private chunks: Buffer[] = [];
  private head = 0;
  private buffered = 0;
  /** No more data will come: the stream ended, failed, closed, or close() was called. */
  private ended = false;
  private streamError: Error | null = null;
  private wake: (() => void) | null = null;
  private reading = false;

  private readonly onData = (chunk: Buffer | string) => {
    const b = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
    if (b.length === 0) return;
    this.chunks.push(b);
    this.buffered += b.length;
    this.notify();
  };
  private readonly onEnd = () => { this.ended = true; this.notify(); };
  private readonly onError = (err: Error) => { this.streamError ??= err; this.ended = true; this.notify(); };
  private readonly onClose = () => {
    // 'close' is a stream's last event: nothing can follow, so let go of it.
    this.ended = true;
    this.removeListeners();
    this.notify();
  };

  constructor(stream?: Duplex) {
    if (stream) this.attach(stream);
  }

  /** Start consuming `stream`. Bytes still buffered from a previous stream are discarded only by detach(). */
  attach(stream: Duplex): void {
    if (this.stream) throw new Error('MessageReader is already attached to a stream');
    this.stream = stream;
    this.ended = false;
    this.streamError = null;
    stream.on('data', this.onData);
    stream.on('end', this.onEnd);
    stream.on('error', this.onError);
    stream.on('close', this.onClose);
    if (stream.destroyed || stream.readableEnded) {
      this.ended = true;
      this.removeListeners();
      this.notify();
      return;
    }
    // A 'data' listener does not restart a stream someone paused explicitly.
    stream.resume();
    this.notify();
  }

  /**
   * Stop consuming the stream and hand back the bytes received but not yet
   * read. The stream is paused, so later data waits in it for the next owner
   * (e.g. a tls.TLSSocket wrapping it). Not allowed while a read is pending.
   */
  detach(): Buffer {
    if (this.reading) throw new Error('MessageReader.detach() while a read is pending');
    const stream = this.stream;
    if (stream) {
      this.removeListeners();
      stream.pause();
      // Flowing mode leaves nothing behind, but take anything that is there, just in case.
      for (let chunk = stream.read() as Buffer | string | null; chunk !== null; chunk = stream.read() as Buffer | string | null) {
        this.onData(chunk);
      }
    }
    const leftover = this.take(this.buffered);
    this.ended = false;
    return leftover;
  }

  /**
   * Stop reading for good: a pending read resolves as EOF, listeners are
   * removed, and the stream itself is left alone (its owner closes it).
   */
  close(): void {
    this.ended = true;
    this.removeListeners();
    this.notify();
  }

  /** Bytes that arrived some other way than a stream (a scripted connection in specs); close() ends them. */
  push(bytes: Buffer): void {
    this.onData(bytes);
  }

  /** Bytes received and not yet consumed: PostgreSQL's pq_buffer_has_data() when > 0. */
  bufferedLength(): number {
    return this.buffered;
  }

  /** The stream error that ended input, if any (PostgreSQL logs `could not receive data from client: %m`). */
  get error(): Error | null {
    return this.streamError;
  }

  /** Whether no more input can arrive beyond what is buffered. */
  get isEnded(): boolean {
    return this.ended;
  }

  // ---- pq_* primitives --------------------------------------------------------

  /** pq_getbyte(): the next byte, or null at EOF. */
  async readByte(): Promise<number | null> {
    return this.exclusive(async () => {
      if (!(await this.fill(1))) return null;
      return this.take(1)[0]!;
    });
  }

  /** pq_peekbyte(): the next byte without consuming it, or null at EOF. */
  async peekByte(): Promise<number | null> {
    return this.exclusive(async () => {
      if (!(await this.fill(1))) return null;
      return this.chunks[this.head]![0]!;
    });
  }

  /**
   * pq_getbytes(): exactly n bytes, or fewer if EOF came first (then whatever
   * was there has been consumed, as in PostgreSQL).
   */
  async readBytes(n: number): Promise<Buffer> {
    return this.exclusive(async () => {
      await this.fill(n);
      return this.take(Math.min(n, this.buffered));
    });
  }

  /** The type byte of the next message: pq_getbyte() as the server's message loops use it. */
  readMessageType(): Promise<number | null> {
    return this.readByte();
  }

  /**
   * pq_getmessage(): length word, then body. In PostgreSQL 14+ (checked in 15's
   * pqcomm.c) the length word is read first (EOF there is `unexpected EOF within
   * message length word`), then `len < 4 || len > maxlen` is `invalid message
   * length` — so maxLength counts the length word itself, and there is no
   * "0 = unlimited" any more — and only then is the body read (`incomplete
   * message from client`). Measured on 15.20: a password message of length
   * 65535 is accepted and 65536 is rejected.
   */
  async readMessageBody(maxLength: number): Promise<MessageBodyRead> {
    return this.exclusive(() => this.getMessage(maxLength));
  }

  /**
   * Type byte and message together. PostgreSQL's authentication code checks
   * the type byte *before* reading the length (a wrong type with a bad length
   * is reported as the wrong type), so code that needs that order should use
   * readMessageType() and readMessageBody() instead.
   */
  async readMessage(maxLength: number): Promise<MessageRead> {
    return this.exclusive(async () => {
      if (!(await this.fill(1))) return { kind: 'eof' };
      const type = this.take(1)[0]!;
      const r = await this.getMessage(maxLength);
      return r.kind === 'body' ? { kind: 'message', type, body: r.body } : r;
    });
  }

  /**
   * The framing half of ProcessStartupPacket: the first byte of the length
   * word alone (so "nothing at all" can be told from "partial"), the other
   * three, the bounds check on length - 4 (4..MAX_STARTUP_PACKET_LENGTH), then
   * the body.
   */
  async readStartupPacket(): Promise<StartupRead> {
    return this.exclusive(async () => {
      if (!(await this.fill(1))) return { kind: 'eof' };
      if (!(await this.fill(4))) {
        this.take(this.buffered);
        return { kind: 'incomplete', where: 'length' };
      }
      const length = this.take(4).readInt32BE(0);
      const bodyLength = length - 4;
      if (bodyLength < 4 || bodyLength > MAX_STARTUP_PACKET_LENGTH) return { kind: 'invalid-length', length };
      if (!(await this.fill(bodyLength))) {
        this.take(this.buffered);
        return { kind: 'incomplete', where: 'body' };
      }
      return { kind: 'packet', body: this.take(bodyLength) };
    });
  }

  // ---- internals ----------------------------------------------------------------

  private async getMessage(maxLength: number): Promise<MessageBodyRead> {
    if (!(await this.fill(4))) {
      this.take(this.buffered);
      return { kind: 'eof-in-length' };
    }
    const length = this.take(4).readInt32BE(0);
    if (length < 4 || length > maxLength) return { kind: 'invalid-length', length };
    const bodyLength = length - 4;
    if (!(await this.fill(bodyLength))) {
      this.take(this.buffered);
      return { kind: 'incomplete' };
    }
    return { kind: 'body', body: this.take(bodyLength) };
  }

  private async exclusive<T>(fn: () => Promise<T>): Promise<T> {
    if (this.reading) throw new Error('MessageReader: a read is already pending');
    this.reading = true;
    try {
      return await fn();
    } finally {
      this.reading = false;
    }
  }

  /**
   * Wait until n bytes are buffered (true) or input has ended first (false).
   * With no stream attached (before attach(), or between detach() and the next
   * attach()) a read waits for one.
   */
  private async fill(n: number): Promise<boolean> {
    while (this.buffered < n) {
      if (this.ended) return false;
      await new Promise<void>((resolve) => { this.wake = resolve; });
    }
    return true;
  }

  /** Remove and return the first n buffered bytes. */
  private take(n: number): Buffer {
    if (n === 0) return Buffer.alloc(0);
    const first = this.chunks[this.head]!;
    let out: Buffer;
    if (first.length >= n) {
      out = first.length === n ? first : Buffer.from(first.subarray(0, n));
      this.consumeFront(n);
    } else {
      out = Buffer.alloc(n);
      for (let at = 0; at < n;) {
        const c = this.chunks[this.head]!;
        const k = Math.min(c.length, n - at);
        c.copy(out, at, 0, k);
        at += k;
        this.consumeFront(k);
      }
    }
    return out;
  }

  /** Drop k bytes from the front chunk (k at most its length). */
  private consumeFront(k: number): void {
    const c = this.chunks[this.head]!;
    this.buffered -= k;
    if (k < c.length) {
      this.chunks[this.head] = c.subarray(k);
      return;
    }
    // Advance instead of shift(): a message split into thousands of 1-byte chunks stays linear.
    this.head++;
    if (this.head === this.chunks.length) {
      this.chunks = [];
      this.head = 0;
    } else if (this.head >= 1024 && this.head * 2 >= this.chunks.length) {
      this.chunks = this.chunks.slice(this.head);
      this.head = 0;
    }
  }

  private notify(): void {
    const w = this.wake;
    this.wake = null;
    w?.();
  }

  private removeListeners(): void {
    const s = this.stream;
    if (!s) return;
    s.off('data', this.onData);
    s.off('end', this.onEnd);
    s.off('error', this.onError);
    s.off('close', this.onClose);
    this.stream = null;
  }
}
