/**
 * postgresql.conf: the lexer and parser of PostgreSQL 15's guc-file.l (ParseConfigFile,
 * ParseConfigFp, ParseConfigDirectory) and ProcessConfigFileInternal, which validates and
 * applies the parsed settings at startup or on reload (SIGHUP).
 *
 * Files are read as bytes (latin1 strings internally, as flex sees them) and values are
 * decoded as UTF-8 afterwards, so octal escapes and high-bit identifier bytes behave as in C.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { PgError, type PgErrorFields, type Severity } from '../errors.js';
import { validCustomVariableName, type GucContext, type GucRegistry } from './guc.js';

/** One `name = value` line (ConfigVariable). */
export interface ConfigVariable {
  name: string;
  value: string;
  /** Absolute path of the file that set it. */
  filename: string;
  sourceline: number;
  /** A later line sets the same parameter; this one is skipped. */
  ignore: boolean;
  applied: boolean;
  /** What went wrong with this entry, as pg_file_settings.error shows it. */
  errmsg?: string;
}

/** A report made while reading the file: an ereport at `severity` (LOG unless it ends startup). */
export interface ConfigMessage extends PgErrorFields {
  /** The configuration file and line the message is about, when there is one. */
  configFile?: string;
  configLine?: number;
}

export interface ParseResult {
  ok: boolean;
  items: ConfigVariable[];
  messages: ConfigMessage[];
}

/** CONF_FILE_MAX_DEPTH */
const MAX_DEPTH = 10;

// ---------------------------------------------------------------- lexer

/** Token codes (GUC_ID, GUC_STRING, ...), 0 for end of file. */
const Tok = {
  EOF: 0, ID: 1, STRING: 2, INTEGER: 3, REAL: 4, EQUALS: 5, UNQUOTED_STRING: 6, QUALIFIED_ID: 7, EOL: 99, ERROR: 100,
} as const;
type Tok = (typeof Tok)[keyof typeof Tok];

// Character classes from guc-file.l; high-bit bytes count as letters.
const LETTER = 'A-Za-z_\\x80-\\xff';
const LETTER_OR_DIGIT = 'A-Za-z_0-9\\x80-\\xff';
const ID = `[${LETTER}][${LETTER_OR_DIGIT}]*`;

