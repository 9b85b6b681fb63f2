/**
 * pg_hba.conf tokenizer, following hba.c's tokenize_auth_file, next_field_expand, next_token and
 * (15) tokenize_inc_file or (16+) tokenize_expand_file, tokenize_include_file, open_auth_file and
 * conffiles.c's GetConfFilesInDir. Works on UTF-8 bytes because PG's limits (MAX_TOKEN) count bytes.
 *
 * 16 changed the tokenizer in ways that show in the log, all checked against 16.14, 17.10 and
 * 18.4: `include`, `include_if_exists` and `include_dir` lines; no token length limit; @file
 * errors reworded (`could not open file "%s": %m`); nesting capped at 10 levels instead of the
 * descriptor limit; and every tokenizer message carries a CONTEXT naming the line being read in
 * each open file, innermost first.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { bytesToString, stringToBytes } from '../bytes.js';
import { CONFIG_FILE_ERROR, fileAccessError, lineContext, type HbaLoadMessage } from './messages.js';
import type { AuthRegex } from './regex.js';

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
  /** 16+: set by the parser for DATABASE/USER tokens starting with `/` (regcomp_auth_token). */
  regex?: AuthRegex;
}

export interface TokenizedAuthLine {
  /** Each field is a comma list of tokens; @file references are already expanded. */
  fields: AuthToken[][];
  /** Absolute path of the file holding the line (16+: an included file's own path). */
  fileName: string;
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

/** One directory entry as GetConfFilesInDir sees it (symbolic links already followed). */
export interface AuthDirEntry {
  name: string;
  isDirectory: boolean;
  /** Set when stat() of the entry failed (e.g. a dangling symbolic link): a Node-style error. */
  statError?: unknown;
}

/**
 * Lists a directory for `include_dir` (16+). Throws a Node-style error (ENOENT, ENOTDIR,
 * EACCES, ...) when the directory cannot be opened.
 */
export type ReadDirFn = (path: string) => AuthDirEntry[];

export const defaultReadDir: ReadDirFn = (path) =>
  readdirSync(path, { withFileTypes: true }).map((d) => {
    if (!d.isSymbolicLink()) return { name: d.name, isDirectory: d.isDirectory() };
    try {
      return { name: d.name, isDirectory: statSync(`${path}/${d.name}`).isDirectory() };
    } catch (statError) {
      return { name: d.name, isDirectory: false, statError };
    }
  });

/** The most include levels PostgreSQL 16+ follows (CONF_FILE_MAX_DEPTH). */
export const CONF_FILE_MAX_DEPTH = 10;

/** A problem that stops the postmaster outright (PG raises ERROR, promoted to FATAL there). */
export class HbaFatalError extends Error {
  constructor(readonly logMessage: HbaLoadMessage) {
    super(logMessage.message);
    this.name = 'HbaFatalError';
  }
}

export interface TokenizeOptions {
  readFile?: ReadFileFn;
  /** For `include_dir` (16+). */
  readDir?: ReadDirFn;
  /** Receives every message in log order; `failsLoad` says whether it makes the load fail. */
  log?: (m: HbaLoadMessage, failsLoad: boolean) => void;
  /** 15 only: the descriptor limit that ends runaway @file nesting. */
  maxAllocatedDescs?: number;
  /** Server major version (15-18); 16+ adds include directives and the rest (see the header). Default 15. */
  serverVersion?: number;
}

interface Ctx {
  readFile: ReadFileFn;
  readDir: ReadDirFn;
  log: (m: HbaLoadMessage, failsLoad: boolean) => void;
  maxDescs: number;
  openDescs: number;
  /** 16+ rules. */
  modern: boolean;
  /** 16+: the files being read, outermost first, with the line each is at (the error context stack). */
  frames: Array<{ file: string; line: number }>;
  /**
   * 16+: errno as the last failed file operation left it. PG reports the depth limit with
   * errcode_for_file_access() without setting errno, so the SQLSTATE is whatever that was
   * (XX000 when nothing failed: observed on 16.14 and 18.4), and include_if_exists skips a
   * too-deep file only if errno still says ENOENT.
   */
  lastErrno: string | null;
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
    readDir: opts.readDir ?? defaultReadDir,
    log: opts.log ?? (() => {}),
    maxDescs: opts.maxAllocatedDescs ?? DEFAULT_MAX_ALLOCATED_DESCS,
    openDescs: 1, // the file being tokenized is itself open
    modern: (opts.serverVersion ?? 15) >= 16,
    frames: [],
    lastErrno: null,
  };
  if (ctx.modern) {
    const out: TokenizedAuthLine[] = [];
    tokenizeModern(toBytes(content), filename, ctx, 0, out);
    return out;
  }
  return tokenize(toBytes(content), filename, ctx);
}

