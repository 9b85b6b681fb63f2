/**
 * Primitives shared by the SCRAM server (src/auth), the SCRAM clients (src/clients) and the
 * secret helpers: PostgreSQL's base64 dialect, its SASLprep variant and the
 * RFC 5802 key derivations (PostgreSQL 15: src/common/{base64,saslprep,scram-common}.c).
 */
import { createHash, createHmac, pbkdf2Sync } from 'node:crypto';
import { createRequire } from 'node:module';
import path from 'node:path';
import { stringToBytes } from '../bytes.js';

export const SCRAM_SHA_256_NAME = 'SCRAM-SHA-256';
export const SCRAM_SHA_256_PLUS_NAME = 'SCRAM-SHA-256-PLUS';
/** Length of a SHA-256 digest, and so of StoredKey, ServerKey, proofs and signatures. */
export const SCRAM_KEY_LEN = 32;
/** Random bytes behind each side's nonce (base64-encoded to 24 characters). */
export const SCRAM_RAW_NONCE_LEN = 18;
export const SCRAM_DEFAULT_SALT_LEN = 16;
/** PG 15 has no scram_iterations GUC (16 added it); this is a compile-time constant. */
export const SCRAM_DEFAULT_ITERATIONS = 4096;
/** Length of the cluster's mock authentication nonce (pg_control). */
export const MOCK_AUTH_NONCE_LEN = 32;

// ---------------------------------------------------------------------------
// base64, PostgreSQL's way

/** Standard padded base64; identical to pg_b64_encode. */
export function pgB64Encode(data: Buffer): string {
  return data.toString('base64');
}

const B64_ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
const B64_VALUE = new Map<number, number>([...B64_ALPHABET].map((c, i) => [c.charCodeAt(0), i]));

/**
 * Decode like pg_b64_decode, which is stricter than Buffer.from(…, 'base64') in some ways
 * (whitespace, missing padding and stray symbols are errors) and looser in others (after the
 * first '=' it keeps decoding, emitting one byte per later quartet). Returns null where
 * PostgreSQL returns -1. `dstLen` defaults to pg_b64_dec_len(srclen), the buffer every caller sizes.
 */
export function pgB64Decode(src: string | Buffer, dstLen?: number): Buffer | null {
  const bytes = typeof src === 'string' ? Buffer.from(src, 'latin1') : src;
  const limit = dstLen ?? (bytes.length * 3) >> 2;
  const out: number[] = [];
  let buf = 0;
  let pos = 0;
  let end = 0;
  for (const c of bytes) {
    if (c === 0x20 || c === 0x09 || c === 0x0a || c === 0x0d) return null;
    let b: number;
    if (c === 0x3d /* = */) {
      if (!end) {
        if (pos === 2) end = 1;
        else if (pos === 3) end = 2;
        else return null;
      }
      b = 0;
    } else {
      const v = B64_VALUE.get(c);
      if (v === undefined) return null;
      b = v;
    }
    buf = ((buf << 6) + b) >>> 0;
    pos++;
    if (pos === 4) {
      if (out.length + 1 > limit) return null;
      out.push((buf >>> 16) & 0xff);
      if (end === 0 || end > 1) {
        if (out.length + 1 > limit) return null;
        out.push((buf >>> 8) & 0xff);
      }
      if (end === 0 || end > 2) {
        if (out.length + 1 > limit) return null;
        out.push(buf & 0xff);
      }
      buf = 0;
      pos = 0;
    }
  }
  if (pos !== 0) return null;
  return Buffer.from(out);
}

// ---------------------------------------------------------------------------
// SASLprep, PostgreSQL's variant (pg_saslprep)

export type SaslprepResult =
  | { rc: 'success'; output: Buffer }
  | { rc: 'invalid-utf8' }
  | { rc: 'prohibited' };

interface CodePointSet { get(cp: number): boolean }
interface StringprepTables {
  unassigned_code_points: CodePointSet;
  commonly_mapped_to_nothing: CodePointSet;
  non_ASCII_space_characters: CodePointSet;
  prohibited_characters: CodePointSet;
  bidirectional_r_al: CodePointSet;
  bidirectional_l: CodePointSet;
}

let tables: StringprepTables | undefined;
/**
 * The RFC 3454 tables that ship inside @mongodb-js/saslprep. Its exported saslprep() cannot be
 * used as is: PostgreSQL checks prohibited/unassigned/bidi on the *mapped but unnormalized*
 * characters, the package checks the NFKC output, and the two disagree for compatibility
 * characters (U+1F100 is unassigned in Unicode 3.2 but normalizes to "0.").
 */
function stringprepTables(): StringprepTables {
  if (!tables) {
    const require = createRequire(import.meta.url);
    const dir = path.dirname(require.resolve('@mongodb-js/saslprep'));
    const { createMemoryCodePoints } = require(path.join(dir, 'memory-code-points.js')) as {
      createMemoryCodePoints(data: Buffer): StringprepTables;
    };
    const data = (require(path.join(dir, 'code-points-data.js')) as { default: Buffer }).default;
    tables = createMemoryCodePoints(data);
  }
  return tables;
}

/** C.4 non-characters U+FFFFE/U+FFFFF are prohibited by RFC 3454 and PG, but missing from the package's table. */
function isProhibited(t: StringprepTables, cp: number): boolean {
  return t.prohibited_characters.get(cp) || cp === 0xffffe || cp === 0xfffff;
}

