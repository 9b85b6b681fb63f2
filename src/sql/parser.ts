/**
 * raw_parser(): PostgreSQL 15's own grammar and scanner, through libpg-query (the real gram.y
 * and scan.l compiled to WebAssembly). The module loads once per process (loadParser());
 * after that parsing is synchronous. Syntax errors come out as PostgreSQL reports them:
 * 42601 with the message, the cursor position in characters and scan.l's location.
 */
import { loadModule, parseSync } from 'libpg-query';
import { PgError } from '../errors.js';

let loading: Promise<void> | null = null;

/** Load the WebAssembly parser (about 10 ms, once per process). Safe to call repeatedly. */
export function loadParser(): Promise<void> {
  loading ??= loadModule();
  return loading;
}

/** One statement of a query string: its parse tree node and where it sits in the string. */
export interface RawStatement {
  /** The node type, e.g. SelectStmt, VariableSetStmt, CreateRoleStmt. */
  readonly type: string;
  /** The node itself (the object under `type` in libpg-query's JSON). */
  readonly node: Record<string, unknown>;
  /** The statement's own text, as PostgreSQL cuts it out for logging (without the semicolon). */
  readonly text: string;
}

/**
 * The query string being parsed. Parse-tree locations are byte offsets into its UTF-8
 * encoding; PostgreSQL reports positions in characters, counting from 1.
 */
export class SourceText {
  readonly bytes: Buffer;
  constructor(readonly sql: string) {
    this.bytes = Buffer.from(sql, 'utf8');
  }

  /** errposition for a parse-tree location (-1 means none). */
  position(location: number | undefined): number | undefined {
    if (location === undefined || location < 0) return undefined;
    return [...this.bytes.subarray(0, location).toString('utf8')].length + 1;
  }

  slice(fromByte: number, lengthBytes?: number): string {
    return this.bytes.subarray(fromByte, lengthBytes ? fromByte + lengthBytes : undefined).toString('utf8');
  }
}

/** Where PostgreSQL 15.20 raises scanner and grammar errors (libpg-query is built from 15.1, whose lines differ). */
function line15(routine: string | undefined, message: string): number | undefined {
  // scanner_yyerror has one ereport for "... at end of input" and one for "... at or near".
  if (routine === 'scanner_yyerror') return message.endsWith('at end of input') ? 1180 : 1188;
  return undefined;
}

interface LibpgError extends Error {
  sqlDetails?: { message: string; cursorPosition: number; fileName?: string; functionName?: string; lineNumber?: number };
}

/** ERRCODEs of the few raw-parser errors that are not ERRCODE_SYNTAX_ERROR. */
function sqlstateOf(message: string): string {
  if (/^unsafe use of string constant with Unicode escapes|^invalid Unicode escape/.test(message)) return '22P01';
  if (/^(.*) is not supported$|^unrecognized/.test(message) && !/^syntax/.test(message)) return '0A000';
  return '42601';
}

/**
 * Parse a query string into statements. An empty string, or one of only comments and
 * semicolons, has none (PostgreSQL then answers EmptyQueryResponse).
 */
export function parseSql(sql: string): RawStatement[] {
  if (!loading) throw new Error('parseSql() before loadParser()');
  if (sql.trim() === '') return [];
  let tree: { stmts?: Array<{ stmt: Record<string, Record<string, unknown>>; stmt_location?: number; stmt_len?: number }> };
  try {
    tree = parseSync(sql);
  } catch (err) {
    const e = err as LibpgError;
    const d = e.sqlDetails;
    if (!d) throw err;
    const routine = d.functionName;
    throw new PgError({
      severity: 'ERROR', sqlstate: sqlstateOf(d.message), message: d.message,
      position: d.cursorPosition + 1,
      ...(d.fileName ? { file: d.fileName } : {}),
      ...(line15(routine, d.message) !== undefined ? { line: line15(routine, d.message) } : d.lineNumber ? { line: d.lineNumber } : {}),
      ...(routine ? { routine } : {}),
    });
  }
  const source = new SourceText(sql);
  return (tree.stmts ?? []).map((s) => {
    const [type, node] = Object.entries(s.stmt)[0]!;
    return { type, node, text: source.slice(s.stmt_location ?? 0, s.stmt_len).trim() };
  });
}

/** A parse tree without its locations: two spellings of one statement compare equal. */
export function fingerprint(node: unknown): string {
  return JSON.stringify(node, (k, v) => (k === 'location' ? undefined : v));
}
