/**
 * The client's view of one socket: raw bytes in (through the same MessageReader the
 * server uses, so a socket can be handed to TLS with nothing lost), frames out.
 */
import type { Duplex } from 'node:stream';
import { MessageReader } from '../../wire/reader.js';
import { encodeFrontend, type FrontendMessage } from '../../wire/codec.js';

export type FrameRead =
  | { kind: 'frame'; type: number; body: Buffer; lengthWord: number }
  | { kind: 'eof' };

export class ClientWire {
  readonly reader: MessageReader;

  constructor(readonly stream: Duplex) {
    this.reader = new MessageReader(stream);
    // Errors surface as EOF on reads; keep them from being unhandled.
    stream.on('error', () => {});
  }

  /** ECONNRESET and friends, if the stream failed rather than ended. */
  get errorCode(): string | null {
    const code = (this.reader.error as { code?: unknown } | null)?.code;
    return typeof code === 'string' ? code : null;
  }

  readByte(): Promise<number | null> {
    return this.reader.readByte();
  }

  async readBytes(n: number): Promise<Buffer | null> {
    const b = await this.reader.readBytes(n);
    return b.length === n ? b : null;
  }

  /** Type byte, length word, body; no limit on the length (callers check what libpq checks). */
  async readFrame(): Promise<FrameRead> {
    const type = await this.readByte();
    if (type === null) return { kind: 'eof' };
    const len = await this.readBytes(4);
    if (len === null) return { kind: 'eof' };
    const lengthWord = len.readInt32BE(0);
    if (lengthWord < 4) return { kind: 'eof' };
    const body = await this.readBytes(lengthWord - 4);
    if (body === null) return { kind: 'eof' };
    return { kind: 'frame', type, body, lengthWord };
  }

  send(...msgs: FrontendMessage[]): void {
    for (const m of msgs) this.stream.write(encodeFrontend(m));
  }

  write(buf: Buffer): void {
    this.stream.write(buf);
  }

  /** Stop reading and hand back whatever arrived but was not consumed. */
  detach(): Buffer {
    return this.reader.detach();
  }

  /** closesocket(): whatever was written still goes out (a Terminate, a TLS close_notify). */
  close(): void {
    this.reader.close();
    closeGracefully(this.stream);
  }
}

/** end() so queued bytes are flushed, then destroy; streams that already failed are just destroyed. */
export function closeGracefully(stream: Duplex, after?: () => void): void {
  const finish = () => {
    stream.destroy();
    after?.();
  };
  if (stream.destroyed || stream.writableEnded || stream.writableFinished) {
    finish();
    return;
  }
  stream.once('finish', finish);
  stream.once('close', finish);
  stream.once('error', finish);
  stream.end();
}
