/**
 * Every other parameter of PostgreSQL 15, as GUC definitions built from the pg_settings rows
 * captured off the real server (pg15-settings.ts): type, context, boot value, bounds, unit and
 * enum values are PostgreSQL's; the flags that pg_settings does not show (GUC_REPORT,
 * GUC_LIST_INPUT, GUC_IS_NAME) are listed here from guc.c, and the check hooks that canonicalise
 * a value (client_encoding, DateStyle, search_path) are written after PostgreSQL's.
 * The hand-written BUILTIN_GUCS take precedence where both define a name.
 */
import type { GucCheckResult, GucContext, GucDef, GucFlags, GucUnit } from './guc.js';
import { splitGucList } from './guc.js';
import { PG15_SETTINGS, type Pg15Setting } from './pg15-settings.js';

/** GUC_REPORT in PostgreSQL 15: sent as ParameterStatus at startup and whenever they change. */
export const GUC_REPORT_15 = new Set([
  'application_name', 'client_encoding', 'DateStyle', 'default_transaction_read_only', 'in_hot_standby', 'integer_datetimes',
  'IntervalStyle', 'is_superuser', 'server_encoding', 'server_version', 'session_authorization', 'standard_conforming_strings', 'TimeZone',
]);

/** GUC_LIST_INPUT (SET takes several values, joined with ", "); GUC_LIST_QUOTE quotes identifiers among them. */
const LIST_INPUT = new Set(['DateStyle', 'search_path', 'temp_tablespaces', 'session_preload_libraries', 'shared_preload_libraries',
  'local_preload_libraries', 'listen_addresses', 'unix_socket_directories', 'log_destination', 'wal_consistency_checking']);
export const LIST_QUOTE = new Set(['search_path', 'temp_tablespaces', 'session_preload_libraries', 'shared_preload_libraries', 'local_preload_libraries']);
const IS_NAME = new Set(['application_name', 'cluster_name']);

/** Encoding names as clean_encoding_name() leaves them (letters and digits only, lower case) → the canonical name. */
const CLIENT_ENCODINGS: Record<string, string> = {
  utf8: 'UTF8', unicode: 'UTF8', sqlascii: 'SQL_ASCII', latin1: 'LATIN1', iso88591: 'LATIN1', latin9: 'LATIN9',
  iso885915: 'LATIN9', win1252: 'WIN1252', windows1252: 'WIN1252', eucjp: 'EUC_JP', sjis: 'SJIS', shiftjis: 'SJIS',
  gbk: 'GBK', big5: 'BIG5', euckr: 'EUC_KR', koi8r: 'KOI8R', win1251: 'WIN1251',
};

/** check_client_encoding: a known encoding, stored by its canonical name ("'utf-8'" → "UTF8"). */
export function canonicalClientEncoding(value: string): string | null {
  return CLIENT_ENCODINGS[value.toLowerCase().replace(/[^a-z0-9]/g, '')] ?? null;
}

const DATE_STYLES: Record<string, string> = { iso: 'ISO', sql: 'SQL', postgres: 'Postgres', german: 'German' };
const DATE_ORDERS: Record<string, string> = {
  ymd: 'YMD', dmy: 'DMY', euro: 'DMY', european: 'DMY', mdy: 'MDY', us: 'MDY', noneuro: 'MDY', noneuropean: 'MDY',
};

/**
 * check_datestyle: comma-separated key words, one output style and one field order at most;
 * the half not given keeps its current value, except that German alone implies DMY.
 */
export function checkDateStyle(value: string, current = 'ISO, MDY'): GucCheckResult<string> {
  const words = splitGucList(value);
  if (words === null) return { ok: false, detail: 'List syntax is invalid.' };
  const [curStyle = 'ISO', curOrder = 'MDY'] = current.split(', ');
  let style: string | null = null;
  let order: string | null = null;
  let conflict = false;
  for (const raw of words) {
    const w = raw.toLowerCase();
    if (w in DATE_STYLES) {
      if (style !== null && style !== DATE_STYLES[w]) conflict = true;
      style = DATE_STYLES[w]!;
    } else if (w in DATE_ORDERS) {
      if (order !== null && order !== DATE_ORDERS[w]) conflict = true;
      order = DATE_ORDERS[w]!;
    } else if (w === 'default') {
      style = 'ISO';
      order = 'MDY';
    } else {
      return { ok: false, detail: `Unrecognized key word: "${raw}".` };
    }
  }
  if (conflict) return { ok: false, detail: 'Conflicting "datestyle" specifications.' };
  if (order === null && style === 'German') order = 'DMY';
  return { ok: true, value: `${style ?? curStyle}, ${order ?? curOrder}` };
}

const CHECKS: Record<string, GucDef['check']> = {
  client_encoding: ((v: string): GucCheckResult<string> => {
    const enc = canonicalClientEncoding(v);
    return enc ? { ok: true, value: enc } : { ok: false };
  }) as GucDef['check'],
  DateStyle: ((v: string, _s: unknown, current: string) => checkDateStyle(v, current)) as GucDef['check'],
  search_path: ((v: string): GucCheckResult<string> => (splitGucList(v) === null ? { ok: false, detail: 'List syntax is invalid.' } : { ok: true })) as GucDef['check'],
};

const UNITS: Record<string, GucUnit> = { B: 'B', kB: 'kB', MB: 'MB', '8kB': 'blocks', ms: 'ms', s: 's', min: 'min' };

function toDef(s: Pg15Setting): GucDef {
  const flags: GucFlags = {};
  if (GUC_REPORT_15.has(s.name)) flags.report = true;
  if (LIST_INPUT.has(s.name)) flags.list = true;
  if (IS_NAME.has(s.name)) flags.isName = true;
  if (s.superuser_only) flags.superuserOnly = true;
  const base = {
    name: s.name, context: s.context as GucContext, description: s.short_desc,
    ...(Object.keys(flags).length ? { flags } : {}),
    ...(CHECKS[s.name] ? { check: CHECKS[s.name] } : {}),
  };
  const unit = s.unit ? UNITS[s.unit] : undefined;
  switch (s.vartype) {
    case 'bool':
      return { ...base, type: 'bool', boot: s.boot_val === 'on' } as GucDef;
    case 'integer':
      return { ...base, type: 'int', boot: Number(s.boot_val), min: Number(s.min_val), max: Number(s.max_val), ...(unit ? { unit } : {}) } as GucDef;
    case 'real':
      return { ...base, type: 'real', boot: Number(s.boot_val), min: Number(s.min_val), max: Number(s.max_val), ...(unit ? { unit } : {}) } as GucDef;
    case 'enum':
      return { ...base, type: 'enum', boot: s.boot_val ?? '', options: (s.enumvals ?? []).map((name, value) => ({ name, value })) } as GucDef;
    case 'string':
      return { ...base, type: 'string', boot: s.boot_val ?? '' } as GucDef;
  }
}

/** PostgreSQL 15's parameters not in `defined`, as definitions. */
export function pg15GucDefs(defined: ReadonlySet<string>): GucDef[] {
  return PG15_SETTINGS.filter((s) => !defined.has(s.name.toLowerCase())).map(toDef);
}
