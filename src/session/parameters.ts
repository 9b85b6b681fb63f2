/** Session GUCs from the startup packet and the ParameterStatus set PostgreSQL 15 reports. */
import { asciiLower, bytesToString, stringToBytes, utf8Cliplen } from '../bytes.js';
import { NAMEDATALEN } from '../config/guc.js';
import { PgError, type PgErrorFields } from '../errors.js';
import type { ClientConnection } from '../connection.js';
import type { SessionGucs } from './gucs.js';
import type { PgMajor } from '../server/settings.js';
import { cleanAscii } from '../startup/process-startup-packet.js';
import { splitOptions, startupOptionSettings } from './startup-options.js';

export type { SessionGucs } from './gucs.js';

/**
 * User-settable GUCs a client may plausibly send in its startup packet. Any
 * other name is rejected after authentication, as PostgreSQL does.
 */
const KNOWN_SESSION_GUCS = new Set([
  'application_name', 'client_encoding', 'datestyle', 'intervalstyle', 'timezone', 'search_path',
  'extra_float_digits', 'statement_timeout', 'lock_timeout', 'idle_in_transaction_session_timeout',
  'idle_session_timeout', 'default_transaction_read_only', 'default_transaction_isolation', 'geqo',
  'work_mem', 'maintenance_work_mem', 'bytea_output', 'standard_conforming_strings', 'client_min_messages',
  'role', 'jit', 'lc_messages', 'lc_monetary', 'lc_numeric', 'lc_time', 'timezone_abbreviations',
  'row_security', 'search_path', 'session_replication_role', 'synchronous_commit', 'temp_buffers',
  'transaction_isolation', 'transaction_read_only', 'xmlbinary', 'xmloption', 'array_nulls',
  'backslash_quote', 'escape_string_warning', 'quote_all_identifiers', 'enable_seqscan', 'log_statement',
]);

/** Encoding names as clean_encoding_name() leaves them (letters and digits only, lower case) → the canonical name. */
const ENCODINGS: Record<string, string> = {
  utf8: 'UTF8', unicode: 'UTF8', sqlascii: 'SQL_ASCII', latin1: 'LATIN1', iso88591: 'LATIN1', latin9: 'LATIN9',
  iso885915: 'LATIN9', win1252: 'WIN1252', windows1252: 'WIN1252', eucjp: 'EUC_JP', sjis: 'SJIS', shiftjis: 'SJIS',
  gbk: 'GBK', big5: 'BIG5', euckr: 'EUC_KR', koi8r: 'KOI8R', win1251: 'WIN1251',
};

/** clean_encoding_name(): drop everything but letters and digits, fold to lower case ("'utf-8'" → "utf8"). */
function cleanEncodingName(v: string): string {
  return asciiLower(v).replace(/[^a-z0-9]/g, '');
}

/**
 * set_config_option's GUC_IS_NAME step (application_name): a value of NAMEDATALEN bytes or more
 * is cut with pg_mbcliplen in the database's encoding (UTF8) and truncate_identifier sends a
 * NOTICE (15.20: scansup.c:99; 16+ assumed to match). The cut is by lead bytes only, so invalid
 * UTF-8 survives it.
 */
function truncateIdentifier(value: string, notice: (n: PgErrorFields) => void): Buffer {
  const bytes = stringToBytes(value);
  if (bytes.length < NAMEDATALEN) return bytes;
  const cut = bytes.subarray(0, utf8Cliplen(bytes, NAMEDATALEN - 1));
  notice({
    severity: 'NOTICE', sqlstate: '42622',
    message: `identifier "${value}" will be truncated to "${bytesToString(cut)}"`,
    file: 'scansup.c', line: 99, routine: 'truncate_identifier',
  });
  return cut;
}

/**
 * process_startup_options(): the `options` switches first, then the packet's other
 * parameters. `notice` receives the NOTICEs setting them raises, in order.
 */
