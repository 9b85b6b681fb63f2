/**
 * The PostgreSQL types the session can describe, with their pg_type facts (OID, typlen,
 * category, array/element links) and their I/O: text output and input (typoutput/typinput)
 * and binary send/receive (typsend/typreceive), written after PostgreSQL's own functions.
 * Values are SqlValue (registry.ts): booleans, numbers, bigints, strings, Buffers, Dates, arrays.
 */
import { stringToBytes } from '../bytes.js';
import { PgError } from '../errors.js';
import { formatTimestamp, lookupTimeZone, type ZoneInfo } from '../log/timezone.js';
import type { PgTypeName, SqlValue } from './registry.js';

export interface TypeInfo {
  oid: number;
  /** pg_type.typname ('int4', '_int4'). */
  typname: string;
  /** format_type_be(): what error messages call it ('integer', 'integer[]'). */
  display: string;
  typlen: number;
  /** typcategory: B bool, N numeric, S string, D date/time, T timespan, I network, U user, A array, P pseudo, C composite. */
  category: string;
  /** typispreferred within its category (text, float8, timestamptz, oid, bool, interval, inet). */
  preferred?: boolean;
  /** For an array type: its element type's OID. */
  elem?: number;
  /** The array type of this type. */
  array?: number;
}

const T = (oid: number, typname: string, display: string, typlen: number, category: string, array?: number, preferred?: boolean): TypeInfo =>
  ({ oid, typname, display, typlen, category, ...(array ? { array } : {}), ...(preferred ? { preferred } : {}) });

/** OIDs as in pg_type.dat. */
export const OID = {
  bool: 16, bytea: 17, char: 18, name: 19, int8: 20, int2: 21, int4: 23, regproc: 24, text: 25, oid: 26,
  float4: 700, float8: 701, unknown: 705, inet: 869, bpchar: 1042, varchar: 1043, date: 1082, timestamp: 1114,
  timestamptz: 1184, interval: 1186, numeric: 1700, regtype: 2206, record: 2249, void: 2278,
  _bool: 1000, _char: 1002, _name: 1003, _int2: 1005, _int4: 1007, _text: 1009, _int8: 1016, _oid: 1028, _float8: 1022,
} as const;

const SCALARS: TypeInfo[] = [
  T(OID.bool, 'bool', 'boolean', 1, 'B', OID._bool, true),
  T(OID.bytea, 'bytea', 'bytea', -1, 'U', 1001),
  T(OID.char, 'char', '"char"', 1, 'Z', OID._char),
  T(OID.name, 'name', 'name', 64, 'S', OID._name),
  T(OID.int8, 'int8', 'bigint', 8, 'N', OID._int8),
  T(OID.int2, 'int2', 'smallint', 2, 'N', OID._int2),
  T(OID.int4, 'int4', 'integer', 4, 'N', OID._int4),
  T(OID.regproc, 'regproc', 'regproc', 4, 'N', 1008),
  T(OID.text, 'text', 'text', -1, 'S', OID._text, true),
  T(OID.oid, 'oid', 'oid', 4, 'N', OID._oid, true),
  T(OID.float4, 'float4', 'real', 4, 'N', 1021),
  T(OID.float8, 'float8', 'double precision', 8, 'N', OID._float8, true),
  T(OID.unknown, 'unknown', 'unknown', -2, 'X'),
  T(OID.inet, 'inet', 'inet', -1, 'I', 1041, true),
  T(OID.bpchar, 'bpchar', 'character', -1, 'S', 1014),
  T(OID.varchar, 'varchar', 'character varying', -1, 'S', 1015),
  T(OID.date, 'date', 'date', 4, 'D', 1182),
  T(OID.timestamp, 'timestamp', 'timestamp without time zone', 8, 'D', 1115),
  T(OID.timestamptz, 'timestamptz', 'timestamp with time zone', 8, 'D', 1185, true),
  T(OID.interval, 'interval', 'interval', 16, 'T', 1187, true),
  T(OID.numeric, 'numeric', 'numeric', -1, 'N', 1231),
  T(OID.regtype, 'regtype', 'regtype', 4, 'N', 2211),
  T(OID.record, 'record', 'record', -1, 'P', 2287),
  T(OID.void, 'void', 'void', 4, 'P'),
  // Only so that pg_type's NULL columns can be described.
  T(194, 'pg_node_tree', 'pg_node_tree', -1, 'Z'),
  T(1033, 'aclitem', 'aclitem', 12, 'U', 1034),
];

const BY_OID = new Map<number, TypeInfo>();
const BY_NAME = new Map<string, TypeInfo>();
for (const t of SCALARS) {
  BY_OID.set(t.oid, t);
  BY_NAME.set(t.typname, t);
  if (t.array) {
    const a: TypeInfo = { oid: t.array, typname: `_${t.typname}`, display: `${t.display}[]`, typlen: -1, category: 'A', elem: t.oid };
    BY_OID.set(a.oid, a);
    BY_NAME.set(a.typname, a);
  }
}

