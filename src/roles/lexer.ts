/**
 * Tokenizer for the roles file: the slice of PostgreSQL's SQL lexer (scan.l) that role
 * statements need: identifiers (folded or "quoted"), '…' and E'…' strings, integers, operators,
 * and -- / nested block comments. Every token remembers its line for error reports.
 */
import { ConfigFileError } from '../errors.js';

/** NAMEDATALEN - 1: longer identifiers are truncated, as PG does. */
export const MAX_IDENTIFIER_BYTES = 63;

export type TokenKind = 'ident' | 'string' | 'int' | 'number' | 'op' | 'eof';

export interface Token {
  kind: TokenKind;
  /** ident: folded/unquoted name; string: the literal's value; int/number/op: the text. */
  value: string;
  /** The token as written, for "syntax error at or near". */
  text: string;
  line: number;
  quoted?: boolean;
}

/** A file error with PostgreSQL's extra fields; toString() gives "file:line: message". */
export class RolesFileError extends ConfigFileError {
  constructor(
    message: string,
    file: string,
    lineNumber: number,
    readonly sqlstate: string,
    hint?: string,
    readonly detail?: string,
  ) {
    super(message, file, lineNumber, hint);
    this.name = 'RolesFileError';
  }
}

export interface Notice { line: number; severity: 'NOTICE' | 'WARNING'; message: string }

/** PostgreSQL 15's RESERVED_KEYWORD list (kwlist.h): these cannot be role names unless quoted. */
export const RESERVED_KEYWORDS: ReadonlySet<string> = new Set([
  'all', 'analyse', 'analyze', 'and', 'any', 'array', 'as', 'asc', 'asymmetric', 'both', 'case', 'cast',
  'check', 'collate', 'column', 'constraint', 'create', 'current_catalog', 'current_date', 'current_role',
  'current_time', 'current_timestamp', 'current_user', 'default', 'deferrable', 'desc', 'distinct', 'do',
  'else', 'end', 'except', 'false', 'fetch', 'for', 'foreign', 'from', 'grant', 'group', 'having', 'in',
  'initially', 'intersect', 'into', 'lateral', 'leading', 'limit', 'localtime', 'localtimestamp', 'not',
  'null', 'offset', 'on', 'only', 'or', 'order', 'placing', 'primary', 'references', 'returning', 'select',
  'session_user', 'some', 'symmetric', 'table', 'then', 'to', 'trailing', 'true', 'union', 'unique', 'user',
  'using', 'variadic', 'when', 'where', 'window', 'with',
]);

const isIdentStart = (c: string) => /[A-Za-z_]/.test(c) || c.charCodeAt(0) >= 0x80;
const isIdentCont = (c: string) => /[A-Za-z_0-9$]/.test(c) || c.charCodeAt(0) >= 0x80;
const OP_CHARS = '~!@#^&|`?+-*/%<>=';
const SELF_CHARS = ',()[].;:';

/** Clip to at most 63 UTF-8 bytes without splitting a character (pg_mbcliplen). */
function clipIdentifier(s: string): string {
  let bytes = 0;
  let out = '';
  for (const ch of s) {
    const n = Buffer.byteLength(ch, 'utf8');
    if (bytes + n > MAX_IDENTIFIER_BYTES) break;
    bytes += n;
    out += ch;
  }
  return out;
}

