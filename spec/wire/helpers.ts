/** Small helpers shared by the wire specs. */
import { PG15_CAPTURES, type CaptureName } from './pg15-captures.js';

export const hex = (h: string): Buffer => Buffer.from(h, 'hex');
export const capture = (name: CaptureName): Buffer => hex(PG15_CAPTURES[name]);

export function int32(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeInt32BE(n);
  return b;
}

/** NUL-terminated strings, concatenated. */
export function cstrings(...parts: string[]): Buffer {
  return Buffer.concat(parts.map((p) => Buffer.from(`${p}\0`, 'utf8')));
}

/** Split a byte stream of framed messages into [type, body] pairs. */
export function splitFrames(buf: Buffer): Array<{ type: number; body: Buffer }> {
  const out: Array<{ type: number; body: Buffer }> = [];
  let at = 0;
  while (at < buf.length) {
    const type = buf[at]!;
    const len = buf.readInt32BE(at + 1);
    out.push({ type, body: buf.subarray(at + 5, at + 1 + len) });
    at += 1 + len;
  }
  return out;
}

/** The single frame in `buf`, failing if there is more or less. */
export function onlyFrame(buf: Buffer): { type: number; body: Buffer } {
  const frames = splitFrames(buf);
  if (frames.length !== 1) throw new Error(`expected one frame, got ${frames.length}`);
  return frames[0]!;
}

export const tick = () => new Promise<void>((r) => setImmediate(r));