/** SQL spellings the grammar does not already turn into pg_catalog names. */
const ALIASES: Record<string, string> = {
  integer: 'int4', int: 'int4', smallint: 'int2', bigint: 'int8', boolean: 'bool', real: 'float4', 'double precision': 'float8',
  float: 'float8', decimal: 'numeric', character: 'bpchar', 'character varying': 'varchar', string: 'text',
  'timestamp with time zone': 'timestamptz', 'timestamp without time zone': 'timestamp',
};

export function typeByOid(oid: number): TypeInfo | undefined {
  return BY_OID.get(oid);
}

/** A type by pg_type name, registry name ('int4[]') or SQL alias; undefined when the session does not know it. */
export function typeByName(name: string): TypeInfo | undefined {
  const lower = name.toLowerCase();
  if (lower.endsWith('[]')) {
    const elem = typeByName(lower.slice(0, -2));
    return elem?.array !== undefined ? BY_OID.get(elem.array) : undefined;
  }
  return BY_NAME.get(ALIASES[lower] ?? lower);
}

/** The TypeInfo of a registry type name; a typo in an extension's definition is a programming error. */
export function registryType(name: PgTypeName): TypeInfo {
  const t = typeByName(name);
  if (!t) throw new TypeError(`unknown PgTypeName ${JSON.stringify(name)}`);
  return t;
}

export function mustType(oid: number): TypeInfo {
  const t = BY_OID.get(oid);
  if (!t) throw new TypeError(`type ${oid} is not simulated`);
  return t;
}

/** The registry's name for a type OID ('int4', 'oid[]'). */
export function pgTypeName(oid: number): PgTypeName {
  const t = mustType(oid);
  return (t.elem !== undefined ? `${mustType(t.elem).typname}[]` : t.typname) as PgTypeName;
}

/** format_type_be() for any OID, falling back to the captured pg_type name. */
export function displayName(oid: number): string {
  return BY_OID.get(oid)?.display ?? String(oid);
}

// ---- session settings the I/O functions read ---------------------------------------------------

export interface IoSettings {
  /** extra_float_digits (default 1: shortest exact output). */
  extraFloatDigits: number;
  /** TimeZone for timestamptz output. */
  timeZone: ZoneInfo;
  /** bytea_output. */
  byteaOutput: 'hex' | 'escape';
}

export const DEFAULT_IO: IoSettings = { extraFloatDigits: 1, timeZone: lookupTimeZone('UTC')!, byteaOutput: 'hex' };

// ---- errors -------------------------------------------------------------------------------------

type Where = { file: string; line: number; routine: string };
const at = (file: string, line: number, routine: string): Where => ({ file, line, routine });

/** Where PostgreSQL 15.20's input functions raise their syntax and range errors (measured). */
const INPUT_ERRORS: Record<number, { syntax: Where; range?: Where }> = {
  [OID.int2]: { syntax: at('numutils.c', 156, 'pg_strtoint16'), range: at('numutils.c', 150, 'pg_strtoint16') },
  [OID.int4]: { syntax: at('numutils.c', 232, 'pg_strtoint32'), range: at('numutils.c', 226, 'pg_strtoint32') },
  [OID.int8]: { syntax: at('numutils.c', 316, 'pg_strtoint64'), range: at('numutils.c', 310, 'pg_strtoint64') },
  [OID.oid]: { syntax: at('oid.c', 62, 'oidin_subr'), range: at('oid.c', 107, 'oidin_subr') },
  [OID.bool]: { syntax: at('bool.c', 151, 'boolin') },
  [OID.float4]: { syntax: at('float.c', 270, 'float4in'), range: at('float.c', 264, 'float4in') },
  [OID.float8]: { syntax: at('float.c', 484, 'float8in_internal_opt_error'), range: at('float.c', 476, 'float8in_internal_opt_error') },
  [OID.numeric]: { syntax: at('numeric.c', 6928, 'set_var_from_str') },
  [OID.date]: { syntax: at('datetime.c', 4048, 'DateTimeParseError') },
  [OID.timestamp]: { syntax: at('datetime.c', 4048, 'DateTimeParseError') },
  [OID.timestamptz]: { syntax: at('datetime.c', 4048, 'DateTimeParseError') },
  [OID.interval]: { syntax: at('datetime.c', 4048, 'DateTimeParseError') },
  [OID.inet]: { syntax: at('network.c', 96, 'network_in') },
};

export function invalidInput(t: TypeInfo, text: string, sqlstate = '22P02'): PgError {
  return new PgError({ severity: 'ERROR', sqlstate, message: `invalid input syntax for type ${t.display}: "${text}"`, ...INPUT_ERRORS[t.oid]?.syntax });
}

