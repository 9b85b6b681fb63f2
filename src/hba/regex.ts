/**
 * PostgreSQL 16+ `/regex` tokens in pg_hba.conf DATABASE and USER fields.
 *
 * hba.c compiles the text after the slash with pg_regcomp(REG_ADVANCED, C collation): an ARE,
 * not anchored unless `^`/`$` are written. The postmaster compiles it while its encoding is
 * still SQL_ASCII, so pattern and names are seen as BYTES: `.` matches one byte of a UTF-8
 * name (checked live: role "é1" matched `/^..1$`, not `/^.1$`), and the character classes
 * only know ASCII.
 *
 * This module parses the ARE syntax itself, reports errors with pg_regerror()'s texts in the
 * order PG's lexer meets them, and emits an equivalent JavaScript RegExp over "byte strings"
 * (one char per byte, 0-255). Only whether a name matches matters here, so greediness (which
 * only changes the extent of a match) is not modelled.
 *
 * Limits (documented, checked by the spec): the `b` (BRE) and `e` (ERE) embedded options are
 * not translated and throw AuthRegexUnsupportedError; with `(?i)` AND back-references the JS
 * `i` flag is used, which also folds Latin-1 letters (bytes 0xC0-0xFE) that PG treats as
 * caseless; REG_ETOOBIG/out-of-memory limits of PG's engine are not reproduced.
 */
import { stringToBytes } from '../bytes.js';

/** pg_regerror() texts (regex/regerrs.h) for the errors an ARE compile can raise. */
export const REGEX_ERRORS = {
  BADPAT: 'invalid regexp (reg version 0.8)',
  ECOLLATE: 'invalid collating element',
  ECTYPE: 'invalid character class',
  EESCAPE: 'invalid escape \\ sequence',
  ESUBREG: 'invalid backreference number',
  EBRACK: 'brackets [] not balanced',
  EPAREN: 'parentheses () not balanced',
  EBRACE: 'braces {} not balanced',
  BADBR: 'invalid repetition count(s)',
  ERANGE: 'invalid character range',
  BADRPT: 'quantifier operand invalid',
  BADOPT: 'invalid embedded option',
} as const;

export type RegexErrorCode = keyof typeof REGEX_ERRORS;

/** A pattern PG accepts but pg-authsim cannot translate faithfully (BRE/ERE switches). */
export class AuthRegexUnsupportedError extends Error {
  constructor(readonly pattern: string, reason: string) {
    super(`pg-authsim cannot simulate the regular expression "${pattern}": ${reason}`);
    this.name = 'AuthRegexUnsupportedError';
  }
}

export interface AuthRegex {
  /** The pattern as written after the slash. */
  readonly pattern: string;
  /** The JavaScript translation (over byte strings). */
  readonly jsSource: string;
  readonly jsFlags: string;
  /** regexec_auth_token() == REG_OKAY: does the pattern match anywhere in this name? */
  test(name: string): boolean;
}

export type AuthRegexResult = { ok: true; regex: AuthRegex } | { ok: false; code: RegexErrorCode; error: string };

class RegexError extends Error {
  constructor(readonly code: RegexErrorCode) {
    super(REGEX_ERRORS[code]);
  }
}

/** A name's bytes (src/bytes.ts) as PG's SQL_ASCII pg_wchar sequence: one char per byte. */
export function toByteString(s: string): string {
  return stringToBytes(s).toString('latin1');
}

/** Compile the text after `/` as pg_regcomp(REG_ADVANCED) would. */
export function compileAuthRegex(pattern: string): AuthRegexResult {
  let out: { source: string; flags: string };
  try {
    out = new AreTranslator(toByteString(pattern), pattern).translate();
  } catch (e) {
    if (e instanceof RegexError) return { ok: false, code: e.code, error: e.message };
    throw e;
  }
  const re = new RegExp(out.source, out.flags);
  return {
    ok: true,
    regex: { pattern, jsSource: out.source, jsFlags: out.flags, test: (name) => re.test(toByteString(name)) },
  };
}

// ---- character sets over bytes

type ByteSet = boolean[];

const emptySet = (): ByteSet => new Array<boolean>(256).fill(false);
const rangeSet = (set: ByteSet, lo: number, hi: number): void => {
  for (let c = lo; c <= hi; c++) set[c] = true;
};

