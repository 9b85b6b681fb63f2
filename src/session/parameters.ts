/** The startup packet's GUCs and the ParameterStatus set each major reports at connection start. */
import { bytesToString, stringToBytes, utf8Cliplen } from '../bytes.js';
import { NAMEDATALEN } from '../config/guc.js';
import type { PgErrorFields } from '../errors.js';
import type { PgMajor } from '../server/settings.js';
import { cleanAscii } from '../startup/process-startup-packet.js';
import type { SessionSettings } from './settings.js';
import { splitOptions, startupOptionSettings } from './startup-options.js';

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
 * parameters, each set as PGC_S_CLIENT in a backend context (errors are FATAL, as
 * PostgreSQL raises them after authentication). `notice` receives the NOTICEs setting them
 * raises, in order.
 */
export function applyStartupGucs(
  settings: SessionSettings, options: ReadonlyArray<readonly [string, string]>, cmdlineOptions: string | null, major: PgMajor,
  notice: (n: PgErrorFields) => void = () => {},
): void {
  const fromSwitches = cmdlineOptions === null ? [] : startupOptionSettings(splitOptions(cmdlineOptions));
  for (const [name, value] of [...fromSwitches, ...options]) {
    // check_application_name keeps printable ASCII only (16+ escapes the rest as \xNN), after the NAMEDATALEN cut.
    const v = name.toLowerCase() === 'application_name' ? cleanAscii(truncateIdentifier(value, notice), major) : value;
    settings.applyStartup(name, v);
  }
  settings.startupDone();
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

/** The ParameterStatus messages at the end of InitPostgres, in the major's order. */
export function reportedParameters(settings: SessionSettings, major: PgMajor): Array<[string, string]> {
  return REPORT_ORDER[major].map((name) => [name, settings.show(name)]);
}