function outOfRange(t: TypeInfo, text: string): PgError {
  return new PgError({ severity: 'ERROR', sqlstate: '22003', message: `value "${text}" is out of range for type ${t.display}`, ...INPUT_ERRORS[t.oid]?.range });
}

/** A cast or arithmetic result outside its type ("integer out of range"), with the function that raised it. */
export function typeOutOfRange(oid: number, where?: Where): PgError {
  const what = oid === OID.int2 ? 'smallint' : oid === OID.int8 ? 'bigint' : 'integer';
  return new PgError({ severity: 'ERROR', sqlstate: '22003', message: `${what} out of range`, ...where });
}

export { at as sourceLocation };

// ---- text output ----------------------------------------------------------------------------

/** typoutput: the value as a client receives it in text format. */
export function textOut(oid: number, v: SqlValue, io: IoSettings = DEFAULT_IO): string {
  if (v === null) throw new TypeError('NULL has no text form');
  const t = mustType(oid);
  if (t.elem !== undefined) {
    if (!Array.isArray(v)) throw new TypeError(`${t.display} value must be an array`);
    return arrayOut(t.elem, v as readonly SqlValue[], io);
  }
  switch (oid) {
    case OID.bool: return v ? 't' : 'f';
    case OID.int2: case OID.int4: case OID.int8: case OID.oid: return String(typeof v === 'number' ? Math.trunc(v) : v);
    case OID.float4: return floatOut(Number(v), 4, io.extraFloatDigits);
    case OID.float8: return floatOut(Number(v), 8, io.extraFloatDigits);
    case OID.numeric: return typeof v === 'number' ? numericFromNumber(v) : String(v);
    case OID.bytea: {
      const b = Buffer.isBuffer(v) ? v : Buffer.from(String(v), 'utf8');
      return io.byteaOutput === 'hex' ? `\\x${b.toString('hex')}` : byteaEscape(b);
    }
    case OID.timestamptz: return timestamptzOut(toDate(v), io.timeZone);
    case OID.timestamp: return timestamptzOut(toDate(v), lookupTimeZone('UTC')!).replace(/\+00$/, '');
    case OID.date: return v instanceof Date ? v.toISOString().slice(0, 10) : String(v);
    case OID.void: return '';
    case OID.record: {
      if (!Array.isArray(v)) return String(v);
      return `(${(v as readonly SqlValue[]).map((x) => (x === null ? '' : quoteRecordField(valueText(x, io)))).join(',')})`;
    }
    default: return Buffer.isBuffer(v) ? v.toString('utf8') : v instanceof Date ? v.toISOString() : String(v);
  }
}

/** Text of a value whose type is only known from its JavaScript form (record fields). */
function valueText(v: SqlValue, io: IoSettings): string {
  if (typeof v === 'boolean') return v ? 't' : 'f';
  if (v instanceof Date) return timestamptzOut(v, io.timeZone);
  if (Buffer.isBuffer(v)) return `\\x${v.toString('hex')}`;
  if (Array.isArray(v)) return arrayOut(OID.text, v as readonly SqlValue[], io);
  return String(v);
}

function quoteRecordField(s: string): string {
  if (s === '' || /[",()\\\s]/.test(s)) return `"${s.replace(/(["\\])/g, '$1$1')}"`;
  return s;
}

/** array_out: braces, elements quoted when they need it, NULL unquoted. */
function arrayOut(elem: number, values: readonly SqlValue[], io: IoSettings): string {
  const items = values.map((x) => {
    if (x === null) return 'NULL';
    if (Array.isArray(x)) return arrayOut(elem, x as readonly SqlValue[], io);
    const s = textOut(elem, x, io);
    const needsQuotes = s === '' || /^null$/i.test(s) || /[{},"\\\s]/.test(s);
    return needsQuotes ? `"${s.replace(/(["\\])/g, '\\$1')}"` : s;
  });
  return `{${items.join(',')}}`;
}

function byteaEscape(b: Buffer): string {
  let out = '';
  for (const c of b) {
    if (c === 0x5c) out += '\\\\';
    else if (c < 0x20 || c > 0x7e) out += `\\${c.toString(8).padStart(3, '0')}`;
    else out += String.fromCharCode(c);
  }
  return out;
}

/**
 * float4out/float8out. With extra_float_digits > 0 PostgreSQL prints the shortest text that
 * reads back exactly, in exponent form when the decimal exponent is below -4 or at least the
 * type's precision (15 digits for float8, 6 for float4); otherwise %.*g with 15/6 + extra digits.
 */