export function tokenize(text: string, file: string, notices: Notice[]): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  let line = 1;
  const fail = (message: string, at: number, atLine: number, sqlstate = '42601'): never => {
    throw new RolesFileError(`${message} at or near "${text.slice(at)}"`, file, atLine, sqlstate);
  };
  const advance = (to: number) => {
    for (; i < to; i++) if (text[i] === '\n') line++;
  };
  const identifier = (raw: string, value: string, startLine: number, quoted: boolean) => {
    if (Buffer.byteLength(value, 'utf8') > MAX_IDENTIFIER_BYTES) {
      const clipped = clipIdentifier(value);
      notices.push({ line: startLine, severity: 'NOTICE', message: `identifier "${value}" will be truncated to "${clipped}"` });
      value = clipped;
    }
    tokens.push({ kind: 'ident', value, text: raw, line: startLine, quoted });
  };

  while (i < text.length) {
    const c = text[i]!;
    const startLine = line;
    const start = i;
    // scan.l's whitespace is ASCII only; other spaces are identifier characters.
    if (/[ \t\n\r\f\v]/.test(c)) { advance(i + 1); continue; }
    if (text.startsWith('--', i)) {
      const nl = text.indexOf('\n', i);
      advance(nl === -1 ? text.length : nl);
      continue;
    }
    if (text.startsWith('/*', i)) {
      // Block comments nest in PostgreSQL.
      let depth = 0;
      let j = i;
      while (j < text.length) {
        if (text.startsWith('/*', j)) { depth++; j += 2; } else if (text.startsWith('*/', j)) {
          depth--; j += 2;
          if (depth === 0) break;
        } else j++;
      }
      if (depth !== 0) fail('unterminated /* comment', start, startLine);
      advance(j);
      continue;
    }
    if ((c === 'E' || c === 'e') && text[i + 1] === "'") {
      const { value, end, invalidBytes } = scanEscapeString(text, i + 2, () => fail('unterminated quoted string', start, startLine));
      if (invalidBytes !== undefined) {
        throw new RolesFileError(`invalid byte sequence for encoding "UTF8": ${invalidBytes}`, file, startLine, '22021');
      }
      advance(end);
      tokens.push({ kind: 'string', value, text: text.slice(start, end), line: startLine });
      continue;
    }
    if (c === "'") {
      let j = i + 1;
      let value = '';
      for (;;) {
        if (j >= text.length) fail('unterminated quoted string', start, startLine);
        if (text[j] === "'") {
          if (text[j + 1] === "'") { value += "'"; j += 2; continue; }
          j++;
          // 'a'<newline>'b' is one literal in SQL: segments separated by whitespace holding a newline.
          const cont = /^[ \t\r\f\v]*\n[ \t\n\r\f\v]*'/.exec(text.slice(j));
          if (cont) { j += cont[0].length; continue; }
          break;
        }
        value += text[j];
        j++;
      }
      advance(j);
      tokens.push({ kind: 'string', value, text: text.slice(start, j), line: startLine });
      continue;
    }
    if (c === '"') {
      let j = i + 1;
      let value = '';
      for (;;) {
        if (j >= text.length) fail('unterminated quoted identifier', start, startLine);
        if (text[j] === '"') {
          if (text[j + 1] === '"') { value += '"'; j += 2; continue; }
          j++;
          break;
        }
        value += text[j];
        j++;
      }
      if (value === '') {
        throw new RolesFileError('zero-length delimited identifier at or near """"', file, startLine, '42601');
      }
      advance(j);
      identifier(text.slice(start, j), value, startLine, true);
      continue;
    }
    if (isIdentStart(c)) {
      let j = i + 1;
      while (j < text.length && isIdentCont(text[j]!)) j++;
      const raw = text.slice(i, j);
      advance(j);
      // PG folds only ASCII letters when the encoding is multibyte (UTF-8).
      identifier(raw, raw.replace(/[A-Z]/g, (m) => m.toLowerCase()), startLine, false);
      continue;
    }
    if (/[0-9]/.test(c) || (c === '.' && /[0-9]/.test(text[i + 1] ?? ''))) {
      const m = /^(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?/.exec(text.slice(i))!;
      const raw = m[0];
      advance(i + raw.length);
      // Integers beyond int4 become numeric constants, which Iconst positions reject.
      const isInt = /^[0-9]+$/.test(raw) && Number(raw) <= 2147483647;
      tokens.push({ kind: isInt ? 'int' : 'number', value: raw, text: raw, line: startLine });
      continue;
    }
    if (SELF_CHARS.includes(c)) {
      advance(i + 1);
      tokens.push({ kind: 'op', value: c, text: c, line: startLine });
      continue;
    }
    if (OP_CHARS.includes(c)) {
      let j = i + 1;
      while (j < text.length && OP_CHARS.includes(text[j]!) && !text.startsWith('--', j) && !text.startsWith('/*', j)) j++;
      const raw = text.slice(i, j);
      advance(j);
      tokens.push({ kind: 'op', value: raw, text: raw, line: startLine });
      continue;
    }
    // Anything else is a lone character the grammar cannot use.
    advance(i + 1);
    tokens.push({ kind: 'op', value: c, text: c, line: startLine });
  }
  tokens.push({ kind: 'eof', value: '', text: '', line });
  return tokens;
}