/** Rules in flex order; flex takes the longest match and, on a tie, the earliest rule. */
const RULES: Array<{ tok: Tok | 'SKIP'; patterns: RegExp[] }> = [
  { tok: Tok.EOL, patterns: [/\n/y] },
  { tok: 'SKIP', patterns: [/[ \t\r]+/y] },
  { tok: 'SKIP', patterns: [/#[^\n]*/y] },
  { tok: Tok.ID, patterns: [new RegExp(ID, 'y')] },
  { tok: Tok.QUALIFIED_ID, patterns: [new RegExp(`${ID}\\.${ID}`, 'y')] },
  { tok: Tok.STRING, patterns: [/'(?:[^'\\\n]|\\[^\n]|'')*'/y] },
  { tok: Tok.UNQUOTED_STRING, patterns: [new RegExp(`[${LETTER}](?:[${LETTER_OR_DIGIT}]|[-._:/])*`, 'y')] },
  // INTEGER is {SIGN}?({DIGIT}+|0x{HEXDIGIT}+){UNIT_LETTER}*: both branches tried, longest kept.
  { tok: Tok.INTEGER, patterns: [/[-+]?[0-9]+[a-zA-Z]*/y, /[-+]?0x[0-9a-fA-F]+[a-zA-Z]*/y] },
  { tok: Tok.REAL, patterns: [/[-+]?[0-9]*\.[0-9]*(?:[Ee][-+]?[0-9]+)?/y] },
  { tok: Tok.EQUALS, patterns: [/=/y] },
  { tok: Tok.ERROR, patterns: [/[^\n]/y] },
];

class Lexer {
  pos = 0;
  text = '';
  lineno = 1;
  constructor(private readonly input: string) {}

  next(): Tok {
    for (;;) {
      if (this.pos >= this.input.length) { this.text = ''; return Tok.EOF; }
      let best: Tok | 'SKIP' = Tok.ERROR;
      let bestLen = 0;
      for (const rule of RULES) {
        for (const re of rule.patterns) {
          re.lastIndex = this.pos;
          const m = re.exec(this.input);
          if (m && m[0].length > bestLen) { best = rule.tok; bestLen = m[0].length; }
        }
      }
      if (bestLen === 0) { bestLen = 1; best = Tok.ERROR; } // NUL and the like
      this.text = this.input.slice(this.pos, this.pos + bestLen);
      this.pos += bestLen;
      if (best === 'SKIP') continue;
      if (best === Tok.EOL) this.lineno++;
      return best;
    }
  }
}

/** Bytes (as a latin1 string) to text. */
function decode(latin1: string): string {
  return Buffer.from(latin1, 'latin1').toString('utf8');
}

/** DeescapeQuotedString: strip the quotes, undo '' and the C-style backslash escapes. */
export function deescapeQuotedString(quoted: string): string {
  const s = quoted.slice(1, -1);
  let out = '';
  for (let i = 0; i < s.length; i++) {
    const ch = s[i]!;
    if (ch === '\\') {
      i++;
      const e = s[i] ?? '';
      switch (e) {
        case 'b': out += '\b'; break;
        case 'f': out += '\f'; break;
        case 'n': out += '\n'; break;
        case 'r': out += '\r'; break;
        case 't': out += '\t'; break;
        case '0': case '1': case '2': case '3': case '4': case '5': case '6': case '7': {
          let k = 0;
          let oct = 0;
          while (k < 3 && s[i + k] !== undefined && s[i + k]! >= '0' && s[i + k]! <= '7') {
            oct = (oct << 3) + (s.charCodeAt(i + k) - 48);
            k++;
          }
          i += k - 1;
          out += String.fromCharCode(oct & 0xff); // stored in a char
          break;
        }
        default: out += e;
      }
    } else if (ch === "'" && s[i + 1] === "'") {
      out += "'";
      i++;
    } else {
      out += ch;
    }
  }
  // The value is a C string: an escaped NUL ends it.
  const nul = out.indexOf('\0');
  return nul >= 0 ? out.slice(0, nul) : out;
}

// ---------------------------------------------------------------- file access

const STRERROR: Record<string, string> = {
  ENOENT: 'No such file or directory',
  EACCES: 'Permission denied',
  EPERM: 'Operation not permitted',
  ENOTDIR: 'Not a directory',
  EISDIR: 'Is a directory',
  ELOOP: 'Too many levels of symbolic links',
  ENAMETOOLONG: 'File name too long',
  EMFILE: 'Too many open files',
  ENFILE: 'Too many open files in system',
  EIO: 'Input/output error',
};

function strerror(e: unknown): string {
  const code = (e as NodeJS.ErrnoException)?.code;
  return (code && STRERROR[code]) || (e instanceof Error ? e.message : String(e));
}

/** errcode_for_file_access */
function fileAccessSqlstate(e: unknown): string {
  switch ((e as NodeJS.ErrnoException)?.code) {
    case 'EPERM': case 'EACCES': case 'EROFS': return '42501';
    case 'ENOENT': return '58P01';
    case 'EEXIST': return '58P02';
    case 'ENOTDIR': case 'EISDIR': case 'ENOTEMPTY': return '42809';
    case 'ENOSPC': return '53100';
    case 'ENFILE': case 'EMFILE': return '53000';
    case 'EIO': return '58030';
    default: return 'XX000';
  }
}

/** canonicalize_path, for the joined paths AbsoluteConfigLocation builds. */
function canonicalize(p: string): string {
  const n = path.posix.normalize(p);
  return n.length > 1 && n.endsWith('/') ? n.slice(0, -1) : n;
}

/** AbsoluteConfigLocation: relative names are relative to the including file's directory. */
export function absoluteConfigLocation(location: string, callingFile: string | null, dataDirectory: string): string {
  if (path.posix.isAbsolute(location)) return location;
  const base = callingFile !== null ? path.posix.dirname(callingFile) : dataDirectory;
  return canonicalize(path.posix.join(base, location));
}

// ---------------------------------------------------------------- parser

interface ParseState {
  items: ConfigVariable[];
  messages: ConfigMessage[];
  elevel: Severity;
  dataDirectory: string;
}

function report(state: ParseState, sqlstate: string, message: string, extra: Partial<ConfigMessage> = {}): void {
  state.messages.push({ severity: state.elevel, sqlstate, message, ...extra });
}

/** ParseConfigFile: open one file (or complain) and parse it. */
function parseFile(
  configFile: string, strict: boolean, callingFile: string | null, callingLine: number, depth: number, state: ParseState,
): boolean {
  if (/^[ \t\r\n]*$/.test(configFile)) {
    report(state, '22023', `empty configuration file name: "${configFile}"`, callingLocation(callingFile, callingLine));
    return false;
  }
  if (depth > MAX_DEPTH) {
    report(state, '54000', `could not open configuration file "${configFile}": maximum nesting depth exceeded`,
      callingLocation(callingFile, callingLine));
    return false;
  }
  const absPath = absoluteConfigLocation(configFile, callingFile, state.dataDirectory);
  if (callingFile !== null && absPath === callingFile) {
    report(state, '22023', `configuration file recursion in "${callingFile}"`, callingLocation(callingFile, callingLine));
    return false;
  }
  let content: string;
  try {
    content = fs.readFileSync(absPath, 'latin1');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'EISDIR') {
      // fopen() of a directory succeeds; flex's first read fails.
      state.messages.push({
        severity: state.elevel, sqlstate: 'XX000',
        message: `input in flex scanner failed at file "${absPath}" line 1`, configFile: absPath, configLine: 1,
      });
      return false;
    }
    if (strict) {
      report(state, fileAccessSqlstate(e), `could not open configuration file "${absPath}": ${strerror(e)}`,
        callingLocation(callingFile, callingLine));
      return false;
    }
    state.messages.push({ severity: 'LOG', sqlstate: '00000', message: `skipping missing configuration file "${absPath}"` });
    return true;
  }
  return parseText(content, absPath, depth, state);
}

function callingLocation(file: string | null, line: number): Partial<ConfigMessage> {
  return file !== null ? { configFile: file, configLine: line } : {};
}

/** ParseConfigDirectory: every *.conf (not dot-files) in name order. */
function parseDirectory(includeDir: string, callingFile: string, callingLine: number, depth: number, state: ParseState): boolean {
  if (/^[ \t\r\n]*$/.test(includeDir)) {
    report(state, '22023', `empty configuration directory name: "${includeDir}"`, callingLocation(callingFile, callingLine));
    return false;
  }
  const directory = absoluteConfigLocation(includeDir, callingFile, state.dataDirectory);
  let entries: string[];
  try {
    entries = fs.readdirSync(directory);
  } catch (e) {
    report(state, fileAccessSqlstate(e), `could not open configuration directory "${directory}": ${strerror(e)}`,
      callingLocation(callingFile, callingLine));
    return false;
  }
  const files: string[] = [];
  for (const name of entries) {
    if (name.length < 6 || name.startsWith('.') || !name.endsWith('.conf')) continue;
    const filename = canonicalize(path.posix.join(directory, name));
    try {
      if (!fs.statSync(filename).isDirectory()) files.push(filename);
    } catch (e) {
      report(state, fileAccessSqlstate(e), `could not stat file "${filename}": ${strerror(e)}`,
        callingLocation(callingFile, callingLine));
      return false;
    }
  }
  files.sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
  for (const f of files) {
    if (!parseFile(f, true, callingFile, callingLine, depth, state)) return false;
  }
  return true;
}

const nameIs = (name: string, word: string) => name.toLowerCase() === word;

/** ParseConfigFp: the per-line loop, directives processed as they are met. */
function parseText(input: string, configFile: string, depth: number, state: ParseState): boolean {
  const lex = new Lexer(input);
  let ok = true;
  let errorCount = 0;
  let token: Tok;
  while ((token = lex.next()) !== Tok.EOF) {
    if (token === Tok.EOL) continue;
    parse: {
      if (token !== Tok.ID && token !== Tok.QUALIFIED_ID) break parse;
      const optName = decode(lex.text);
      token = lex.next();
      if (token === Tok.EQUALS) token = lex.next();
      if (token !== Tok.ID && token !== Tok.STRING && token !== Tok.INTEGER && token !== Tok.REAL &&
          token !== Tok.UNQUOTED_STRING) break parse;
      const optValue = decode(token === Tok.STRING ? deescapeQuotedString(lex.text) : lex.text);
      token = lex.next();
      if (token !== Tok.EOL) {
        if (token !== Tok.EOF) break parse;
        lex.lineno++; // EOF counts as a newline for numbering
      }
      const line = lex.lineno - 1;
      if (nameIs(optName, 'include_dir')) {
        if (!parseDirectory(optValue, configFile, line, depth + 1, state)) ok = false;
      } else if (nameIs(optName, 'include_if_exists')) {
        if (!parseFile(optValue, false, configFile, line, depth + 1, state)) ok = false;
      } else if (nameIs(optName, 'include')) {
        if (!parseFile(optValue, true, configFile, line, depth + 1, state)) ok = false;
      } else {
        state.items.push({ name: optName, value: optValue, filename: configFile, sourceline: line, ignore: false, applied: false });
      }
      if (token === Tok.EOF) return ok;
      continue;
    }
    // parse_error:
    if (token === Tok.EOL || token === Tok.EOF) {
      // The lexer has already counted the newline (and, at EOF, has not: PostgreSQL reports one line early).
      report(state, '42601', `syntax error in file "${configFile}" line ${lex.lineno - 1}, near end of line`,
        { configFile, configLine: lex.lineno - 1 });
    } else {
      report(state, '42601', `syntax error in file "${configFile}" line ${lex.lineno}, near token "${decode(lex.text)}"`,
        { configFile, configLine: lex.lineno });
    }
    ok = false;
    errorCount++;
    if (errorCount >= 100) {
      report(state, '54000', `too many syntax errors found, abandoning file "${configFile}"`);
      break;
    }
    while (token !== Tok.EOL && token !== Tok.EOF) token = lex.next();
    if (token === Tok.EOF) break;
  }
  return ok;
}

export interface ParseOptions {
  /** Where a relative top-level name resolves (DataDir); defaults to the process's working directory. */
  dataDirectory?: string;
  /** Severity of the problems reported (LOG in the postmaster, as PostgreSQL has it). */
  elevel?: Severity;
}

/** Parse a configuration file and its includes into name/value items, without applying anything. */
export function parseConfigFile(configFile: string, options: ParseOptions = {}): ParseResult {
  const state: ParseState = {
    items: [], messages: [], elevel: options.elevel ?? 'LOG',
    dataDirectory: options.dataDirectory ?? process.cwd(),
  };
  const ok = parseFile(path.resolve(configFile), true, null, 0, 0, state);
  return { ok, items: state.items, messages: state.messages };
}

/** Parse configuration text as if it were the file `virtualPath` (includes resolve beside it). */
export function parseConfigText(text: string, virtualPath: string, options: ParseOptions = {}): ParseResult {
  const state: ParseState = {
    items: [], messages: [], elevel: options.elevel ?? 'LOG',
    dataDirectory: options.dataDirectory ?? path.posix.dirname(virtualPath),
  };
  const ok = parseText(Buffer.from(text, 'utf8').toString('latin1'), virtualPath, 0, state);
  return { ok, items: state.items, messages: state.messages };
}

// ---------------------------------------------------------------- processing

export interface ProcessOptions {
  /** 'postmaster' at startup (errors are fatal), 'sighup' for a reload. */
  context: Extract<GucContext, 'postmaster' | 'sighup'>;
  /** The data directory relative file names resolve against; defaults to the config file's directory. */
  dataDirectory?: string;
  /**
   * At startup PostgreSQL reads the file twice (once to find data_directory); messages from the
   * first pass that do not stop startup, like "skipping missing configuration file", appear twice.
   * Default true.
   */
  twoPassStartup?: boolean;
  /**
   * postgresql.auto.conf (what ALTER SYSTEM writes), read after the main file so its entries
   * win. PostgreSQL logs "skipping missing configuration file" when it is absent; initdb always
   * writes one, so here an absent file is read as an empty one, silently.
   */
  autoConfFile?: string;
}

export interface ProcessResult {
  /** False when PostgreSQL would log "contains errors" (at startup, and refuse to start). */
  ok: boolean;
  /** Everything logged, in order; at startup a failure ends with the FATAL. */
  messages: ConfigMessage[];
  /** At startup: the FATAL that stops the server. */
  fatal?: PgError;
  items: ConfigVariable[];
}

/**
 * ProcessConfigFile: parse `configFile`, check every name, then apply the values to `registry`.
 * At startup also fills in the hba_file/ident_file defaults beside the configuration file, as
 * SelectConfigFiles does.
 */
export function processConfigFile(registry: GucRegistry, configFile: string, options: ProcessOptions): ProcessResult {
  const context = options.context;
  const absConfig = path.resolve(configFile);
  const dataDirectory = options.dataDirectory ?? path.dirname(absConfig);
  const messages: ConfigMessage[] = [];
  let confFileWithError = absConfig;
  let error = false;
  let applying = false;

  if (context === 'postmaster' && (options.twoPassStartup ?? true)) {
    // The first pass runs before the data directory is known; its only effect we model is
    // what it logs. A failing first pass ends startup right there.
    const first = parseConfigFile(absConfig, { dataDirectory });
    messages.push(...first.messages);
    if (!first.ok) return bail(true, first.items);
  }

  const parsed = parseConfigFile(absConfig, { dataDirectory });
  messages.push(...parsed.messages);
  const items = parsed.items;
  if (!parsed.ok) return bail(true, items);
  if (options.autoConfFile !== undefined && fs.existsSync(options.autoConfFile)) {
    const auto = parseConfigFile(options.autoConfFile, { dataDirectory });
    messages.push(...auto.messages);
    items.push(...auto.items);
    if (!auto.ok) return bail(true, items);
  }

  registry.markInFile(null, false);

  // Check all names first, so a typo rejects the whole file; remember only the last of duplicates.
  for (const item of items) {
    if (item.ignore) continue;
    if (registry.has(item.name)) {
      if (registry.isInFile(item.name)) {
        for (const earlier of items) {
          if (earlier === item) break;
          if (!earlier.ignore && earlier.name === item.name) earlier.ignore = true;
        }
      }
      registry.markInFile(item.name, true);
    } else if (!validCustomVariableName(item.name)) {
      messages.push({
        severity: 'LOG', sqlstate: '42704',
        message: `unrecognized configuration parameter "${item.name}" in file "${item.filename}" line ${item.sourceline}`,
        configFile: item.filename, configLine: item.sourceline,
      });
      item.errmsg = 'unrecognized configuration parameter';
      error = true;
      confFileWithError = item.filename;
    }
  }
  if (error) return bail(false, items);

  applying = true;

  if (context === 'sighup') {
    // Parameters that were set from the file but no longer are go back to their defaults.
    for (const gone of registry.fileVariablesNotInFile()) {
      if (gone.context === 'internal' || gone.context === 'postmaster') {
        messages.push({
          severity: 'LOG', sqlstate: '55P02',
          message: `parameter "${gone.name}" cannot be changed without restarting the server`,
        });
        error = true;
        continue;
      }
      registry.resetToDefault(gone.name);
      messages.push({
        severity: 'LOG', sqlstate: '00000',
        message: `parameter "${gone.name}" removed from configuration file, reset to default`,
      });
    }
  }

  for (const item of items) {
    if (item.ignore) continue;
    const preValue = context === 'sighup' ? registry.getConfigOption(item.name) ?? '' : null;
    let outcome: 'applied' | 'ignored' | 'error';
    try {
      outcome = registry.set(item.name, item.value, 'file', {
        context, elevel: 'LOG', file: item.filename, line: item.sourceline,
      });
    } catch (e) {
      if (!(e instanceof PgError)) throw e;
      messages.push({ ...e.fields, configFile: item.filename, configLine: item.sourceline });
      outcome = 'error';
    }
    if (outcome === 'applied') {
      if (preValue !== null && preValue !== (registry.getConfigOption(item.name) ?? '')) {
        messages.push({ severity: 'LOG', sqlstate: '00000', message: `parameter "${item.name}" changed to "${item.value}"` });
      }
      item.applied = true;
    } else if (outcome === 'error') {
      error = true;
      item.errmsg = 'setting could not be applied';
      confFileWithError = item.filename;
    } else {
      item.applied = true;
    }
    if (outcome !== 'error') registry.setSourceLocation(item.name, item.filename, item.sourceline);
  }

  if (!error && context === 'postmaster') {
    // SelectConfigFiles: pg_hba.conf and pg_ident.conf default to the configuration directory,
    // and whatever is used is made absolute. (PostgreSQL resolves a relative setting against
    // its launch directory; we use the data directory.)
    const configDir = path.dirname(absConfig);
    for (const [name, file] of [['hba_file', 'pg_hba.conf'], ['ident_file', 'pg_ident.conf']] as const) {
      const current = registry.getConfigOption(name);
      if (current === undefined) continue;
      const absolute = current === '' ? path.join(configDir, file) : path.resolve(dataDirectory, current);
      registry.set(name, absolute, 'override');
    }
  }
  return bail(false, items);

  function bail(parseFailed: boolean, its: ConfigVariable[]): ProcessResult {
    if (parseFailed) error = true;
    if (!error) return { ok: true, messages, items: its };
    if (context === 'postmaster') {
      const fatal = new PgError({
        severity: 'FATAL', sqlstate: 'F0000', message: `configuration file "${confFileWithError}" contains errors`,
      });
      messages.push(fatal.fields);
      return { ok: false, messages, fatal, items: its };
    }
    messages.push({
      severity: 'LOG', sqlstate: 'F0000',
      message: applying
        ? `configuration file "${confFileWithError}" contains errors; unaffected changes were applied`
        : `configuration file "${confFileWithError}" contains errors; no changes were applied`,
    });
    return { ok: false, messages, items: its };
  }
}

/**
 * Resolve a file-name parameter (ssl_cert_file, roles_file, a relative hba_file) the way the
 * server does after chdir(DataDir): relative to the data directory.
 */
export function resolveDataFile(registry: GucRegistry, name: string, dataDirectory: string): string {
  const value = registry.getString(name);
  return path.isAbsolute(value) ? value : path.join(dataDirectory, value);
}

/**
 * The postmaster's own sanity check after reading the configuration, which it writes to stderr
 * before exiting: null when the settings are consistent.
 */
export function checkPostmasterSettings(registry: GucRegistry, progname = 'postgres'): string | null {
  const reserved = registry.getNumber('superuser_reserved_connections');
  const max = registry.getNumber('max_connections');
  if (reserved >= max) {
    return `${progname}: superuser_reserved_connections (${reserved}) must be less than max_connections (${max})\n`;
  }
  return null;
}