export function floatOut(n: number, size: 4 | 8, extraFloatDigits = 1): string {
  if (Number.isNaN(n)) return 'NaN';
  if (n === Infinity) return 'Infinity';
  if (n === -Infinity) return '-Infinity';
  const dig = size === 8 ? 15 : 6;
  let mantissa: string;
  let exp: number;
  if (extraFloatDigits > 0) {
    let e: string;
    if (size === 8) {
      e = n.toExponential();
    } else {
      let p = 1;
      while (p < 9 && Math.fround(Number(n.toPrecision(p))) !== Math.fround(n)) p++;
      e = Number(n.toPrecision(p)).toExponential();
    }
    const m = /^(-?[\d.]+)e([+-]\d+)$/.exec(e)!;
    mantissa = m[1]!;
    exp = Number(m[2]);
    if (n === 0) return Object.is(n, -0) ? '-0' : '0';
    if (exp < -4 || exp >= dig) return `${mantissa}e${exp < 0 ? '-' : '+'}${String(Math.abs(exp)).padStart(2, '0')}`;
    return fixedFromExponential(mantissa, exp);
  }
  // %.*g with the reduced precision.
  const precision = Math.max(1, dig + extraFloatDigits);
  const g = n.toExponential(precision - 1);
  const m = /^(-?[\d.]+)e([+-]\d+)$/.exec(g)!;
  exp = Number(m[2]);
  mantissa = m[1]!.includes('.') ? m[1]!.replace(/0+$/, '').replace(/\.$/, '') : m[1]!;
  if (exp < -4 || exp >= precision) return `${mantissa}e${exp < 0 ? '-' : '+'}${String(Math.abs(exp)).padStart(2, '0')}`;
  return fixedFromExponential(mantissa, exp);
}

function fixedFromExponential(mantissa: string, exp: number): string {
  const neg = mantissa.startsWith('-');
  const digits = mantissa.replace('-', '').replace('.', '');
  let out: string;
  if (exp >= 0) {
    out = digits.length > exp + 1 ? `${digits.slice(0, exp + 1)}.${digits.slice(exp + 1)}` : digits.padEnd(exp + 1, '0');
  } else {
    out = `0.${'0'.repeat(-exp - 1)}${digits}`;
  }
  return neg ? `-${out}` : out;
}

function numericFromNumber(n: number): string {
  if (Number.isNaN(n)) return 'NaN';
  if (!Number.isFinite(n)) return n > 0 ? 'Infinity' : '-Infinity';
  const e = n.toExponential();
  const m = /^(-?[\d.]+)e([+-]\d+)$/.exec(e)!;
  return fixedFromExponential(m[1]!, Number(m[2]));
}

function toDate(v: SqlValue): Date {
  if (v instanceof Date) return v;
  if (typeof v === 'number') return new Date(v);
  if (typeof v === 'bigint') return new Date(Number(v));
  return new Date(String(v));
}

/** timestamptz_out with DateStyle ISO: "2026-01-02 03:04:05.678+00" in the session's TimeZone. */
export function timestamptzOut(d: Date, zone: ZoneInfo): string {
  const ms = d.getTime();
  if (Number.isNaN(ms)) throw new PgError({ severity: 'ERROR', sqlstate: '22008', message: 'timestamp out of range' });
  const { offsetSeconds } = zone.at(ms);
  const local = formatTimestamp(ms, zone).slice(0, 19);
  const frac = ms % 1000 === 0 ? '' : `.${String(((ms % 1000) + 1000) % 1000).padStart(3, '0')}`.replace(/0+$/, '');
  const sign = offsetSeconds < 0 ? '-' : '+';
  const abs = Math.abs(offsetSeconds);
  const hh = String(Math.trunc(abs / 3600)).padStart(2, '0');
  const mm = Math.trunc((abs % 3600) / 60);
  return `${local}${frac}${sign}${hh}${mm ? `:${String(mm).padStart(2, '0')}` : ''}`;
}

// ---- text input ------------------------------------------------------------------------------