/** E'…' with C-style backslash escapes (\n, \t, \xHH, \ooo, \uXXXX, \UXXXXXXXX, \\, \'). */
function scanEscapeString(
  text: string, from: number, onUnterminated: () => never,
): { value: string; end: number; invalidBytes?: string } {
  const bytes: number[] = [];
  const pushStr = (s: string) => { for (const b of Buffer.from(s, 'utf8')) bytes.push(b); };
  let j = from;
  for (;;) {
    if (j >= text.length) onUnterminated();
    const c = text[j]!;
    if (c === "'") {
      if (text[j + 1] === "'") { bytes.push(0x27); j += 2; continue; }
      j++;
      break;
    }
    if (c === '\\' && j + 1 < text.length) {
      const n = text[j + 1]!;
      const simple: Record<string, number> = { b: 8, f: 12, n: 10, r: 13, t: 9 };
      if (n in simple) { bytes.push(simple[n]!); j += 2; continue; }
      let m: RegExpExecArray | null;
      if ((m = /^x([0-9A-Fa-f]{1,2})/.exec(text.slice(j + 1)))) { bytes.push(parseInt(m[1]!, 16)); j += 1 + m[0].length; continue; }
      if ((m = /^[0-7]{1,3}/.exec(text.slice(j + 1)))) { bytes.push(parseInt(m[0], 8) & 0xff); j += 1 + m[0].length; continue; }
      if ((m = /^u([0-9A-Fa-f]{4})/.exec(text.slice(j + 1))) || (m = /^U([0-9A-Fa-f]{8})/.exec(text.slice(j + 1)))) {
        pushStr(String.fromCodePoint(parseInt(m[1]!, 16)));
        j += 1 + m[0].length;
        continue;
      }
      pushStr(n);
      j += 2;
      continue;
    }
    pushStr(c);
    j++;
  }
  const bad = firstInvalidUtf8(bytes);
  if (bad !== null) return { value: '', end: j, invalidBytes: bad };
  return { value: Buffer.from(bytes).toString('utf8'), end: j };
}

/** Escapes can build any byte sequence; a UTF-8 database refuses invalid ones (and NUL) like PG's report_invalid_encoding. */
function firstInvalidUtf8(bytes: number[]): string | null {
  const show = (at: number, len: number) =>
    bytes.slice(at, Math.min(bytes.length, at + len)).map((b) => `0x${b.toString(16).padStart(2, '0')}`).join(' ');
  for (let i = 0; i < bytes.length;) {
    const b = bytes[i]!;
    const len = b < 0x80 ? 1 : (b & 0xe0) === 0xc0 ? 2 : (b & 0xf0) === 0xe0 ? 3 : (b & 0xf8) === 0xf0 ? 4 : 1;
    if (b === 0) return show(i, 1);
    try {
      new TextDecoder('utf-8', { fatal: true }).decode(Uint8Array.from(bytes.slice(i, i + len)));
    } catch {
      return show(i, len);
    }
    if (i + len > bytes.length) return show(i, len);
    i += len;
  }
  return null;
}