function toBytes(content: string | Uint8Array): Uint8Array {
  return typeof content === 'string' ? stringToBytes(content) : content;
}

/** One logical line: backslash continuations joined, trailing CR/LF stripped (pg_get_line_append + pg_strip_crlf). */
function readLogicalLine(data: Uint8Array, start: number): { line: Uint8Array; next: number; continuations: number } {
  const buf: number[] = [];
  let pos = start;
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
  return { line: Uint8Array.from(buf), next: pos, continuations };
}

/** The fields of one logical line; `err.msg` is set when tokenizing failed. */
function lineFields(line: Uint8Array, filename: string, ctx: Ctx, depth: number, err: { msg?: string }): AuthToken[][] {
  const cursor = { pos: 0 };
  const fields: AuthToken[][] = [];
  while (cursor.pos < line.length && line[cursor.pos] !== NUL && err.msg === undefined) {
    const field = nextFieldExpand(filename, line, cursor, ctx, depth, err);
    if (field.length > 0) fields.push(field);
  }
  return fields;
}

/** PostgreSQL 15's tokenize_auth_file. */
function tokenize(data: Uint8Array, filename: string, ctx: Ctx): TokenizedAuthLine[] {
  const out: TokenizedAuthLine[] = [];
  let pos = 0;
  let lineNumber = 1;

  while (pos < data.length) {
    const { line, next, continuations } = readLogicalLine(data, pos);
    pos = next;
    const err: { msg?: string } = {};
    const fields = lineFields(line, filename, ctx, 0, err);
    if (fields.length > 0 || err.msg !== undefined) {
      const t: TokenizedAuthLine = { fields, fileName: filename, lineNumber, rawLine: bytesToString(line) };
      if (err.msg !== undefined) t.errMsg = err.msg;
      out.push(t);
    }
    lineNumber += continuations + 1;
  }
  return out;
}

// ---- PostgreSQL 16+

/** CONTEXT of a tokenizer message: one `line N of configuration file` per open file, innermost first. */
function frameContext(ctx: Ctx): string {
  return ctx.frames.map((f) => lineContext(f.line, f.file)).reverse().join('\n');
}

/** A 16+ tokenizer message, with the context stack and the innermost file's line. */
function modernMessage(ctx: Ctx, sqlstate: string, message: string): HbaLoadMessage {
  const m: HbaLoadMessage = { severity: 'LOG', sqlstate, message };
  const inner = ctx.frames[ctx.frames.length - 1];
  if (inner !== undefined) {
    m.context = frameContext(ctx);
    m.lineNumber = inner.line;
    m.fileName = inner.file;
  }
  return m;
}

type Opened = { ok: true; data: Uint8Array } | { ok: false; errMsg: string } | { ok: 'unreadable' };

/**
 * open_auth_file: the depth check, then the open. A directory opens fine in C and fails on the
 * first read; that is reported here as 'unreadable' for the caller to log inside the new frame.
 */
function openAuthFile(fullname: string, depth: number, ctx: Ctx): Opened {
  if (depth > CONF_FILE_MAX_DEPTH) {
    const message = `could not open file "${fullname}": maximum nesting depth exceeded`;
    const sqlstate = ctx.lastErrno === null ? 'XX000' : fileAccessError({ code: ctx.lastErrno }).sqlstate;
    ctx.log(modernMessage(ctx, sqlstate, message), true);
    return { ok: false, errMsg: message };
  }
  let content: string | Uint8Array | undefined;
  let failure: unknown;
  try {
    content = ctx.readFile(fullname);
    if (content === undefined) failure = { code: 'ENOENT' };
  } catch (e) {
    failure = e;
  }
  if (failure === undefined) return { ok: true, data: toBytes(content!) };
  const fe = fileAccessError(failure);
  if (fe.errno === 'EISDIR') return { ok: 'unreadable' };
  ctx.lastErrno = fe.errno;
  const message = `could not open file "${fullname}": ${fe.text}`;
  ctx.log(modernMessage(ctx, fe.sqlstate, message), true);
  return { ok: false, errMsg: message };
}