const strictUtf8 = new TextDecoder('utf-8', { fatal: true });

/**
 * pg_saslprep(): pure ASCII passes through untouched (control characters included);
 * otherwise the input must be valid UTF-8, is mapped (non-ASCII spaces → U+0020, B.1 → nothing),
 * must not become empty, must pass the prohibited/unassigned/bidi checks *before*
 * normalization, and comes out NFKC-normalized.
 */
export function pgSaslprep(input: string | Buffer): SaslprepResult {
  const bytes = typeof input === 'string' ? stringToBytes(input) : input;
  if (bytes.every((b) => b < 0x80)) return { rc: 'success', output: Buffer.from(bytes) };

  let text: string;
  try {
    text = strictUtf8.decode(bytes);
  } catch {
    return { rc: 'invalid-utf8' };
  }
  const t = stringprepTables();
  const mapped: number[] = [];
  for (const ch of text) {
    const cp = ch.codePointAt(0)!;
    if (t.non_ASCII_space_characters.get(cp)) mapped.push(0x20);
    else if (t.commonly_mapped_to_nothing.get(cp)) continue;
    else mapped.push(cp);
  }
  if (mapped.length === 0) return { rc: 'prohibited' }; // PG refuses an empty password here

  for (const cp of mapped) {
    if (isProhibited(t, cp) || t.unassigned_code_points.get(cp)) return { rc: 'prohibited' };
  }
  if (mapped.some((cp) => t.bidirectional_r_al.get(cp))) {
    if (mapped.some((cp) => t.bidirectional_l.get(cp))) return { rc: 'prohibited' };
    if (!t.bidirectional_r_al.get(mapped[0]!) || !t.bidirectional_r_al.get(mapped[mapped.length - 1]!)) {
      return { rc: 'prohibited' };
    }
  }
  const normalized = String.fromCodePoint(...mapped).normalize('NFKC');
  return { rc: 'success', output: Buffer.from(normalized, 'utf8') };
}

/** What PG hashes: the SASLprep output, or the raw bytes when SASLprep refuses (both server and libpq). */
export function scramPreparePassword(password: string | Buffer): Buffer {
  const r = pgSaslprep(password);
  if (r.rc === 'success') return r.output;
  return typeof password === 'string' ? stringToBytes(password) : Buffer.from(password);
}

// ---------------------------------------------------------------------------
// RFC 5802 key derivations

export function hmacSha256(key: Buffer, ...data: (Buffer | string)[]): Buffer {
  const h = createHmac('sha256', key);
  for (const d of data) h.update(d);
  return h.digest();
}

export function sha256(...data: (Buffer | string)[]): Buffer {
  const h = createHash('sha256');
  for (const d of data) h.update(d);
  return h.digest();
}

/**
 * Hi() of RFC 5802, i.e. PBKDF2-HMAC-SHA-256 with one output block. PG always computes the first
 * block and then loops from 2 to `iterations`, so a count below 1 behaves like 1.
 * `password` must already be prepared (scramPreparePassword).
 */
export function scramSaltedPassword(password: Buffer, salt: Buffer, iterations: number): Buffer {
  return pbkdf2Sync(password, salt, Math.max(1, iterations), SCRAM_KEY_LEN, 'sha256');
}

const saltedCache = new Map<string, Buffer>();
const SALTED_CACHE_MAX = 256;

/**
 * scramSaltedPassword() remembered: the result is a pure function of (password, salt,
 * iterations), and a client that logs in again with the same password against the same
 * verifier (a retry, the next test) would otherwise pay the 4096 PBKDF2 rounds each time.
 * Keyed by a digest of the inputs, never the password itself; bounded, oldest out first.
 */
export function scramSaltedPasswordCached(password: Buffer, salt: Buffer, iterations: number): Buffer {
  const key = createHash('sha256').update(password).update('\0').update(salt).update(`\0${iterations}`).digest('base64');
  const hit = saltedCache.get(key);
  if (hit) return hit;
  const value = scramSaltedPassword(password, salt, iterations);
  if (saltedCache.size >= SALTED_CACHE_MAX) saltedCache.delete(saltedCache.keys().next().value!);
  saltedCache.set(key, value);
  return value;
}

export function scramClientKey(saltedPassword: Buffer): Buffer {
  return hmacSha256(saltedPassword, 'Client Key');
}

export function scramServerKey(saltedPassword: Buffer): Buffer {
  return hmacSha256(saltedPassword, 'Server Key');
}

export function xorBuffers(a: Buffer, b: Buffer): Buffer {
  const out = Buffer.alloc(a.length);
  for (let i = 0; i < a.length; i++) out[i] = a[i]! ^ b[i]!;
  return out;
}

/** Salt PG invents for a mock exchange: SHA-256(username bytes ‖ mock nonce), first 16 bytes. */
export function scramMockSalt(username: string | Buffer, mockNonce: Buffer): Buffer {
  return sha256(typeof username === 'string' ? stringToBytes(username) : username, mockNonce).subarray(0, SCRAM_DEFAULT_SALT_LEN);
}

/** RFC 5802 "printable": %x21-2B / %x2D-7E (printable ASCII except ','). */
export function isScramPrintable(s: Buffer): boolean {
  return s.every((c) => c >= 0x21 && c <= 0x7e && c !== 0x2c);
}