const isDigit = (c: number): boolean => c >= 0x30 && c <= 0x39;
const isUpper = (c: number): boolean => c >= 0x41 && c <= 0x5a;
const isLower = (c: number): boolean => c >= 0x61 && c <= 0x7a;
const isAlpha = (c: number): boolean => isUpper(c) || isLower(c);
const isAlnum = (c: number): boolean => isAlpha(c) || isDigit(c);
const isHex = (c: number): boolean => isDigit(c) || (c >= 0x41 && c <= 0x46) || (c >= 0x61 && c <= 0x66);
const isSpace = (c: number): boolean => c === 0x20 || (c >= 0x09 && c <= 0x0d);

/** POSIX classes under the C collation: only ASCII bytes belong to any of them. */
const CLASS_TESTS: Record<string, (c: number) => boolean> = {
  alnum: isAlnum,
  alpha: isAlpha,
  blank: (c) => c === 0x20 || c === 0x09,
  cntrl: (c) => c < 0x20 || c === 0x7f,
  digit: isDigit,
  graph: (c) => c > 0x20 && c < 0x7f,
  lower: isLower,
  print: (c) => c >= 0x20 && c < 0x7f,
  punct: (c) => c > 0x20 && c < 0x7f && !isAlnum(c),
  space: isSpace,
  upper: isUpper,
  xdigit: isHex,
  word: (c) => isAlnum(c) || c === 0x5f,
};

function classSet(name: string, icase: boolean): ByteSet {
  // Under REG_ICASE, [:lower:] and [:upper:] both mean [:alpha:].
  const test = icase && (name === 'lower' || name === 'upper') ? isAlpha : CLASS_TESTS[name]!;
  const s = emptySet();
  for (let c = 0; c < 128; c++) if (test(c)) s[c] = true;
  return s;
}

/**
 * POSIX names for collating elements (`[[.space.]]`), the portable character set's names
 * plus the control-character abbreviations, as the POSIX locale defines them.
 */
const COLLATING_NAMES: Record<string, number> = (() => {
  const t: Record<string, number> = {};
  const controls = ['NUL', 'SOH', 'STX', 'ETX', 'EOT', 'ENQ', 'ACK', 'BEL', 'BS', 'HT', 'LF', 'VT', 'FF', 'CR', 'SO', 'SI',
    'DLE', 'DC1', 'DC2', 'DC3', 'DC4', 'NAK', 'SYN', 'ETB', 'CAN', 'EM', 'SUB', 'ESC', 'IS4', 'IS3', 'IS2', 'IS1'];
  controls.forEach((n, i) => { t[n] = i; });
  Object.assign(t, {
    alert: 7, backspace: 8, tab: 9, newline: 10, 'vertical-tab': 11, 'form-feed': 12, 'carriage-return': 13,
    FS: 28, GS: 29, RS: 30, US: 31, space: 32, 'exclamation-mark': 33, 'quotation-mark': 34, 'number-sign': 35,
    'dollar-sign': 36, 'percent-sign': 37, ampersand: 38, apostrophe: 39, 'left-parenthesis': 40,
    'right-parenthesis': 41, asterisk: 42, 'plus-sign': 43, comma: 44, hyphen: 45, 'hyphen-minus': 45, period: 46,
    'full-stop': 46, slash: 47, solidus: 47, zero: 48, one: 49, two: 50, three: 51, four: 52, five: 53, six: 54,
    seven: 55, eight: 56, nine: 57, colon: 58, semicolon: 59, 'less-than-sign': 60, 'equals-sign': 61,
    'greater-than-sign': 62, 'question-mark': 63, 'commercial-at': 64, 'left-square-bracket': 91, backslash: 92,
    'reverse-solidus': 92, 'right-square-bracket': 93, circumflex: 94, 'circumflex-accent': 94, underscore: 95,
    'low-line': 95, 'grave-accent': 96, 'left-brace': 123, 'left-curly-bracket': 123, 'vertical-line': 124,
    'right-brace': 125, 'right-curly-bracket': 125, tilde: 126, DEL: 127,
  });
  return t;
})();

const WORD = '[A-Za-z0-9_]';
const START = '(?<![\\s\\S])';
const END = '(?![\\s\\S])';

function hex2(c: number): string {
  return `\\x${c.toString(16).padStart(2, '0')}`;
}

function emitSet(set: ByteSet): string {
  const parts: string[] = [];
  let count = 0;
  for (let c = 0; c < 256; c++) {
    if (!set[c]) continue;
    let e = c;
    while (e + 1 < 256 && set[e + 1]) e++;
    count += e - c + 1;
    parts.push(e === c ? hex2(c) : e === c + 1 ? hex2(c) + hex2(e) : `${hex2(c)}-${hex2(e)}`);
    c = e;
  }
  if (count === 256) return '[\\s\\S]';
  return `[${parts.join('')}]`; // `[]` never matches, which is right for an empty set
}