export function applyStartupGucs(
  options: ReadonlyArray<readonly [string, string]>, cmdlineOptions: string | null = null, major: PgMajor = 15,
  notice: (n: PgErrorFields) => void = () => {},
): SessionGucs {
  const s: SessionGucs = { application_name: '', client_encoding: 'UTF8', DateStyle: 'ISO, MDY', IntervalStyle: 'postgres', TimeZone: null, other: new Map() };
  const fromSwitches = cmdlineOptions === null ? [] : startupOptionSettings(splitOptions(cmdlineOptions));
  for (const [rawName, value] of [...fromSwitches, ...options]) {
    const name = asciiLower(rawName);
    if (!KNOWN_SESSION_GUCS.has(name) && !name.includes('.')) {
      // Raised by the lookup itself (find_option), as observed on 15.20.
      throw new PgError({ severity: 'FATAL', sqlstate: '42704', message: `unrecognized configuration parameter "${rawName}"`, file: 'guc.c', line: 5766, routine: 'find_option' });
    }
    switch (name) {
      // check_application_name keeps printable ASCII only, so ParameterStatus reports the cleaned value too.
      case 'application_name': s.application_name = cleanAscii(truncateIdentifier(value, notice), major); break;
      case 'client_encoding': {
        const enc = ENCODINGS[cleanEncodingName(value)];
        if (!enc) throw new PgError({ severity: 'FATAL', sqlstate: '22023', message: `invalid value for parameter "client_encoding": "${value}"`, file: 'guc.c', line: 12085, routine: 'call_string_check_hook' });
        s.client_encoding = enc;
        break;
      }
      case 'datestyle': s.DateStyle = normalizeDateStyle(value); break;
      case 'intervalstyle': s.IntervalStyle = value; break;
      case 'timezone': s.TimeZone = value; break;
      default: s.other.set(name, value);
    }
  }
  return s;
}

/** "ISO" alone keeps the default MDY ordering, as PostgreSQL reports it. */
function normalizeDateStyle(v: string): string {
  const parts = v.split(',').map((p) => p.trim().toUpperCase()).filter(Boolean);
  const style = parts.find((p) => ['ISO', 'SQL', 'POSTGRES', 'GERMAN'].includes(p)) ?? 'ISO';
  const order = parts.find((p) => ['MDY', 'DMY', 'YMD', 'US', 'EURO', 'EUROPEAN', 'NONEURO', 'NONEUROPEAN'].includes(p)) ?? 'MDY';
  const styleName = style === 'POSTGRES' ? 'Postgres' : style === 'GERMAN' ? 'German' : style;
  const orderName = order === 'US' || order === 'NONEURO' || order === 'NONEUROPEAN' ? 'MDY' : order === 'EURO' || order === 'EUROPEAN' ? 'DMY' : order;
  return `${styleName}, ${orderName}`;
}

/**
 * The GUC_REPORT variables in the order each major sends them (observed on
 * 15.20, 16.14, 17.10 and 18.4). 16 walks its GUC hash table, hence the
 * shuffle; it also reports scram_iterations, and 18 adds search_path.
 */
const REPORT_ORDER: Record<PgMajor, readonly string[]> = {
  15: ['application_name', 'client_encoding', 'DateStyle', 'default_transaction_read_only', 'in_hot_standby', 'integer_datetimes',
    'IntervalStyle', 'is_superuser', 'server_encoding', 'server_version', 'session_authorization', 'standard_conforming_strings', 'TimeZone'],
  16: ['in_hot_standby', 'integer_datetimes', 'TimeZone', 'IntervalStyle', 'is_superuser', 'application_name', 'default_transaction_read_only',
    'scram_iterations', 'DateStyle', 'standard_conforming_strings', 'session_authorization', 'client_encoding', 'server_version', 'server_encoding'],
  17: ['in_hot_standby', 'integer_datetimes', 'TimeZone', 'IntervalStyle', 'is_superuser', 'application_name', 'default_transaction_read_only',
    'scram_iterations', 'DateStyle', 'standard_conforming_strings', 'session_authorization', 'client_encoding', 'server_version', 'server_encoding'],
  18: ['in_hot_standby', 'integer_datetimes', 'TimeZone', 'IntervalStyle', 'search_path', 'is_superuser', 'application_name',
    'default_transaction_read_only', 'scram_iterations', 'DateStyle', 'standard_conforming_strings', 'session_authorization', 'client_encoding',
    'server_version', 'server_encoding'],
};

export function reportedParameters(be: ClientConnection, s: SessionGucs, superuser: boolean): Array<[string, string]> {
  const values: Record<string, string> = {
    application_name: s.application_name,
    client_encoding: s.client_encoding,
    DateStyle: s.DateStyle,
    default_transaction_read_only: 'off',
    in_hot_standby: 'off',
    integer_datetimes: 'on',
    IntervalStyle: s.IntervalStyle,
    is_superuser: superuser ? 'on' : 'off',
    scram_iterations: String(be.settings.scramIterations),
    search_path: s.other.get('search_path') ?? '"$user", public',
    server_encoding: 'UTF8',
    server_version: be.settings.serverVersion,
    session_authorization: be.port.user_name,
    standard_conforming_strings: 'on',
    TimeZone: s.TimeZone ?? be.settings.timezone,
  };
  return REPORT_ORDER[be.settings.serverMajor].map((name) => [name, values[name]!]);
}