/**
 * tokenize_auth_file for 16+: lines are appended to `out`; include lines are replaced by the
 * lines of the files they name (or kept, with errMsg, when that failed).
 */
function tokenizeModern(data: Uint8Array | 'unreadable', filename: string, ctx: Ctx, depth: number, out: TokenizedAuthLine[]): void {
  const frame = { file: filename, line: 1 };
  ctx.frames.push(frame);
  try {
    if (data === 'unreadable') {
      // The read error ends this file; nothing is emitted and the load does not fail.
      const fe = fileAccessError({ code: 'EISDIR' });
      ctx.lastErrno = fe.errno;
      ctx.log(modernMessage(ctx, fe.sqlstate, `could not read file "${filename}": ${fe.text}`), false);
      return;
    }
    let pos = 0;
    while (pos < data.length) {
      const { line, next, continuations } = readLogicalLine(data, pos);
      pos = next;
      const err: { msg?: string } = {};
      const fields = lineFields(line, filename, ctx, depth, err);
      if (fields.length > 0 || err.msg !== undefined) {
        const included = err.msg === undefined && fields.length === 2
          ? includeDirective(fields, filename, ctx, depth, out, err)
          : false;
        if (!included) {
          const t: TokenizedAuthLine = { fields, fileName: filename, lineNumber: frame.line, rawLine: bytesToString(line) };
          if (err.msg !== undefined) t.errMsg = err.msg;
          out.push(t);
        }
      }
      frame.line += continuations + 1;
    }
  } finally {
    ctx.frames.pop();
  }
}

/**
 * A line of exactly two fields whose first token is `include`, `include_if_exists` or
 * `include_dir` (quoted or not: hba.c compares only the string). Returns true when the line was
 * fully handled; false leaves it to be emitted, with `err.msg` set if the include failed.
 */
function includeDirective(fields: AuthToken[][], filename: string, ctx: Ctx, depth: number, out: TokenizedAuthLine[], err: { msg?: string }): boolean {
  const keyword = fields[0]![0]!.string;
  const target = fields[1]![0]!.string;
  if (keyword === 'include' || keyword === 'include_if_exists') {
    const e = includeFile(filename, target, ctx, depth + 1, keyword === 'include_if_exists', out);
    if (e === undefined) return true;
    err.msg = e;
    return false;
  }
  if (keyword !== 'include_dir') return false;
  const files = confFilesInDir(target, filename, ctx);
  if (typeof files === 'string') {
    err.msg = files;
    return false;
  }
  const errors: string[] = [];
  for (const f of files) {
    const e = includeFile(filename, f, ctx, depth + 1, false, out);
    if (e !== undefined) errors.push(e);
  }
  if (errors.length === 0) return true;
  err.msg = errors.join('\n');
  return false;
}

/** tokenize_include_file: the error message when the file could not be included. */
function includeFile(outer: string, name: string, ctx: Ctx, depth: number, missingOk: boolean, out: TokenizedAuthLine[]): string | undefined {
  const fullname = absoluteConfigLocation(name, outer);
  const opened = openAuthFile(fullname, depth, ctx);
  if (opened.ok === false) {
    if (missingOk && ctx.lastErrno === 'ENOENT') {
      ctx.log(modernMessage(ctx, '00000', `skipping missing authentication file "${fullname}"`), false);
      return undefined;
    }
    return opened.errMsg;
  }
  tokenizeModern(opened.ok === true ? opened.data : 'unreadable', fullname, ctx, depth, out);
  return undefined;
}

/**
 * GetConfFilesInDir: the `*.conf` files of a directory (not hidden, not directories), sorted
 * by strcmp. Returns the error message instead when the directory cannot be used.
 */