/** typinput: a literal or a text-format parameter as a value of type `oid`. */
export function textIn(oid: number, text: string): SqlValue {
  const t = mustType(oid);
  if (t.elem !== undefined) return arrayIn(t, text);
  switch (oid) {
    case OID.bool: {
      const v = parseBoolText(text);
      if (v === null) throw invalidInput(t, text);
      return v;
    }
    case OID.int2: return intIn(t, text, -32768, 32767);
    case OID.int4: return intIn(t, text, -2147483648, 2147483647);
    case OID.oid: {
      const n = intIn(t, text, -2147483648, 4294967295);
      return n < 0 ? n + 4294967296 : n;
    }
    case OID.int8: {
      const s = text.trim();
      if (!/^[+-]?\d+$/.test(s)) throw invalidInput(t, text);
      const b = BigInt(s);
      if (b > 9223372036854775807n || b < -9223372036854775808n) throw outOfRange(t, text);
      return b;
    }
    case OID.float4: case OID.float8: return floatIn(t, text);
    case OID.numeric: {
      const s = text.trim();
      if (/^(nan|[+-]?inf(inity)?)$/i.test(s)) return /^nan$/i.test(s) ? 'NaN' : s.startsWith('-') ? '-Infinity' : 'Infinity';
      if (!/^[+-]?(\d+\.?\d*|\.\d+)(e[+-]?\d+)?$/i.test(s)) throw invalidInput(t, text);
      return normalizeNumeric(s);
    }
    case OID.name: {
      const b = Buffer.from(text, 'utf8');
      if (b.length < 64) return text;
      let cut = 63;
      while (cut > 0 && (b[cut]! & 0xc0) === 0x80) cut--;
      return b.subarray(0, cut).toString('utf8');
    }
    case OID.char: return Buffer.from(text, 'utf8').subarray(0, 1).toString('latin1');
    case OID.bytea: return byteaIn(text);
    case OID.timestamptz: case OID.timestamp: {
      const d = parseTimestamp(text, oid === OID.timestamp);
      if (!d) throw invalidInput(t, text, '22007');
      return d;
    }
    case OID.date: {
      const m = /^\s*(\d{4})-(\d{1,2})-(\d{1,2})\s*$/.exec(text);
      if (!m) throw invalidInput(t, text, '22007');
      return `${m[1]}-${m[2]!.padStart(2, '0')}-${m[3]!.padStart(2, '0')}`;
    }
    case OID.inet: {
      const s = text.trim();
      if (!/^[0-9a-fA-F:.]+(\/\d{1,3})?$/.test(s)) throw invalidInput(t, text);
      return s.endsWith('/32') && !s.includes(':') ? s.slice(0, -3) : s.endsWith('/128') ? s.slice(0, -4) : s;
    }
    case OID.void: return null;
    default: return text;
  }
}

/** parse_bool_with_len: unique prefixes of true/false/yes/no, on/off, 1/0. */
export function parseBoolText(text: string): boolean | null {
  const s = text.trim().toLowerCase();
  if (s === '') return null;
  if ('true'.startsWith(s) || ('yes'.startsWith(s)) || s === 'on' || s === '1') return true;
  if ('false'.startsWith(s) || ('no'.startsWith(s)) || s === 'off' || s === 'of' || s === '0') return s !== 'o' ? false : null;
  return null;
}

function intIn(t: TypeInfo, text: string, min: number, max: number): number {
  const s = text.trim();
  if (!/^[+-]?\d+$/.test(s)) throw invalidInput(t, text);
  const n = Number(s);
  if (n < min || n > max) throw outOfRange(t, text);
  return n;
}

function floatIn(t: TypeInfo, text: string): number {
  const s = text.trim();
  if (/^[+-]?(inf|infinity)$/i.test(s)) return s.startsWith('-') ? -Infinity : Infinity;
  if (/^nan$/i.test(s)) return NaN;
  if (!/^[+-]?(\d+\.?\d*|\.\d+)(e[+-]?\d+)?$/i.test(s)) throw invalidInput(t, text);
  const n = Number(s);
  const out = t.oid === OID.float4 ? Math.fround(n) : n;
  if (!Number.isFinite(out)) {
    throw new PgError({ severity: 'ERROR', sqlstate: '22003', message: `"${s}" is out of range for type ${t.display}`, ...INPUT_ERRORS[t.oid]?.range });
  }
  return out;
}

/** numeric_in keeps the digits as written (scale included), without a leading "+" or redundant zeros. */
function normalizeNumeric(s: string): string {
  let neg = false;
  let body = s;
  if (body.startsWith('+') || body.startsWith('-')) { neg = body.startsWith('-'); body = body.slice(1); }
  let exp = 0;
  const e = body.search(/e/i);
  if (e >= 0) { exp = Number(body.slice(e + 1)); body = body.slice(0, e); }
  let [int = '', frac = ''] = body.split('.');
  if (exp > 0) { const move = frac.slice(0, exp).padEnd(exp, '0'); int += move; frac = frac.slice(exp); }
  if (exp < 0) { const move = int.slice(Math.max(0, int.length + exp)).padStart(-exp, '0'); frac = move + frac; int = int.slice(0, Math.max(0, int.length + exp)); }
  int = int.replace(/^0+/, '') || '0';
  const out = frac ? `${int}.${frac}` : int;
  return neg && /[1-9]/.test(out) ? `-${out}` : out;
}