interface Flags {
  icase: boolean;
  /** `.` and `[^...]` do not match newline (n, m, p). */
  nlStop: boolean;
  /** `^` and `$` also match at newlines (n, m, w). */
  nlAnchor: boolean;
  expanded: boolean;
}

/** One parsed atom: its JS text and whether a quantifier may follow it. */
interface Atom {
  js: string;
  quantifiable: boolean;
}

class AreTranslator {
  private pos = 0;
  private flags: Flags = { icase: false, nlStop: false, nlAnchor: false, expanded: false };
  /** Capturing groups opened so far (the lexer's nsubexp). */
  private opened = 0;
  /** Groups whose closing paren has been parsed (subs[n] != NULL). */
  private closed = new Set<number>();
  private usesBackref = false;

  constructor(private readonly p: string, private readonly original: string) {}

  private at(i = this.pos): number {
    return i < this.p.length ? this.p.charCodeAt(i) : -1;
  }

  private eos(): boolean {
    return this.pos >= this.p.length;
  }

  translate(): { source: string; flags: string } {
    // Directors: ***= (literal), ***: (ARE), anything else after *** is an error.
    if (this.p.startsWith('***')) {
      const d = this.at(3);
      if (d === 0x3f) throw new RegexError('BADPAT');
      if (d === 0x3d) return { source: this.literal(this.p.slice(4)), flags: '' };
      if (d !== 0x3a) throw new RegexError('BADRPT');
      this.pos = 4;
    }
    // One leading group of embedded options.
    if (this.at() === 0x28 && this.at(this.pos + 1) === 0x3f && isAlpha(this.at(this.pos + 2))) {
      this.pos += 2;
      let quoteRest = false;
      for (;;) {
        const c = this.at();
        if (c === 0x29) {
          this.pos++;
          break;
        }
        if (c === -1) throw new RegexError('BADOPT');
        this.pos++;
        switch (String.fromCharCode(c)) {
          case 'c': this.flags.icase = false; break;
          case 'i': this.flags.icase = true; break;
          case 'm': case 'n': this.flags.nlStop = true; this.flags.nlAnchor = true; break;
          case 'p': this.flags.nlStop = true; this.flags.nlAnchor = false; break;
          case 'w': this.flags.nlStop = false; this.flags.nlAnchor = true; break;
          case 's': this.flags.nlStop = false; this.flags.nlAnchor = false; break;
          case 't': this.flags.expanded = false; break;
          case 'x': this.flags.expanded = true; break;
          case 'q': quoteRest = true; break;
          case 'b': case 'e':
            throw new AuthRegexUnsupportedError(this.original, `embedded option "${String.fromCharCode(c)}" (BRE/ERE syntax) is not translated`);
          default: throw new RegexError('BADOPT');
        }
      }
      if (quoteRest) return { source: this.literal(this.p.slice(this.pos)), flags: '' };
    }
    const source = this.parseAlternation(0, false);
    return { source, flags: this.flags.icase && this.usesBackref ? 'i' : '' };
  }

  /** The rest of the pattern as literal bytes. */
  private literal(s: string): string {
    let out = '';
    for (let i = 0; i < s.length; i++) out += this.char(s.charCodeAt(i));
    return out;
  }

  private char(c: number): string {
    if (this.flags.icase && isAlpha(c)) return `[${String.fromCharCode(c | 0x20)}${String.fromCharCode(c & ~0x20)}]`;
    return isAlnum(c) ? String.fromCharCode(c) : hex2(c);
  }

  /** Expanded syntax: blanks and #-comments between tokens are ignored; so are (?#...) comments. */
  private skip(): void {
    for (;;) {
      if (this.flags.expanded) {
        while (isSpace(this.at())) this.pos++;
        if (this.at() === 0x23) {
          while (!this.eos() && this.at() !== 0x0a) this.pos++;
          continue;
        }
      }
      if (this.at() === 0x28 && this.at(this.pos + 1) === 0x3f && this.at(this.pos + 2) === 0x23) {
        const close = this.p.indexOf(')', this.pos + 3);
        this.pos = close === -1 ? this.p.length : close + 1; // an unclosed comment runs to the end
        continue;
      }
      return;
    }
  }