function confFilesInDir(dirName: string, callingFile: string, ctx: Ctx): string[] | string {
  // An all-blank name would read the including file's own directory again.
  if (/^[ \t\r\n]*$/.test(dirName)) {
    ctx.log(modernMessage(ctx, '22023', `empty configuration directory name: "${dirName}"`), true);
    return 'empty configuration directory name';
  }
  const directory = absoluteConfigLocation(dirName, callingFile);
  let entries: AuthDirEntry[];
  try {
    entries = ctx.readDir(directory);
  } catch (e) {
    const fe = fileAccessError(e);
    ctx.lastErrno = fe.errno;
    ctx.log(modernMessage(ctx, fe.sqlstate, `could not open configuration directory "${directory}": ${fe.text}`), true);
    return `could not open directory "${directory}"`;
  }
  const files: string[] = [];
  for (const entry of entries) {
    const name = entry.name;
    if (encoder.encode(name).length < 6 || name.startsWith('.') || !name.endsWith('.conf')) continue;
    const file = canonicalizePath(joinPathComponents(directory, name));
    if (entry.statError !== undefined) {
      const fe = fileAccessError(entry.statError);
      ctx.lastErrno = fe.errno;
      ctx.log(modernMessage(ctx, fe.sqlstate, `could not stat file "${file}": ${fe.text}`), true);
      return `could not stat file "${file}"`;
    }
    if (!entry.isDirectory) files.push(file);
  }
  // ReadDir() zeroes errno before each readdir(), so a finished scan leaves it at 0.
  ctx.lastErrno = null;
  return files.sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
}

/** AbsoluteConfigLocation: absolute paths as written, others against the calling file's directory. */
export function absoluteConfigLocation(location: string, callingFile: string): string {
  if (location.startsWith('/')) return location;
  return canonicalizePath(joinPathComponents(parentDirectory(callingFile), location));
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
    // terminating comma that would not be stored trips the limit. 16 dropped the limit.
    if (!ctx.modern && res.bytes.length >= MAX_TOKEN - 1) {
      ctx.log({
        severity: 'LOG',
        sqlstate: CONFIG_FILE_ERROR,
        message: `authentication file token too long, skipping: "${bytesToString(Uint8Array.from(res.bytes))}"`,
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
function nextFieldExpand(filename: string, line: Uint8Array, cur: { pos: number }, ctx: Ctx, depth: number, err: { msg?: string }): AuthToken[] {
  let tokens: AuthToken[] = [];
  let t: TokenResult;
  do {
    t = nextToken(line, cur, ctx, err);
    if (!t.ok) break;
    if (!t.initialQuote && t.bytes[0] === AT && t.bytes.length > 1) {
      const name = decoder.decode(Uint8Array.from(t.bytes.slice(1)));
      tokens = ctx.modern ? tokenizeExpandFile(tokens, filename, name, ctx, depth + 1, err) : tokenizeIncFile(tokens, filename, name, ctx, err);
    } else {
      // Names stay bytes: hba.c compares them with strcmp against the client's (src/bytes.ts).
      tokens.push({ string: bytesToString(Uint8Array.from(t.bytes)), quoted: t.initialQuote });
    }
  } while (t.terminatingComma && err.msg === undefined);
  return tokens;
}

/**
 * 16+ tokenize_expand_file: every token of the @file, across all its lines and fields (include
 * lines inside it are followed too). The first line with an error makes it the caller's error.
 */
function tokenizeExpandFile(tokens: AuthToken[], outer: string, name: string, ctx: Ctx, depth: number, err: { msg?: string }): AuthToken[] {
  const fullname = absoluteConfigLocation(name, outer);
  const opened = openAuthFile(fullname, depth, ctx);
  if (opened.ok === false) {
    err.msg = opened.errMsg;
    return tokens;
  }
  const incLines: TokenizedAuthLine[] = [];
  tokenizeModern(opened.ok === true ? opened.data : 'unreadable', fullname, ctx, depth, incLines);
  for (const l of incLines) {
    if (l.errMsg !== undefined) {
      err.msg = l.errMsg;
      break;
    }
    for (const f of l.fields) tokens.push(...f.map((tk) => ({ ...tk })));
  }
  return tokens;
}

/** 15's tokenize_inc_file: every token of the @file, across all its lines and fields. */
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
