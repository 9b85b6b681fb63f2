/**
 * pg_hba.conf tokenizer, following PostgreSQL 15's hba.c (tokenize_auth_file, next_field_expand,
 * next_token, tokenize_inc_file). Works on UTF-8 bytes because PG's limits (MAX_TOKEN) count bytes.
 */
import { readFileSync } from 'node:fs';
import { CONFIG_FILE_ERROR, fileAccessError, type HbaLoadMessage } from './messages.js';

/** Longest token is MAX_TOKEN - 1 bytes (PG15: 10240, checked live: 10239 loads, 10240 does not). */
export const MAX_TOKEN = 10240;

/**
 * fd.c's maxAllocatedDescs on the reference machine (max_safe_fds / 3, observed as 328). Each
 * nested @file holds one open while its own @files are read, so self-inclusion ends with a FATAL.
 */
export const DEFAULT_MAX_ALLOCATED_DESCS = 328;

export interface AuthToken {
  string: string;
  /** True only if the token *began* with a double quote (`"all"`), not for `a"ll"`: hba.c's initial_quote. */
  quoted: boolean;
}

export interface TokenizedAuthLine {
  /** Each field is a comma list of tokens; @file references are already expanded. */
  fields: AuthToken[][];
  /** Number of the first physical line. */
  lineNumber: number;
  /** The logical line after backslash continuation, as PG keeps it (comments included). */
  rawLine: string;
  /** Set when tokenizing failed; the line is then skipped by the parser. */
  errMsg?: string;
}

/**
 * Reads an @file. Return the contents, or undefined for "No such file or directory".
 * May throw a Node-style error with `code` (EACCES, EISDIR, ENOTDIR, ...) for other failures.
 */
export type ReadFileFn = (path: string) => string | Uint8Array | undefined;