  private parseAlternation(depth: number, inLacon: boolean): string {
    const branches: string[] = [this.parseBranch(depth, inLacon)];
    while (this.at() === 0x7c) {
      this.pos++;
      branches.push(this.parseBranch(depth, inLacon));
    }
    return branches.join('|');
  }

  private parseBranch(depth: number, inLacon: boolean): string {
    let out = '';
    for (;;) {
      this.skip();
      const c = this.at();
      if (c === -1 || c === 0x7c) return out;
      if (c === 0x29) {
        if (depth === 0) throw new RegexError('EPAREN');
        return out;
      }
      const atom = this.parseAtom(depth, inLacon);
      out += atom.js;
      this.skip();
      const q = this.quantifier();
      if (q === null) continue;
      if (!atom.quantifiable) throw new RegexError('BADRPT');
      out += q;
      this.skip();
      if (this.startsQuantifier()) throw new RegexError('BADRPT');
    }
  }

  private startsQuantifier(): boolean {
    const c = this.at();
    return c === 0x2a || c === 0x2b || c === 0x3f || (c === 0x7b && isDigit(this.at(this.pos + 1)));
  }

  /** `*`, `+`, `?` or a bound, each optionally non-greedy; null when none follows. */
  private quantifier(): string | null {
    const c = this.at();
    let q: string;
    if (c === 0x2a || c === 0x2b || c === 0x3f) {
      this.pos++;
      q = String.fromCharCode(c);
    } else if (c === 0x7b && isDigit(this.at(this.pos + 1))) {
      this.pos++;
      const m = this.boundNumber();
      let n: number | null = m;
      let text = `{${m}}`;
      if (this.at() === 0x2c) {
        this.pos++;
        n = isDigit(this.at()) ? this.boundNumber() : null;
        if (n !== null && m > n) throw new RegexError('BADBR');
        text = n === null ? `{${m},}` : `{${m},${n}}`;
      }
      if (this.eos()) throw new RegexError('EBRACE');
      if (this.at() !== 0x7d) throw new RegexError('BADBR');
      this.pos++;
      q = text;
    } else {
      return null;
    }
    if (this.at() === 0x3f) {
      this.pos++;
      q += '?';
    }
    return q;
  }

  /** scannum(): at most DUPMAX (255). */
  private boundNumber(): number {
    let n = 0;
    while (isDigit(this.at()) && n <= 255) {
      n = n * 10 + (this.at() - 0x30);
      this.pos++;
    }
    if (isDigit(this.at()) || n > 255) throw new RegexError('BADBR');
    return n;
  }

  private parseAtom(depth: number, inLacon: boolean): Atom {
    const c = this.at();
    switch (c) {
      case 0x28: return this.parseGroup(depth, inLacon);
      case 0x5e:
        this.pos++;
        return { js: this.flags.nlAnchor ? '(?<![^\\n])' : START, quantifiable: false };
      case 0x24:
        this.pos++;
        return { js: this.flags.nlAnchor ? '(?![^\\n])' : END, quantifiable: false };
      case 0x2e:
        this.pos++;
        return { js: this.flags.nlStop ? '[^\\n]' : '[\\s\\S]', quantifiable: true };
      case 0x5b:
        // [[:<:]] and [[:>:]] are the word-boundary constraints \m and \M.
        if (this.p.startsWith('[[:<:]]', this.pos)) {
          this.pos += 7;
          return { js: `(?<!${WORD})(?=${WORD})`, quantifiable: false };
        }
        if (this.p.startsWith('[[:>:]]', this.pos)) {
          this.pos += 7;
          return { js: `(?<=${WORD})(?!${WORD})`, quantifiable: false };
        }
        return { js: emitSet(this.parseBracket()), quantifiable: true };
      case 0x5c: return this.parseEscape(inLacon);
      case 0x2a: case 0x2b: case 0x3f:
        throw new RegexError('BADRPT');
      case 0x7b:
        if (isDigit(this.at(this.pos + 1))) throw new RegexError('BADRPT');
        break;
      default:
        break;
    }
    this.pos++;
    return { js: this.char(c), quantifiable: true };
  }