function byteaIn(text: string): Buffer {
  if (text.startsWith('\\x')) {
    const hex = text.slice(2).replace(/\s/g, '');
    if (!/^([0-9a-fA-F]{2})*$/.test(hex)) {
      const bad = /[^0-9a-fA-F]/.exec(hex)?.[0];
      throw new PgError(bad
        ? { severity: 'ERROR', sqlstate: '22023', message: `invalid hexadecimal digit: "${bad}"`, ...at('encode.c', 184, 'get_hex') }
        : { severity: 'ERROR', sqlstate: '22023', message: 'invalid hexadecimal data: odd number of digits', ...at('encode.c', 214, 'hex_decode') });
    }
    return Buffer.from(hex, 'hex');
  }
  const out: number[] = [];
  for (let i = 0; i < text.length; i++) {
    const ch = text[i]!;
    if (ch !== '\\') { out.push(...Buffer.from(ch, 'utf8')); continue; }
    if (text[i + 1] === '\\') { out.push(0x5c); i++; continue; }
    const oct = /^[0-3][0-7]{2}/.exec(text.slice(i + 1));
    if (!oct) throw new PgError({ severity: 'ERROR', sqlstate: '22P02', message: 'invalid input syntax for type bytea' });
    out.push(parseInt(oct[0], 8));
    i += 3;
  }
  return Buffer.from(out);
}

/** ISO 8601 / PostgreSQL's usual timestamp spellings, plus now/epoch/infinity are not simulated. */
function parseTimestamp(text: string, withoutZone: boolean): Date | null {
  const m = /^\s*(\d{4})-(\d{2})-(\d{2})(?:[ T](\d{2}):(\d{2})(?::(\d{2})(\.\d+)?)?)?\s*(Z|[+-]\d{2}(?::?\d{2})?)?\s*$/i.exec(text);
  if (!m) return null;
  const [, y, mo, d, h = '0', mi = '0', s = '0', frac = '', zone] = m;
  let ms = Date.UTC(Number(y), Number(mo) - 1, Number(d), Number(h), Number(mi), Number(s), Math.round(Number(`0${frac || '.0'}`) * 1000));
  if (!withoutZone && zone && zone.toUpperCase() !== 'Z') {
    const zm = /^([+-])(\d{2}):?(\d{2})?$/.exec(zone)!;
    const off = (Number(zm[2]) * 60 + Number(zm[3] ?? 0)) * (zm[1] === '-' ? -1 : 1);
    ms -= off * 60_000;
  }
  const date = new Date(ms);
  return Number.isNaN(date.getTime()) ? null : date;
}

/** array_in for one-dimensional arrays of the simulated element types. */
function arrayIn(t: TypeInfo, text: string): SqlValue[] {
  const malformed = () => new PgError({ severity: 'ERROR', sqlstate: '22P02', message: `malformed array literal: "${text}"` });
  const s = text.trim();
  if (!s.startsWith('{')) {
    throw new PgError({ severity: 'ERROR', sqlstate: '22P02', message: `malformed array literal: "${text}"`, detail: 'Array value must start with "{" or dimension information.', ...at('arrayfuncs.c', 317, 'array_in') });
  }
  if (!s.endsWith('}')) throw malformed();
  const body = s.slice(1, -1);
  const out: SqlValue[] = [];
  if (body.trim() === '') return out;
  let i = 0;
  for (;;) {
    while (body[i] === ' ') i++;
    let item = '';
    let quoted = false;
    if (body[i] === '"') {
      quoted = true;
      i++;
      while (i < body.length && body[i] !== '"') {
        if (body[i] === '\\') i++;
        item += body[i++] ?? '';
      }
      if (body[i] !== '"') throw malformed();
      i++;
    } else {
      while (i < body.length && body[i] !== ',') {
        if (body[i] === '{' || body[i] === '}' || body[i] === '"') throw malformed();
        if (body[i] === '\\') i++;
        item += body[i++] ?? '';
      }
      item = item.trim();
      if (item === '') throw malformed();
    }
    out.push(!quoted && /^null$/i.test(item) ? null : textIn(t.elem!, item));
    while (body[i] === ' ') i++;
    if (i >= body.length) return out;
    if (body[i] !== ',') throw malformed();
    i++;
  }
}

// ---- binary send / receive ---------------------------------------------------------------------

/** Microseconds between the Unix epoch and PostgreSQL's (2000-01-01). */
const PG_EPOCH_MS = Date.UTC(2000, 0, 1);