export const defaultReadFile: ReadFileFn = (path) => {
  try {
    return readFileSync(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
};

/** A problem that stops the postmaster outright (PG raises ERROR, promoted to FATAL there). */
export class HbaFatalError extends Error {
  constructor(readonly logMessage: HbaLoadMessage) {
    super(logMessage.message);
    this.name = 'HbaFatalError';
  }
}

export interface TokenizeOptions {
  readFile?: ReadFileFn;
  /** Receives every message in log order; `failsLoad` says whether it makes the load fail. */
  log?: (m: HbaLoadMessage, failsLoad: boolean) => void;
  maxAllocatedDescs?: number;
}

interface Ctx {
  readFile: ReadFileFn;
  log: (m: HbaLoadMessage, failsLoad: boolean) => void;
  maxDescs: number;
  openDescs: number;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder('utf-8');

const NUL = 0;
const TAB = 0x09;
const LF = 0x0a;
const CR = 0x0d;
const SPACE = 0x20;
const QUOTE = 0x22;
const HASH = 0x23;
const COMMA = 0x2c;
const AT = 0x40;
const BACKSLASH = 0x5c;

/** pg_isblank: space, tab and CR (not LF, which never survives line splitting). */
const isBlank = (c: number): boolean => c === SPACE || c === TAB || c === CR;

/**
 * Tokenize a whole auth file. `filename` should be the absolute path PG would use: relative
 * @file names are resolved against its directory.
 * Throws HbaFatalError if nested @files exhaust maxAllocatedDescs.
 */
export function tokenizeAuthFile(content: string | Uint8Array, filename: string, opts: TokenizeOptions = {}): TokenizedAuthLine[] {
  const ctx: Ctx = {
    readFile: opts.readFile ?? defaultReadFile,
    log: opts.log ?? (() => {}),
    maxDescs: opts.maxAllocatedDescs ?? DEFAULT_MAX_ALLOCATED_DESCS,
    openDescs: 1, // the file being tokenized is itself open
  };
  return tokenize(toBytes(content), filename, ctx);
}

function toBytes(content: string | Uint8Array): Uint8Array {
  return typeof content === 'string' ? encoder.encode(content) : content;
}

function tokenize(data: Uint8Array, filename: string, ctx: Ctx): TokenizedAuthLine[] {
  const out: TokenizedAuthLine[] = [];
  let pos = 0;
  let lineNumber = 1;

  while (pos < data.length) {
    // Collect one logical line, joining backslash continuations.
    let buf: number[] = [];
    let lastBackslashLen = 0;
    let continuations = 0;
    while (pos < data.length) {
      let end = data.indexOf(LF, pos);
      end = end === -1 ? data.length : end + 1;
      let physical = data.subarray(pos, end);
      pos = end;
      // fgets-based reading stops a C string at NUL; keep what precedes it.
      const nul = physical.indexOf(NUL);
      if (nul !== -1) physical = physical.subarray(0, nul);
      for (const b of physical) buf.push(b);
      // pg_strip_crlf works on the whole buffer so far, as in PG.
      while (buf.length > 0 && (buf[buf.length - 1] === LF || buf[buf.length - 1] === CR)) buf.pop();
      // The backslash must come after the previous continuation point.
      if (buf.length > lastBackslashLen && buf[buf.length - 1] === BACKSLASH) {
        buf.pop();
        lastBackslashLen = buf.length;
        continuations++;
        continue;
      }
      break;
    }

    const line = Uint8Array.from(buf);
    const cursor = { pos: 0 };
    const fields: AuthToken[][] = [];
    const err: { msg?: string } = {};
    while (cursor.pos < line.length && line[cursor.pos] !== NUL && err.msg === undefined) {
      const field = nextFieldExpand(filename, line, cursor, ctx, err);
      if (field.length > 0) fields.push(field);
    }
    if (fields.length > 0 || err.msg !== undefined) {
      const t: TokenizedAuthLine = { fields, lineNumber, rawLine: decoder.decode(line) };
      if (err.msg !== undefined) t.errMsg = err.msg;
      out.push(t);
    }
    lineNumber += continuations + 1;
  }
  return out;
}

interface TokenResult {
  ok: boolean;
  bytes: number[];
  initialQuote: boolean;
  terminatingComma: boolean;
}

/** next_token: one token, honouring quotes, `""`, comments and the MAX_TOKEN limit. */
function nextToken(line: Uint8Array, cur: { pos: number }, ctx: Ctx, err: { msg?: string }): TokenResult {
  const at = (i: number): number => (i < line.length ? line[i]! : NUL);
  const res: TokenResult = { ok: false, bytes: [], initialQuote: false, terminatingComma: false };
  let inQuote = false;
  let wasQuote = false;
  let sawQuote = false;
  let c: number;

  // Skip blanks and commas before the token.
  while ((c = at(cur.pos++)) !== NUL && (isBlank(c) || c === COMMA));

  while (c !== NUL && (!isBlank(c) || inQuote)) {
    if (c === HASH && !inQuote) {
      // Comment: swallow the rest of the line.
      while ((c = at(cur.pos++)) !== NUL);
      break;
    }
    // PG checks the length before looking at the character, so even a closing quote or a
    // terminating comma that would not be stored trips the limit.
    if (res.bytes.length >= MAX_TOKEN - 1) {
      ctx.log({
        severity: 'LOG',
        sqlstate: CONFIG_FILE_ERROR,
        message: `authentication file token too long, skipping: "${decoder.decode(Uint8Array.from(res.bytes))}"`,
      }, true);
      err.msg = 'authentication file token too long';
      cur.pos = line.length; // the rest of the line is discarded
      return { ...res, ok: false };
    }
    if (c === COMMA && !inQuote) {
      res.terminatingComma = true;
      break;
    }
    if (c !== QUOTE || wasQuote) res.bytes.push(c);
    // Inside quotes, `""` stands for one literal quote.
    wasQuote = inQuote && c === QUOTE ? !wasQuote : false;
    if (c === QUOTE) {
      inQuote = !inQuote;
      sawQuote = true;
      if (res.bytes.length === 0) res.initialQuote = true;
    }
    c = at(cur.pos++);
  }
  cur.pos--; // un-eat the character after the token
  res.ok = sawQuote || res.bytes.length > 0;
  return res;
}

/** next_field_expand: a comma list of tokens, with @file references expanded in place. */
function nextFieldExpand(filename: string, line: Uint8Array, cur: { pos: number }, ctx: Ctx, err: { msg?: string }): AuthToken[] {
  let tokens: AuthToken[] = [];
  let t: TokenResult;
  do {
    t = nextToken(line, cur, ctx, err);
    if (!t.ok) break;
    if (!t.initialQuote && t.bytes[0] === AT && t.bytes.length > 1) {
      tokens = tokenizeIncFile(tokens, filename, decoder.decode(Uint8Array.from(t.bytes.slice(1))), ctx, err);
    } else {
      tokens.push({ string: decoder.decode(Uint8Array.from(t.bytes)), quoted: t.initialQuote });
    }
  } while (t.terminatingComma && err.msg === undefined);
  return tokens;
}

/** tokenize_inc_file: every token of the @file, across all its lines and fields. */
function tokenizeIncFile(tokens: AuthToken[], outerFilename: string, incFilename: string, ctx: Ctx, err: { msg?: string }): AuthToken[] {
  const fullname = incFilename.startsWith('/')
    ? incFilename // absolute paths are used exactly as written (observed: "/abs//dir/" kept)
    : canonicalizePath(joinPathComponents(parentDirectory(outerFilename), incFilename));

  if (ctx.openDescs >= ctx.maxDescs) {
    throw new HbaFatalError({
      severity: 'FATAL',
      sqlstate: '53000',
      message: `exceeded maxAllocatedDescs (${ctx.maxDescs}) while trying to open file "${fullname}"`,
    });
  }

  let content: string | Uint8Array | undefined;
  let failure: unknown;
  try {
    content = ctx.readFile(fullname);
    if (content === undefined) failure = { code: 'ENOENT' };
  } catch (e) {
    failure = e;
  }
  if (failure !== undefined) {
    const fe = fileAccessError(failure);
    if (fe.errno === 'EISDIR') {
      // fopen() of a directory succeeds on Linux and the read fails; PG15 logs that and then
      // drops the error, so the @file just contributes no tokens.
      ctx.log({ severity: 'LOG', sqlstate: fe.sqlstate, message: `could not read file "${fullname}": ${fe.text}` }, false);
      return tokens;
    }
    const message = `could not open secondary authentication file "@${incFilename}" as "${fullname}": ${fe.text}`;
    ctx.log({ severity: 'LOG', sqlstate: fe.sqlstate, message }, true);
    err.msg = message;
    return tokens;
  }

  ctx.openDescs++;
  let incLines: TokenizedAuthLine[];
  try {
    incLines = tokenize(toBytes(content!), fullname, ctx);
  } finally {
    ctx.openDescs--;
  }
  for (const l of incLines) {
    // An error anywhere in the included file becomes the including line's error.
    if (l.errMsg !== undefined) {
      err.msg = l.errMsg;
      break;
    }
    for (const f of l.fields) tokens.push(...f.map((tk) => ({ ...tk })));
  }
  return tokens;
}

// ---- path helpers with PG's semantics (get_parent_directory, join_path_components, canonicalize_path)

/** trim_directory: drop the last component and the slashes before it, but never a leading slash. */
export function parentDirectory(path: string): string {
  if (path === '') return '';
  let p = path.length - 1;
  while (p > 0 && path[p] === '/') p--;
  while (p > 0 && path[p] !== '/') p--;
  while (p > 0 && path[p - 1] === '/') p--;
  if (p === 0 && path[0] === '/') p = 1;
  return path.slice(0, p);
}

export function joinPathComponents(head: string, tail: string): string {
  let t = tail;
  while (t.startsWith('./')) t = t.slice(2);
  if (t === '') return head;
  return head !== '' ? `${head}/${t}` : t;
}

/**
 * canonicalize_path as the installed 15.20 behaves (observed): duplicate and trailing slashes
 * go, `.` components go, `..` cancels the preceding component (never above the root).
 */
export function canonicalizePath(path: string): string {
  if (path === '') return path;
  const absolute = path.startsWith('/');
  const out: string[] = [];
  for (const part of path.split('/')) {
    if (part === '' || part === '.') continue;
    if (part === '..') {
      if (out.length > 0 && out[out.length - 1] !== '..') out.pop();
      else if (!absolute) out.push('..');
      continue;
    }
    out.push(part);
  }
  if (absolute) return `/${out.join('/')}`;
  return out.length > 0 ? out.join('/') : '.';
}
