/**
 * Where each rule of the libpq model lives in PostgreSQL's own source, per major version,
 * for the client decision trace (../trace.ts).
 *
 * The line numbers were read in src/interfaces/libpq/fe-connect.c and fe-auth.c at release
 * stamps that could be read here: 15.1, 16.6, 17.2 and 18.4 (the model is checked against
 * 15.20, 16.14, 17.10 and 18.4 binaries; between minor releases these functions moved by a
 * few lines at most). One exception: 15.1 predates the CVE-2024-10977 fix that makes an 'E'
 * answer to SSLRequest final without reading it (15.10+, the behaviour modelled), so that
 * rule points at 16.6, which has the same fix.
 */
import type { SourceRef } from '../trace.js';

export type LibpqMajor = 15 | 16 | 17 | 18;

/** The forks of PQconnectPoll() and friends that the model takes. */
export type LibpqRule =
  | 'connect' | 'connect-failed' | 'timeout'
  | 'ssl-request' | 'direct-ssl' | 'send-startup'
  | 'ssl-accepted' | 'ssl-refused-continue' | 'ssl-refused-required' | 'ssl-error-response'
  | 'tls-failed-retry' | 'tls-failed'
  | 'server-error-next-host' | 'server-error-retry-allow' | 'server-error-retry-prefer' | 'server-error-fail'
  | 'sendauth-failed' | 'sasl-plus' | 'sasl-plain' | 'sasl-continue' | 'password-sendauth'
  | 'sasl-no-password' | 'password-no-password' | 'check-expected-areq'
  | 'appname-retry' | 'after-auth-error' | 'target-mismatch' | 'connected'
  /** The error_return label: any other failure ends the connection attempt here. */
  | 'error-return';

const FE_CONNECT = 'src/interfaces/libpq/fe-connect.c';
const FE_AUTH = 'src/interfaces/libpq/fe-auth.c';

/** Which release each major's line numbers were read in. */
const READ_AT: Record<LibpqMajor, string> = { 15: 'libpq 15.1', 16: 'libpq 16.6', 17: 'libpq 17.2', 18: 'libpq 18.4' };
const MAJORS = [15, 16, 17, 18] as const;

/**
 * Rule → file, function (one for all majors, or one per major), and the line in 15, 16, 17, 18.
 * 17 and 18 take the retry decisions in connection_failed() / encryption_negotiation_failed(),
 * reached through the CONNECTION_FAILED() and ENCRYPTION_NEGOTIATION_FAILED() macros; their
 * lines are those call sites in PQconnectPoll. ≤16 have no direct SSL: that row repeats SSLRequest.
 */