/** typsend: the value in binary format, or a clear error for a type the session only sends as text. */
export function binaryOut(oid: number, v: SqlValue): Buffer {
  if (v === null) throw new TypeError('NULL has no binary form');
  const t = mustType(oid);
  if (t.elem !== undefined) return arraySend(t.elem, v as readonly SqlValue[]);
  const b = (n: number) => Buffer.alloc(n);
  switch (oid) {
    case OID.bool: return Buffer.from([v ? 1 : 0]);
    case OID.int2: { const o = b(2); o.writeInt16BE(Number(v)); return o; }
    case OID.int4: { const o = b(4); o.writeInt32BE(Number(v)); return o; }
    case OID.oid: case OID.regproc: case OID.regtype: {
      if (typeof v !== 'number') break;
      const o = b(4); o.writeUInt32BE(v >>> 0); return o;
    }
    case OID.int8: { const o = b(8); o.writeBigInt64BE(BigInt(v as number | bigint)); return o; }
    case OID.float4: { const o = b(4); o.writeFloatBE(Number(v)); return o; }
    case OID.float8: { const o = b(8); o.writeDoubleBE(Number(v)); return o; }
    case OID.text: case OID.name: case OID.varchar: case OID.bpchar: case OID.unknown:
      return stringToBytes(String(v));
    case OID.char: return Buffer.from(String(v), 'latin1').subarray(0, 1);
    case OID.bytea: return Buffer.isBuffer(v) ? Buffer.from(v) : Buffer.from(String(v), 'utf8');
    case OID.timestamptz: case OID.timestamp: { const o = b(8); o.writeBigInt64BE(BigInt(toDate(v).getTime() - PG_EPOCH_MS) * 1000n); return o; }
    case OID.date: {
      const d = v instanceof Date ? v : new Date(`${String(v)}T00:00:00Z`);
      const o = b(4); o.writeInt32BE(Math.floor((d.getTime() - PG_EPOCH_MS) / 86_400_000)); return o;
    }
    case OID.numeric: return numericSend(typeof v === 'string' ? v : numericFromNumber(Number(v)));
    case OID.inet: return inetSend(String(v));
    case OID.void: return Buffer.alloc(0);
    case OID.record: {
      const fields = v as readonly SqlValue[];
      const parts: Buffer[] = [b(4)];
      parts[0]!.writeInt32BE(fields.length);
      for (const f of fields) {
        const ftype = f === null ? OID.text : typeof f === 'boolean' ? OID.bool : typeof f === 'bigint' ? OID.int8 : typeof f === 'number' ? (Number.isInteger(f) ? OID.int4 : OID.float8) : f instanceof Date ? OID.timestamptz : Buffer.isBuffer(f) ? OID.bytea : OID.text;
        const head = b(8);
        head.writeUInt32BE(ftype);
        const data = f === null ? null : binaryOut(ftype, f);
        head.writeInt32BE(data === null ? -1 : data.length, 4);
        parts.push(head, ...(data ? [data] : []));
      }
      return Buffer.concat(parts);
    }
    default: break;
  }
  throw new PgError({ severity: 'ERROR', sqlstate: '0A000', message: `pg-authsim does not send type ${t.display} in binary format` });
}

function arraySend(elem: number, values: readonly SqlValue[]): Buffer {
  const head = Buffer.alloc(values.length === 0 ? 12 : 20);
  head.writeInt32BE(values.length === 0 ? 0 : 1, 0);
  head.writeInt32BE(values.some((x) => x === null) ? 1 : 0, 4);
  head.writeUInt32BE(elem, 8);
  if (values.length > 0) {
    head.writeInt32BE(values.length, 12);
    head.writeInt32BE(1, 16);
  }
  const parts: Buffer[] = [head];
  for (const x of values) {
    const len = Buffer.alloc(4);
    if (x === null) { len.writeInt32BE(-1); parts.push(len); continue; }
    const data = binaryOut(elem, x);
    len.writeInt32BE(data.length);
    parts.push(len, data);
  }
  return Buffer.concat(parts);
}

/** A numeric's base-10000 digits (leading and trailing zero groups dropped) and the weight of the first. */
export function numericDigits(text: string): { digits: number[]; weight: number; dscale: number; negative: boolean } {
  const negative = text.startsWith('-');
  const [int = '0', frac = ''] = text.replace('-', '').split('.');
  const intPadded = int.padStart(Math.ceil(int.length / 4) * 4, '0');
  const fracPadded = frac.padEnd(Math.ceil(frac.length / 4) * 4, '0');
  const digits = [...(intPadded.match(/.{4}/g) ?? []), ...(fracPadded.match(/.{4}/g) ?? [])].map(Number);
  let weight = intPadded.length / 4 - 1;
  while (digits.length > 0 && digits[0] === 0) { digits.shift(); weight--; }
  while (digits.length > 0 && digits[digits.length - 1] === 0) digits.pop();
  if (digits.length === 0) weight = 0;
  return { digits, weight, dscale: frac.length, negative };
}

/** numeric_send: base-10000 digits with weight, sign and display scale. */
function numericSend(text: string): Buffer {
  const head = (ndigits: number, weight: number, sign: number, dscale: number) => {
    const o = Buffer.alloc(8 + 2 * ndigits);
    o.writeInt16BE(ndigits, 0); o.writeInt16BE(weight, 2); o.writeUInt16BE(sign, 4); o.writeInt16BE(dscale, 6);
    return o;
  };
  if (text === 'NaN') return head(0, 0, 0xc000, 0);
  if (text === 'Infinity') return head(0, 0, 0xd000, 0);
  if (text === '-Infinity') return head(0, 0, 0xf000, 0);
  const { digits, weight, dscale, negative: neg } = numericDigits(text);
  const o = head(digits.length, weight, neg ? 0x4000 : 0, dscale);
  digits.forEach((d, i) => o.writeInt16BE(d, 8 + 2 * i));
  return o;
}