  private parseGroup(depth: number, inLacon: boolean): Atom {
    this.pos++; // (
    let open = '(';
    let lacon = false;
    let capture = false;
    if (this.at() === 0x3f) {
      this.pos++;
      const k = this.at();
      if (k === 0x3a) open = '(?:';
      else if (k === 0x3d || k === 0x21) {
        open = k === 0x3d ? '(?=' : '(?!';
        lacon = true;
      } else if (k === 0x3c && (this.at(this.pos + 1) === 0x3d || this.at(this.pos + 1) === 0x21)) {
        this.pos++;
        open = this.at() === 0x3d ? '(?<=' : '(?<!';
        lacon = true;
      } else {
        throw new RegexError('BADRPT');
      }
      this.pos++;
    } else if (inLacon) {
      // All parentheses inside a lookaround constraint are non-capturing.
      open = '(?:';
    } else {
      capture = true;
    }
    const number = capture ? ++this.opened : 0;
    const inner = this.parseAlternation(depth + 1, inLacon || lacon);
    if (this.at() !== 0x29) throw new RegexError('EPAREN');
    this.pos++;
    if (capture) this.closed.add(number);
    return { js: `${open}${inner})`, quantifiable: !lacon };
  }

  /** A backslash outside brackets. */
  private parseEscape(inLacon: boolean): Atom {
    this.pos++;
    if (this.eos()) throw new RegexError('EESCAPE');
    const c = this.at();
    if (!isAlnum(c)) {
      this.pos++;
      return { js: this.char(c), quantifiable: true };
    }
    switch (String.fromCharCode(c)) {
      case 'd': case 's': case 'w': case 'D': case 'S': case 'W':
        this.pos++;
        return { js: emitSet(this.classEscape(c)), quantifiable: true };
      case 'A': this.pos++; return { js: START, quantifiable: false };
      case 'Z': this.pos++; return { js: END, quantifiable: false };
      case 'm': this.pos++; return { js: `(?<!${WORD})(?=${WORD})`, quantifiable: false };
      case 'M': this.pos++; return { js: `(?<=${WORD})(?!${WORD})`, quantifiable: false };
      case 'y': this.pos++; return { js: '\\b', quantifiable: false };
      case 'Y': this.pos++; return { js: '\\B', quantifiable: false };
      default:
        break;
    }
    if (c >= 0x31 && c <= 0x39) {
      // One digit is always a back-reference; more digits only when in range, else octal.
      const start = this.pos;
      let n = 0;
      while (isDigit(this.at()) && this.pos - start < 255) {
        n = n * 10 + (this.at() - 0x30);
        this.pos++;
      }
      if (this.pos - start === 1 || (n > 0 && n <= this.opened)) {
        if (inLacon || !this.closed.has(n)) throw new RegexError('ESUBREG');
        this.usesBackref = true;
        return { js: `(?:\\${n})`, quantifiable: true };
      }
      this.pos = start;
      return { js: this.octalAtom(), quantifiable: true };
    }
    return { js: this.valueAtom(this.entryEscape()), quantifiable: true };
  }

  /** A character value from an escape; values beyond one byte can never match a byte string. */
  private valueAtom(v: number): string {
    return v > 0xff ? '[]' : this.char(v);
  }

  private octalAtom(): string {
    return this.valueAtom(this.octal());
  }

  /** Octal digits (1-3) from the current position; one digit is given back if the value exceeds 0xff. */
  private octal(): number {
    const start = this.pos;
    let v = 0;
    while (this.pos - start < 3 && this.at() >= 0x30 && this.at() <= 0x37) {
      v = v * 8 + (this.at() - 0x30);
      this.pos++;
    }
    if (this.pos === start) throw new RegexError('EESCAPE');
    if (v > 0xff) {
      this.pos--;
      v >>= 3;
    }
    return v;
  }

  private hexDigits(min: number, max: number): number {
    const start = this.pos;
    let v = 0;
    while (this.pos - start < max && isHex(this.at())) {
      // chr is 32-bit unsigned while digits are read: \x100000000 wraps to NUL (observed on 16).
      v = (v * 16 + parseInt(String.fromCharCode(this.at()), 16)) >>> 0;
      this.pos++;
    }
    if (this.pos - start < min) throw new RegexError('EESCAPE');
    return v;
  }