const RULES: Record<LibpqRule, readonly [file: string, fn: string | readonly [string, string, string, string], lines: readonly [number, number, number, number]]> = {
  connect: [FE_CONNECT, 'PQconnectPoll', [2721, 3043, 3168, 3481]],
  'connect-failed': [FE_CONNECT, 'PQconnectPoll', [2756, 3078, 3203, 3516]],
  timeout: [FE_CONNECT, ['connectDBComplete', 'connectDBComplete', 'pqConnectDBComplete', 'pqConnectDBComplete'], [2223, 2504, 2554, 2866]],
  'ssl-request': [FE_CONNECT, 'PQconnectPoll', [2955, 3271, 3377, 3680]],
  'direct-ssl': [FE_CONNECT, 'PQconnectPoll', [2955, 3271, 3390, 3693]],
  'send-startup': [FE_CONNECT, 'PQconnectPoll', [2972, 3287, 3426, 3723]],
  'ssl-accepted': [FE_CONNECT, 'PQconnectPoll', [3041, 3354, 3494, 3791]],
  'ssl-refused-continue': [FE_CONNECT, ['PQconnectPoll', 'PQconnectPoll', 'encryption_negotiation_failed', 'encryption_negotiation_failed'], [3069, 3381, 4356, 4761]],
  'ssl-refused-required': [FE_CONNECT, 'PQconnectPoll', [3066, 3378, 3509, 3812]],
  'ssl-error-response': [FE_CONNECT, 'PQconnectPoll', [3075, 3395, 3519, 3822]],
  'tls-failed-retry': [FE_CONNECT, 'PQconnectPoll', [3128, 3434, 3566, 3861]],
  'tls-failed': [FE_CONNECT, 'PQconnectPoll', [3138, 3444, 3566, 3861]],
  'server-error-next-host': [FE_CONNECT, 'PQconnectPoll', [3380, 3712, 3832, 4136]],
  'server-error-retry-allow': [FE_CONNECT, 'PQconnectPoll', [3410, 3742, 3841, 4145]],
  'server-error-retry-prefer': [FE_CONNECT, 'PQconnectPoll', [3425, 3757, 3841, 4145]],
  'server-error-fail': [FE_CONNECT, 'PQconnectPoll', [3437, 3769, 3841, 4145]],
  'sendauth-failed': [FE_CONNECT, 'PQconnectPoll', [3464, 3808, 3880, 4218]],
  'sasl-plus': [FE_AUTH, 'pg_SASL_init', [486, 489, 487, 500]],
  'sasl-plain': [FE_AUTH, 'pg_SASL_init', [523, 524, 523, 536]],
  'sasl-continue': [FE_AUTH, 'pg_SASL_continue', [633, 628, 628, 704]],
  'password-sendauth': [FE_AUTH, 'pg_password_sendauth', [771, 702, 700, 796]],
  'sasl-no-password': [FE_AUTH, 'pg_SASL_init', [560, 559, 559, 601]],
  'password-no-password': [FE_AUTH, 'pg_fe_sendauth', [1040, 1102, 1101, 1208]],
  'check-expected-areq': [FE_AUTH, 'check_expected_areq', [845, 803, 802, 903]],
  'appname-retry': [FE_CONNECT, 'PQconnectPoll', [3540, 3883, 3955, 4357]],
  'after-auth-error': [FE_CONNECT, 'PQconnectPoll', [3555, 3898, 3970, 4372]],
  'target-mismatch': [FE_CONNECT, 'PQconnectPoll', [3623, 3964, 4036, 4438]],
  connected: [FE_CONNECT, 'PQconnectPoll', [3696, 4035, 4113, 4518]],
  'error-return': [FE_CONNECT, 'PQconnectPoll', [3862, 4196, 4274, 4679]],
};

/** 15.1 reads an 'E' answer as an error message; the model follows the CVE-2024-10977 fix (15.10+), read in 16.6. */
const EXCEPTIONS: Partial<Record<LibpqMajor, Partial<Record<LibpqRule, SourceRef>>>> = {
  15: { 'ssl-error-response': { file: FE_CONNECT, function: 'PQconnectPoll', line: 3395, version: 'libpq 16.6 (the CVE-2024-10977 fix, also in 15.10+)' } },
};

/** The SourceRef of one rule in one major's libpq. */
export function libpqSource(major: LibpqMajor, rule: LibpqRule): SourceRef {
  const special = EXCEPTIONS[major]?.[rule];
  if (special) return special;
  const [file, fn, lines] = RULES[rule];
  const i = MAJORS.indexOf(major);
  return { file, function: typeof fn === 'string' ? fn : fn[i]!, line: lines[i]!, version: READ_AT[major] };
}

/**
 * psql's own loop (src/bin/psql/startup.c main()): PQconnectdbParams, then, when the server
 * wanted a password we did not have, one prompt and one more connect. Read at 15.1; psql 15 is
 * what the model follows, whichever libpq it runs on.
 */
export const PSQL_SOURCES = {
  connect: { file: 'src/bin/psql/startup.c', function: 'main', line: 272, version: 'psql 15.1' },
  prompt: { file: 'src/bin/psql/startup.c', function: 'main', line: 276, version: 'psql 15.1' },
  forcePrompt: { file: 'src/bin/psql/startup.c', function: 'main', line: 243, version: 'psql 15.1' },
} as const satisfies Record<string, SourceRef>;