function inetSend(text: string): Buffer {
  const [addr = '', bitsText] = text.split('/');
  const v6 = addr.includes(':');
  let bytes: number[];
  if (!v6) {
    bytes = addr.split('.').map(Number);
  } else {
    const [head = '', tail = ''] = addr.split('::');
    const h = head ? head.split(':') : [];
    const t = tail ? tail.split(':') : [];
    const groups = addr.includes('::') ? [...h, ...Array(8 - h.length - t.length).fill('0'), ...t] : h;
    bytes = groups.flatMap((g) => { const n = parseInt(g, 16); return [n >> 8, n & 0xff]; });
  }
  const bits = bitsText !== undefined ? Number(bitsText) : v6 ? 128 : 32;
  // PGSQL_AF_INET is AF_INET (2); PGSQL_AF_INET6 is AF_INET + 1.
  return Buffer.from([v6 ? 3 : 2, bits, 0, bytes.length, ...bytes]);
}

/** typreceive for a Bind parameter in binary format; null when the session cannot read the type in binary. */
export function binaryIn(oid: number, data: Buffer): SqlValue {
  const t = mustType(oid);
  const need = (n: number) => {
    if (data.length !== n) throw new BinaryFormatError();
  };
  if (t.elem !== undefined) return arrayRecv(data);
  switch (oid) {
    case OID.bool: need(1); return data[0] !== 0;
    case OID.int2: need(2); return data.readInt16BE(0);
    case OID.int4: need(4); return data.readInt32BE(0);
    case OID.oid: case OID.regproc: case OID.regtype: need(4); return data.readUInt32BE(0);
    case OID.int8: need(8); return data.readBigInt64BE(0);
    case OID.float4: need(4); return data.readFloatBE(0);
    case OID.float8: need(8); return data.readDoubleBE(0);
    case OID.text: case OID.name: case OID.varchar: case OID.bpchar: case OID.unknown: return data.toString('utf8');
    case OID.char: return data.toString('latin1');
    case OID.bytea: return Buffer.from(data);
    case OID.timestamptz: case OID.timestamp: need(8); return new Date(PG_EPOCH_MS + Number(data.readBigInt64BE(0) / 1000n));
    case OID.date: need(4); return new Date(PG_EPOCH_MS + data.readInt32BE(0) * 86_400_000).toISOString().slice(0, 10);
    case OID.numeric: return numericRecv(data);
    default:
      throw new PgError({ severity: 'ERROR', sqlstate: '0A000', message: `pg-authsim does not receive type ${t.display} in binary format` });
  }
}

/** A binary parameter whose length or layout does not fit its type (22P03 once the caller adds the parameter number). */
export class BinaryFormatError extends Error {}

function numericRecv(data: Buffer): string {
  if (data.length < 8) throw new BinaryFormatError();
  const ndigits = data.readInt16BE(0);
  const weight = data.readInt16BE(2);
  const sign = data.readUInt16BE(4);
  const dscale = data.readInt16BE(6);
  if (data.length !== 8 + 2 * ndigits) throw new BinaryFormatError();
  if (sign === 0xc000) return 'NaN';
  if (sign === 0xd000) return 'Infinity';
  if (sign === 0xf000) return '-Infinity';
  const digits: number[] = [];
  for (let i = 0; i < ndigits; i++) digits.push(data.readInt16BE(8 + 2 * i));
  let int = '';
  for (let w = weight, i = 0; w >= 0; w--, i++) int += String(digits[i] ?? 0).padStart(4, '0');
  let frac = '';
  for (let i = Math.max(0, weight + 1); i < ndigits; i++) frac += String(digits[i]!).padStart(4, '0');
  if (weight < -1) frac = '0000'.repeat(-weight - 1) + frac;
  frac = frac.padEnd(dscale, '0').slice(0, dscale);
  const intPart = int.replace(/^0+/, '') || '0';
  const out = dscale > 0 ? `${intPart}.${frac}` : intPart;
  return sign === 0x4000 && /[1-9]/.test(out) ? `-${out}` : out;
}

function arrayRecv(data: Buffer): SqlValue[] {
  if (data.length < 12) throw new BinaryFormatError();
  const ndim = data.readInt32BE(0);
  const elem = data.readUInt32BE(8);
  if (ndim === 0) return [];
  if (ndim !== 1) throw new PgError({ severity: 'ERROR', sqlstate: '0A000', message: 'pg-authsim receives one-dimensional arrays only' });
  const n = data.readInt32BE(12);
  let at = 20;
  const out: SqlValue[] = [];
  for (let i = 0; i < n; i++) {
    const len = data.readInt32BE(at);
    at += 4;
    if (len < 0) { out.push(null); continue; }
    out.push(binaryIn(elem, data.subarray(at, at + len)));
    at += len;
  }
  return out;
}
