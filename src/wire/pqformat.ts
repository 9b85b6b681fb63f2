/**
 * Reading a received message body the way PostgreSQL's pqformat.c does: a
 * cursor over the body, where running short raises the server's own
 * protocol-violation errors rather than a generic exception.
 *
 * PostgreSQL raises these with ereport(ERROR). While authentication is in
 * progress there is no error handler yet, so ERROR is promoted to FATAL and
 * both S and V read FATAL (observed on 15.20); hence FATAL is the default.
 * In the query loop they stay ERROR.
 */
import { bytesToString } from '../bytes.js';
import { PgError, type Severity } from '../errors.js';

/**
 * Where PostgreSQL 15.20 (Debian 15.20-0+deb12u1) raises each error, as its
 * F/L/R fields report. Line numbers were measured with malformed
 * SASLInitialResponse and Query messages against the installed server.
 */
export const PQFORMAT_SOURCE = {
  getmsgbytes: { file: 'pqformat.c', line: 515, routine: 'pq_getmsgbytes' },
  copymsgbytes: { file: 'pqformat.c', line: 533, routine: 'pq_copymsgbytes' },
  getmsgstring: { file: 'pqformat.c', line: 595, routine: 'pq_getmsgstring' },
  getmsgrawstring: { file: 'pqformat.c', line: 624, routine: 'pq_getmsgrawstring' },
  getmsgend: { file: 'pqformat.c', line: 640, routine: 'pq_getmsgend' },
} as const;

type Where = (typeof PQFORMAT_SOURCE)[keyof typeof PQFORMAT_SOURCE];

function violation(severity: Severity, message: string, where: Where): PgError {
  return new PgError({ severity, sqlstate: '08P01', message, ...where });
}

export class MessageBuffer {
  /** Offset of the next unread byte (StringInfo's cursor). */
  cursor = 0;

  constructor(readonly data: Buffer, readonly severity: Severity = 'FATAL') {}

  get remaining(): number {
    return this.data.length - this.cursor;
  }

  /** pq_copymsgbytes(): the integer readers go through this one. */
  private copyBytes(n: number): Buffer {
    if (n < 0 || n > this.remaining) {
      throw violation(this.severity, 'insufficient data left in message', PQFORMAT_SOURCE.copymsgbytes);
    }
    const out = this.data.subarray(this.cursor, this.cursor + n);
    this.cursor += n;
    return out;
  }

  /** pq_getmsgint(msg, 4) as an int32, which is how every caller stores it. */
  getInt32(): number {
    return this.copyBytes(4).readInt32BE(0);
  }

  /** pq_getmsgint(msg, 2) stored in a signed int16. */
  getInt16(): number {
    return this.copyBytes(2).readInt16BE(0);
  }

  /** pq_getmsgbyte(). */
  getByte(): number {
    return this.copyBytes(1)[0]!;
  }

  /** pq_getmsgbytes(): a negative count is "insufficient data" too. */
  getBytes(n: number): Buffer {
    if (n < 0 || n > this.remaining) {
      throw violation(this.severity, 'insufficient data left in message', PQFORMAT_SOURCE.getmsgbytes);
    }
    const out = Buffer.from(this.data.subarray(this.cursor, this.cursor + n));
    this.cursor += n;
    return out;
  }

  /** The NUL-terminated bytes at the cursor, or null when no NUL lies inside the message. */
  private cstringEnd(): number | null {
    const end = this.data.indexOf(0, this.cursor);
    return end < 0 ? null : end;
  }

  /** pq_getmsgrawstring(): no encoding conversion; returns the bytes without the NUL. */
  getRawString(): Buffer {
    const end = this.cstringEnd();
    if (end === null) throw violation(this.severity, 'invalid string in message', PQFORMAT_SOURCE.getmsgrawstring);
    const out = Buffer.from(this.data.subarray(this.cursor, end));
    this.cursor = end + 1;
    return out;
  }

  /**
   * pq_getmsgstring(). The server converts from client_encoding here; the
   * simulation speaks UTF-8 on both sides, so this only decodes, byte for
   * byte (src/bytes.ts). It does not yet refuse invalid UTF-8 (22021) as
   * pg_client_to_server would.
   */
  getString(): string {
    const end = this.cstringEnd();
    if (end === null) throw violation(this.severity, 'invalid string in message', PQFORMAT_SOURCE.getmsgstring);
    const out = bytesToString(this.data.subarray(this.cursor, end));
    this.cursor = end + 1;
    return out;
  }

  /** pq_getmsgend(): the whole body must have been consumed. */
  getEnd(): void {
    if (this.cursor !== this.data.length) {
      throw violation(this.severity, 'invalid message format', PQFORMAT_SOURCE.getmsgend);
    }
  }
}
