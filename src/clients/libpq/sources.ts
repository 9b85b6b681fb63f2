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
  | 'sendauth' | 'sendauth-failed' | 'sasl-init' | 'sasl-plus' | 'sasl-plain' | 'sasl-continue' | 'password-sendauth'
  | 'sasl-no-password' | 'password-no-password' | 'check-expected-areq'
  | 'appname-retry' | 'after-auth-error' | 'target-mismatch' | 'connected'
  /** The error_return label: any other failure ends the connection attempt here. */
  | 'error-return';

const FE_CONNECT = 'src/interfaces/libpq/fe-connect.c';
const FE_AUTH = 'src/interfaces/libpq/fe-auth.c';

type Where = readonly [file: string, fn: string, line: number, version?: string];

const BY_MAJOR: Record<LibpqMajor, { version: string; rules: Record<LibpqRule, Where> }> = {
  15: {
    version: 'libpq 15.1',
    rules: {
      connect: [FE_CONNECT, 'PQconnectPoll', 2721],
      'connect-failed': [FE_CONNECT, 'PQconnectPoll', 2756],
      timeout: [FE_CONNECT, 'connectDBComplete', 2223],
      'ssl-request': [FE_CONNECT, 'PQconnectPoll', 2955],
      'direct-ssl': [FE_CONNECT, 'PQconnectPoll', 2955],
      'send-startup': [FE_CONNECT, 'PQconnectPoll', 2972],
      'ssl-accepted': [FE_CONNECT, 'PQconnectPoll', 3041],
      'ssl-refused-continue': [FE_CONNECT, 'PQconnectPoll', 3069],
      'ssl-refused-required': [FE_CONNECT, 'PQconnectPoll', 3066],
      'ssl-error-response': [FE_CONNECT, 'PQconnectPoll', 3395, 'libpq 16.6 (the CVE-2024-10977 fix, also in 15.10+)'],
      'tls-failed-retry': [FE_CONNECT, 'PQconnectPoll', 3128],
      'tls-failed': [FE_CONNECT, 'PQconnectPoll', 3138],
      'server-error-next-host': [FE_CONNECT, 'PQconnectPoll', 3380],
      'server-error-retry-allow': [FE_CONNECT, 'PQconnectPoll', 3410],
      'server-error-retry-prefer': [FE_CONNECT, 'PQconnectPoll', 3425],
      'server-error-fail': [FE_CONNECT, 'PQconnectPoll', 3437],
      sendauth: [FE_CONNECT, 'PQconnectPoll', 3458],
      'sendauth-failed': [FE_CONNECT, 'PQconnectPoll', 3464],
      'sasl-init': [FE_AUTH, 'pg_SASL_init', 417],
      'sasl-plus': [FE_AUTH, 'pg_SASL_init', 486],
      'sasl-plain': [FE_AUTH, 'pg_SASL_init', 523],
      'sasl-continue': [FE_AUTH, 'pg_SASL_continue', 633],
      'password-sendauth': [FE_AUTH, 'pg_password_sendauth', 771],
      'sasl-no-password': [FE_AUTH, 'pg_SASL_init', 560],
      'password-no-password': [FE_AUTH, 'pg_fe_sendauth', 1040],
      'check-expected-areq': [FE_AUTH, 'check_expected_areq', 845],
      'appname-retry': [FE_CONNECT, 'PQconnectPoll', 3540],
      'after-auth-error': [FE_CONNECT, 'PQconnectPoll', 3555],
      'target-mismatch': [FE_CONNECT, 'PQconnectPoll', 3623],
      connected: [FE_CONNECT, 'PQconnectPoll', 3696],
      'error-return': [FE_CONNECT, 'PQconnectPoll', 3862],
    },
  },
  16: {
    version: 'libpq 16.6',
    rules: {
      connect: [FE_CONNECT, 'PQconnectPoll', 3043],
      'connect-failed': [FE_CONNECT, 'PQconnectPoll', 3078],
      timeout: [FE_CONNECT, 'connectDBComplete', 2504],
      'ssl-request': [FE_CONNECT, 'PQconnectPoll', 3271],
      'direct-ssl': [FE_CONNECT, 'PQconnectPoll', 3271],
      'send-startup': [FE_CONNECT, 'PQconnectPoll', 3287],
      'ssl-accepted': [FE_CONNECT, 'PQconnectPoll', 3354],
      'ssl-refused-continue': [FE_CONNECT, 'PQconnectPoll', 3381],
      'ssl-refused-required': [FE_CONNECT, 'PQconnectPoll', 3378],
      'ssl-error-response': [FE_CONNECT, 'PQconnectPoll', 3395],
      'tls-failed-retry': [FE_CONNECT, 'PQconnectPoll', 3434],
      'tls-failed': [FE_CONNECT, 'PQconnectPoll', 3444],
      'server-error-next-host': [FE_CONNECT, 'PQconnectPoll', 3712],
      'server-error-retry-allow': [FE_CONNECT, 'PQconnectPoll', 3742],
      'server-error-retry-prefer': [FE_CONNECT, 'PQconnectPoll', 3757],
      'server-error-fail': [FE_CONNECT, 'PQconnectPoll', 3769],
      sendauth: [FE_CONNECT, 'PQconnectPoll', 3802],
      'sendauth-failed': [FE_CONNECT, 'PQconnectPoll', 3808],
      'sasl-init': [FE_AUTH, 'pg_SASL_init', 422],
      'sasl-plus': [FE_AUTH, 'pg_SASL_init', 489],
      'sasl-plain': [FE_AUTH, 'pg_SASL_init', 524],
      'sasl-continue': [FE_AUTH, 'pg_SASL_continue', 628],
      'password-sendauth': [FE_AUTH, 'pg_password_sendauth', 702],
      'sasl-no-password': [FE_AUTH, 'pg_SASL_init', 559],
      'password-no-password': [FE_AUTH, 'pg_fe_sendauth', 1102],
      'check-expected-areq': [FE_AUTH, 'check_expected_areq', 803],
      'appname-retry': [FE_CONNECT, 'PQconnectPoll', 3883],
      'after-auth-error': [FE_CONNECT, 'PQconnectPoll', 3898],
      'target-mismatch': [FE_CONNECT, 'PQconnectPoll', 3964],
      connected: [FE_CONNECT, 'PQconnectPoll', 4035],
      'error-return': [FE_CONNECT, 'PQconnectPoll', 4196],
    },
  },
  // 17 and 18: the retry decisions are connection_failed() / encryption_negotiation_failed(),
  // reached through the CONNECTION_FAILED() and ENCRYPTION_NEGOTIATION_FAILED() macros; the
  // lines are those call sites in PQconnectPoll.
  17: {
    version: 'libpq 17.2',
    rules: {
      connect: [FE_CONNECT, 'PQconnectPoll', 3168],
      'connect-failed': [FE_CONNECT, 'PQconnectPoll', 3203],
      timeout: [FE_CONNECT, 'pqConnectDBComplete', 2554],
      'ssl-request': [FE_CONNECT, 'PQconnectPoll', 3377],
      'direct-ssl': [FE_CONNECT, 'PQconnectPoll', 3390],
      'send-startup': [FE_CONNECT, 'PQconnectPoll', 3426],
      'ssl-accepted': [FE_CONNECT, 'PQconnectPoll', 3494],
      'ssl-refused-continue': [FE_CONNECT, 'encryption_negotiation_failed', 4356],
      'ssl-refused-required': [FE_CONNECT, 'PQconnectPoll', 3509],
      'ssl-error-response': [FE_CONNECT, 'PQconnectPoll', 3519],
      'tls-failed-retry': [FE_CONNECT, 'PQconnectPoll', 3566],
      'tls-failed': [FE_CONNECT, 'PQconnectPoll', 3566],
      'server-error-next-host': [FE_CONNECT, 'PQconnectPoll', 3832],
      'server-error-retry-allow': [FE_CONNECT, 'PQconnectPoll', 3841],
      'server-error-retry-prefer': [FE_CONNECT, 'PQconnectPoll', 3841],
      'server-error-fail': [FE_CONNECT, 'PQconnectPoll', 3841],
      sendauth: [FE_CONNECT, 'PQconnectPoll', 3874],
      'sendauth-failed': [FE_CONNECT, 'PQconnectPoll', 3880],
      'sasl-init': [FE_AUTH, 'pg_SASL_init', 422],
      'sasl-plus': [FE_AUTH, 'pg_SASL_init', 487],
      'sasl-plain': [FE_AUTH, 'pg_SASL_init', 523],
      'sasl-continue': [FE_AUTH, 'pg_SASL_continue', 628],
      'password-sendauth': [FE_AUTH, 'pg_password_sendauth', 700],
      'sasl-no-password': [FE_AUTH, 'pg_SASL_init', 559],
      'password-no-password': [FE_AUTH, 'pg_fe_sendauth', 1101],
      'check-expected-areq': [FE_AUTH, 'check_expected_areq', 802],
      'appname-retry': [FE_CONNECT, 'PQconnectPoll', 3955],
      'after-auth-error': [FE_CONNECT, 'PQconnectPoll', 3970],
      'target-mismatch': [FE_CONNECT, 'PQconnectPoll', 4036],
      connected: [FE_CONNECT, 'PQconnectPoll', 4113],
      'error-return': [FE_CONNECT, 'PQconnectPoll', 4274],
    },
  },
  18: {
    version: 'libpq 18.4',
    rules: {
      connect: [FE_CONNECT, 'PQconnectPoll', 3481],
      'connect-failed': [FE_CONNECT, 'PQconnectPoll', 3516],
      timeout: [FE_CONNECT, 'pqConnectDBComplete', 2866],
      'ssl-request': [FE_CONNECT, 'PQconnectPoll', 3680],
      'direct-ssl': [FE_CONNECT, 'PQconnectPoll', 3693],
      'send-startup': [FE_CONNECT, 'PQconnectPoll', 3723],
      'ssl-accepted': [FE_CONNECT, 'PQconnectPoll', 3791],
      'ssl-refused-continue': [FE_CONNECT, 'encryption_negotiation_failed', 4761],
      'ssl-refused-required': [FE_CONNECT, 'PQconnectPoll', 3812],
      'ssl-error-response': [FE_CONNECT, 'PQconnectPoll', 3822],
      'tls-failed-retry': [FE_CONNECT, 'PQconnectPoll', 3861],
      'tls-failed': [FE_CONNECT, 'PQconnectPoll', 3861],
      'server-error-next-host': [FE_CONNECT, 'PQconnectPoll', 4136],
      'server-error-retry-allow': [FE_CONNECT, 'PQconnectPoll', 4145],
      'server-error-retry-prefer': [FE_CONNECT, 'PQconnectPoll', 4145],
      'server-error-fail': [FE_CONNECT, 'PQconnectPoll', 4145],
      sendauth: [FE_CONNECT, 'PQconnectPoll', 4187],
      'sendauth-failed': [FE_CONNECT, 'PQconnectPoll', 4218],
      'sasl-init': [FE_AUTH, 'pg_SASL_init', 435],
      'sasl-plus': [FE_AUTH, 'pg_SASL_init', 500],
      'sasl-plain': [FE_AUTH, 'pg_SASL_init', 536],
      'sasl-continue': [FE_AUTH, 'pg_SASL_continue', 704],
      'password-sendauth': [FE_AUTH, 'pg_password_sendauth', 796],
      'sasl-no-password': [FE_AUTH, 'pg_SASL_init', 601],
      'password-no-password': [FE_AUTH, 'pg_fe_sendauth', 1208],
      'check-expected-areq': [FE_AUTH, 'check_expected_areq', 903],
      'appname-retry': [FE_CONNECT, 'PQconnectPoll', 4357],
      'after-auth-error': [FE_CONNECT, 'PQconnectPoll', 4372],
      'target-mismatch': [FE_CONNECT, 'PQconnectPoll', 4438],
      connected: [FE_CONNECT, 'PQconnectPoll', 4518],
      'error-return': [FE_CONNECT, 'PQconnectPoll', 4679],
    },
  },
};

/** The SourceRef of one rule in one major's libpq. */
export function libpqSource(major: LibpqMajor, rule: LibpqRule): SourceRef {
  const m = BY_MAJOR[major];
  const [file, fn, line, version] = m.rules[rule];
  return { file, function: fn, line, version: version ?? m.version };
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