  /** Character-entry escapes (the alphanumeric ones that stand for one character). Position is at the letter. */
  private entryEscape(): number {
    const c = this.at();
    this.pos++;
    let v: number;
    switch (String.fromCharCode(c)) {
      case 'a': return 0x07;
      case 'b': return 0x08;
      case 'B': return 0x5c;
      case 'e': return 0x1b;
      case 'f': return 0x0c;
      case 'n': return 0x0a;
      case 'r': return 0x0d;
      case 't': return 0x09;
      case 'v': return 0x0b;
      case 'c':
        if (this.eos()) throw new RegexError('EESCAPE');
        v = this.at() & 0x1f;
        this.pos++;
        return v;
      case 'u': v = this.hexDigits(4, 4); break;
      case 'U': v = this.hexDigits(8, 8); break;
      case 'x': v = this.hexDigits(1, 255); break;
      case '0':
        this.pos--;
        return this.octal();
      default:
        throw new RegexError('EESCAPE');
    }
    // CHR_MAX: PG's chr is a signed 32-bit code (checked: \x7ffffffe compiles, \x7fffffff does not).
    if (v > 0x7ffffffe) throw new RegexError('EESCAPE');
    return v;
  }

  private classEscape(c: number): ByteSet {
    const base = String.fromCharCode(c).toLowerCase();
    const s = classSet(base === 'd' ? 'digit' : base === 's' ? 'space' : 'word', false);
    if (isUpper(c)) {
      // Unlike [^...], \D \S \W match a newline even when newline-sensitive (observed on 16 and 18).
      return s.map((v) => !v);
    }
    return s;
  }

  /** A bracket expression, as a set of bytes. Position is at `[`. */
  private parseBracket(): ByteSet {
    this.pos++;
    let negate = false;
    if (this.at() === 0x5e) {
      negate = true;
      this.pos++;
    }
    const set = emptySet();
    let first = true;
    for (;;) {
      if (this.eos()) throw new RegexError('EBRACK');
      const c = this.at();
      if (c === 0x5d && !first) {
        this.pos++;
        break;
      }
      first = false;
      const start = this.bracketElement();
      if (start.kind === 'set') {
        if (this.at() === 0x2d && this.at(this.pos + 1) !== 0x5d && this.at(this.pos + 1) !== -1) throw new RegexError('ERANGE');
        start.set.forEach((v, i) => { if (v) set[i] = true; });
        continue;
      }
      if (this.at() === 0x2d && this.at(this.pos + 1) !== 0x5d && this.at(this.pos + 1) !== -1) {
        this.pos++;
        const end = this.bracketElement();
        if (end.kind === 'set') throw new RegexError('ERANGE');
        if (end.value < start.value) throw new RegexError('ERANGE');
        if (start.value <= 0xff) rangeSet(set, start.value, Math.min(end.value, 0xff));
        continue;
      }
      if (start.value <= 0xff) set[start.value] = true;
    }
    if (this.flags.icase) {
      for (let ch = 0x41; ch <= 0x5a; ch++) {
        if (set[ch] || set[ch | 0x20]) set[ch] = set[ch | 0x20] = true;
      }
    }
    if (!negate) return set;
    const neg = emptySet();
    for (let i = 0; i < 256; i++) neg[i] = !set[i] && !(this.flags.nlStop && i === 0x0a);
    return neg;
  }

  private bracketElement(): { kind: 'char'; value: number } | { kind: 'set'; set: ByteSet } {
    const c = this.at();
    if (c === 0x5b) {
      const k = this.at(this.pos + 1);
      if (k === 0x3a || k === 0x2e || k === 0x3d) {
        const close = this.p.indexOf(`${String.fromCharCode(k)}]`, this.pos + 2);
        if (close === -1) throw new RegexError('EBRACK');
        const name = this.p.slice(this.pos + 2, close);
        this.pos = close + 2;
        if (k === 0x3a) {
          if (!(name in CLASS_TESTS)) throw new RegexError('ECTYPE');
          return { kind: 'set', set: classSet(name, this.flags.icase) };
        }
        // [.x.] and [=x=]: one character or a POSIX character name (C collation: no multi-char elements).
        if (name.length === 1) return { kind: 'char', value: name.charCodeAt(0) };
        const named = COLLATING_NAMES[name];
        if (named === undefined) throw new RegexError('ECOLLATE');
        return { kind: 'char', value: named };
      }
    }
    if (c === 0x5c) {
      this.pos++;
      if (this.eos()) throw new RegexError('EESCAPE');
      const e = this.at();
      if (!isAlnum(e)) {
        this.pos++;
        return { kind: 'char', value: e };
      }
      if ('dswDSW'.includes(String.fromCharCode(e))) {
        this.pos++;
        return { kind: 'set', set: this.classEscape(e) };
      }
      // Back-references and constraint escapes make no sense inside brackets.
      return { kind: 'char', value: this.entryEscape() };
    }
    this.pos++;
    return { kind: 'char', value: c };
  }
}
