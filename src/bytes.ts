/**
 * Client bytes as JavaScript strings, without losing a byte.
 *
 * PostgreSQL never decodes what a client sends before it connects to a database: user and
 * database names, passwords, GUC values and the text of its own messages about them are C
 * strings of bytes, compared with strcmp and written to the log and the socket as they are.
 * pg-authsim keeps those values as strings (for messages, events and the hook's Port) in a
 * form that maps back to exactly the same bytes:
 *
 * - every well-formed UTF-8 sequence decodes to its character, so valid names are the strings
 *   one expects ('test', 'josé');
 * - every other byte (0x80–0xFF, as a lead or a stray continuation) becomes the lone low
 *   surrogate U+DC80–U+DCFF, as Python's `surrogateescape` does (PEP 383).
 *
 * Well-formed UTF-8 never decodes to a surrogate, so the mapping is one-to-one: two strings
 * are equal exactly when their bytes are, and `stringToBytes(bytesToString(b))` is `b`. A
 * terminal shows an escaped byte as U+FFFD, but no comparison ever sees it as one. Strings
 * from elsewhere (configuration files, messages) are ordinary text and encode as UTF-8.
 */
import { isUtf8 } from 'node:buffer';

const ESCAPE_BASE = 0xdc00;

/** The string for a byte string (lossless; see above). */
export function bytesToString(bytes: Uint8Array): string {
  if (isUtf8(bytes)) return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('utf8');
  let out = '';
  for (let i = 0; i < bytes.length;) {
    const n = utf8SequenceLength(bytes, i);
    if (n === 0) {
      out += String.fromCharCode(ESCAPE_BASE + bytes[i]!);
      i++;
    } else {
      out += Buffer.from(bytes.buffer, bytes.byteOffset + i, n).toString('utf8');
      i += n;
    }
  }
  return out;
}

/** Lone surrogates, which only the escaped bytes (or careless code) produce. */
const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

/**
 * The bytes of a string: escaped bytes come back as themselves, everything else is UTF-8.
 * A lone surrogate outside U+DC80–U+DCFF (never made by bytesToString) becomes U+FFFD, as
 * Buffer.from(s, 'utf8') would make it.
 */
export function stringToBytes(s: string): Buffer {
  if (!LONE_SURROGATE.test(s)) return Buffer.from(s, 'utf8');
  const parts: Buffer[] = [];
  let run = '';
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    const paired = (c >= 0xd800 && c <= 0xdbff && isLow(s.charCodeAt(i + 1))) || (isLow(c) && isHigh(s.charCodeAt(i - 1)));
    if (!paired && c >= ESCAPE_BASE + 0x80 && c <= ESCAPE_BASE + 0xff) {
      if (run) parts.push(Buffer.from(run, 'utf8'));
      run = '';
      parts.push(Buffer.of(c - ESCAPE_BASE));
    } else {
      run += s[i];
    }
  }
  if (run) parts.push(Buffer.from(run, 'utf8'));
  return Buffer.concat(parts);
}

const isHigh = (c: number) => c >= 0xd800 && c <= 0xdbff;
const isLow = (c: number) => c >= 0xdc00 && c <= 0xdfff;

/** strlen() of the string's bytes. */
export function byteLength(s: string): number {
  return LONE_SURROGATE.test(s) ? stringToBytes(s).length : Buffer.byteLength(s, 'utf8');
}

/**
 * Length of the well-formed UTF-8 sequence at `i` (RFC 3629: no overlongs, no surrogates,
 * nothing above U+10FFFF), or 0 when the byte there does not start one.
 */
function utf8SequenceLength(b: Uint8Array, i: number): number {
  const c = b[i]!;
  if (c < 0x80) return 1;
  const cont = (k: number, lo = 0x80, hi = 0xbf) => i + k < b.length && b[i + k]! >= lo && b[i + k]! <= hi;
  if (c >= 0xc2 && c <= 0xdf) return cont(1) ? 2 : 0;
  if (c === 0xe0) return cont(1, 0xa0) && cont(2) ? 3 : 0;
  if ((c >= 0xe1 && c <= 0xec) || c === 0xee || c === 0xef) return cont(1) && cont(2) ? 3 : 0;
  if (c === 0xed) return cont(1, 0x80, 0x9f) && cont(2) ? 3 : 0;
  if (c === 0xf0) return cont(1, 0x90) && cont(2) && cont(3) ? 4 : 0;
  if (c >= 0xf1 && c <= 0xf3) return cont(1) && cont(2) && cont(3) ? 4 : 0;
  if (c === 0xf4) return cont(1, 0x80, 0x8f) && cont(2) && cont(3) ? 4 : 0;
  return 0;
}

/** pg_utf_mblen(): a character's length as its first byte claims it. */
function pgUtfMblen(c: number): number {
  return c < 0x80 ? 1 : (c & 0xe0) === 0xc0 ? 2 : (c & 0xf0) === 0xe0 ? 3 : (c & 0xf8) === 0xf0 ? 4 : 1;
}

/**
 * pg_mbcliplen() in a UTF8 database: how many bytes of `bytes` fit in `limit` without
 * splitting a character, where a character's length comes from its first byte alone
 * (pg_utf_mblen: a stray continuation byte or 0xF8–0xFF counts as one byte).
 */
export function utf8Cliplen(bytes: Uint8Array, limit: number): number {
  let len = 0;
  while (len < bytes.length && bytes[len] !== 0) {
    const l = pgUtfMblen(bytes[len]!);
    if (len + l > limit) break;
    len += l;
    if (len === limit) break;
  }
  return Math.min(len, bytes.length);
}

/**
 * pg_tolower/pg_strncasecmp folding: ASCII letters only, as PostgreSQL compares keywords, GUC
 * and encoding names. String.prototype.toLowerCase would also turn U+212A (KELVIN SIGN) into
 * 'k' and U+0130 into 'i̇', matching names PostgreSQL never would.
 */
export function asciiLower(s: string): string {
  return s.replace(/[A-Z]+/g, (c) => c.toLowerCase());
}

/**
 * Where a UTF8 database would refuse `bytes` (pg_verify_mbstr): the offset of the first byte
 * that does not start a well-formed character (NUL included), and report_invalid_encoding's
 * rendering of it: as many bytes as the lead byte claims, within the input ("0xe2 0x28 0xa1").
 * Null when the bytes are valid UTF-8 without NUL.
 */
export function invalidUtf8(bytes: Uint8Array): { offset: number; shown: string } | null {
  for (let i = 0; i < bytes.length;) {
    const n = bytes[i] === 0 ? 0 : utf8SequenceLength(bytes, i);
    if (n === 0) {
      const shown = [...bytes.subarray(i, Math.min(bytes.length, i + pgUtfMblen(bytes[i]!)))]
        .map((b) => `0x${b.toString(16).padStart(2, '0')}`).join(' ');
      return { offset: i, shown };
    }
    i += n;
  }
  return null;
}
