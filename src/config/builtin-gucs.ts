/**
 * The built-in parameters the simulation knows, with PostgreSQL 15's types, contexts, boot
 * values, bounds and units (checked against pg_settings of the installed 15.20 server).
 * Two deliberate differences: TimeZone/log_timezone boot to 'Etc/UTC' (what initdb writes on
 * this machine; PostgreSQL's compiled-in boot value is 'GMT'), and `roles_file` is ours.
 */
import { lookupTimeZone } from '../log/timezone.js';
import { CLIENT_MIN_MESSAGES_OPTIONS, LOG_MIN_MESSAGES_OPTIONS, minMessagesLevel } from '../log/elevel.js';
import { GucRegistry, type GucCheckResult, type GucDef, type GucRegistryOptions } from './guc.js';
import { pg15GucDefs } from './pg15-gucs.js';

/** MAX_BACKENDS (0x3FFFF): the upper bound of the connection-count parameters. */
export const MAX_BACKENDS = 0x3ffff;

/** check_timezone / check_log_timezone: accept what the zone lookup knows, store its canonical name. */
function timezoneCheck(allowNumeric: boolean) {
  return (value: string): GucCheckResult<string> => {
    const zone = lookupTimeZone(value, allowNumeric);
    return zone ? { ok: true, value: zone.name } : { ok: false };
  };
}

/** check_application_name (15): every byte outside printable ASCII becomes '?'. */
export function cleanAscii(value: string): string {
  const bytes = Buffer.from(value, 'utf8');
  let out = '';
  for (const b of bytes) out += b < 32 || b > 126 ? '?' : String.fromCharCode(b);
  return out;
}

/** server_/client_message_level_options: the visible names, then hidden "debug" (= debug2) and extras. */
function messageLevelOptions(visible: readonly string[], hiddenExtra: readonly string[]) {
  return [
    ...visible.map((name) => ({ name, value: minMessagesLevel(name) })),
    { name: 'debug', value: minMessagesLevel('debug'), hidden: true },
    ...hiddenExtra.map((name) => ({ name, value: minMessagesLevel(name), hidden: true })),
  ];
}

const TLS_VERSIONS = [
  { name: 'TLSv1', value: 1 },
  { name: 'TLSv1.1', value: 2 },
  { name: 'TLSv1.2', value: 3 },
  { name: 'TLSv1.3', value: 4 },
];

export const BUILTIN_GUCS: readonly GucDef[] = [
  // Connections
  { name: 'listen_addresses', type: 'string', context: 'postmaster', boot: 'localhost', flags: { list: true },
    description: 'Sets the host name or IP address(es) to listen to.' },
  { name: 'port', type: 'int', context: 'postmaster', boot: 5432, min: 1, max: 65535,
    description: 'Sets the TCP port the server listens on.' },
  { name: 'unix_socket_directories', type: 'string', context: 'postmaster', boot: '/var/run/postgresql',
    flags: { list: true }, description: 'Sets the directories where Unix-domain sockets will be created.' },
  { name: 'max_connections', type: 'int', context: 'postmaster', boot: 100, min: 1, max: MAX_BACKENDS,
    description: 'Sets the maximum number of concurrent connections.' },
  { name: 'superuser_reserved_connections', type: 'int', context: 'postmaster', boot: 3, min: 0, max: MAX_BACKENDS,
    description: 'Sets the number of connection slots reserved for superusers.' },

  // Authentication
  { name: 'authentication_timeout', type: 'int', context: 'sighup', boot: 60, min: 1, max: 600, unit: 's',
    description: 'Sets the maximum allowed time to complete client authentication.' },
  { name: 'password_encryption', type: 'enum', context: 'user', boot: 'scram-sha-256',
    options: [{ name: 'md5', value: 1 }, { name: 'scram-sha-256', value: 2 }],
    description: 'Chooses the algorithm for encrypting passwords.' },
  { name: 'db_user_namespace', type: 'bool', context: 'sighup', boot: false,
    description: 'Enables per-database user names.' },

  // SSL
  { name: 'ssl', type: 'bool', context: 'sighup', boot: false, description: 'Enables SSL connections.' },
  { name: 'ssl_ca_file', type: 'string', context: 'sighup', boot: '', flags: { superuserOnly: true },
    description: 'Location of the SSL certificate authority file.' },
  { name: 'ssl_cert_file', type: 'string', context: 'sighup', boot: 'server.crt', flags: { superuserOnly: true },
    description: 'Location of the SSL server certificate file.' },
  { name: 'ssl_key_file', type: 'string', context: 'sighup', boot: 'server.key', flags: { superuserOnly: true },
    description: 'Location of the SSL server private key file.' },
  { name: 'ssl_crl_file', type: 'string', context: 'sighup', boot: '', flags: { superuserOnly: true },
    description: 'Location of the SSL certificate revocation list file.' },
  { name: 'ssl_crl_dir', type: 'string', context: 'sighup', boot: '', flags: { superuserOnly: true },
    description: 'Location of the SSL certificate revocation list directory.' },
  { name: 'ssl_ciphers', type: 'string', context: 'sighup', boot: 'HIGH:MEDIUM:+3DES:!aNULL',
    flags: { superuserOnly: true }, description: 'Sets the list of allowed SSL ciphers.' },
  { name: 'ssl_prefer_server_ciphers', type: 'bool', context: 'sighup', boot: true,
    description: 'Give priority to server ciphersuite order.' },
  { name: 'ssl_ecdh_curve', type: 'string', context: 'sighup', boot: 'prime256v1', flags: { superuserOnly: true },
    description: 'Sets the curve to use for ECDH.' },
  { name: 'ssl_dh_params_file', type: 'string', context: 'sighup', boot: '', flags: { superuserOnly: true },
    description: 'Location of the SSL DH parameters file.' },
  { name: 'ssl_passphrase_command', type: 'string', context: 'sighup', boot: '', flags: { superuserOnly: true },
    description: 'Command to obtain passphrases for SSL.' },
  { name: 'ssl_passphrase_command_supports_reload', type: 'bool', context: 'sighup', boot: false,
    description: 'Controls whether ssl_passphrase_command is called during server reload.' },
  { name: 'ssl_min_protocol_version', type: 'enum', context: 'sighup', boot: 'TLSv1.2', options: TLS_VERSIONS,
    description: 'Sets the minimum SSL/TLS protocol version to use.' },
  { name: 'ssl_max_protocol_version', type: 'enum', context: 'sighup', boot: '',
    options: [{ name: '', value: 0 }, ...TLS_VERSIONS],
    description: 'Sets the maximum SSL/TLS protocol version to use.' },

  // Files
  { name: 'hba_file', type: 'string', context: 'postmaster', boot: '', flags: { superuserOnly: true },
    description: 'Sets the server\'s "hba" configuration file.' },
  { name: 'ident_file', type: 'string', context: 'postmaster', boot: '', flags: { superuserOnly: true },
    description: 'Sets the server\'s "ident" configuration file.' },
  { name: 'server_version', type: 'string', context: 'postmaster', boot: '15',
    check: (v: string) => (/^\s*(1[5-8])(\.\d+)?\s*$/.test(v) ? { ok: true, value: v.trim() } : { ok: false, detail: 'pg-authsim simulates PostgreSQL 15, 16, 17 and 18.' }),
    description: 'pg-authsim: which PostgreSQL major version to behave like (15–18), optionally with a minor ("17.10").' },
  { name: 'roles_file', type: 'string', context: 'sighup', boot: 'roles.sql', flags: { superuserOnly: true },
    description: 'pg-authsim: the SQL file of CREATE ROLE statements that stands in for pg_authid.' },
  { name: 'bootstrap_superuser', type: 'string', context: 'postmaster', boot: 'postgres', flags: { isName: true },
    check: (v: string) => (v === '' ? { ok: false, detail: 'initdb needs a name for the bootstrap superuser.' } : { ok: true }),
    description: 'pg-authsim: the name of the superuser initdb created (OID 10), like initdb -U.' },
  { name: 'dev_certificates', type: 'bool', context: 'postmaster', boot: false, flags: { superuserOnly: true },
    description: "pg-authsim: with ssl = on and no server certificate of your own, use the repository's TEST-ONLY server certificate (its key is public). Never trusts the development CA for client certificates." },
  { name: 'shared_preload_libraries', type: 'string', context: 'postmaster', boot: '',
    flags: { list: true, superuserOnly: true }, description: 'Lists shared libraries to preload into server.' },

  // Logging
  { name: 'log_line_prefix', type: 'string', context: 'sighup', boot: '%m [%p] ',
    description: 'Controls information prefixed to each log line.' },
  { name: 'log_connections', type: 'bool', context: 'superuser-backend', boot: false,
    description: 'Logs each successful connection.' },
  { name: 'log_disconnections', type: 'bool', context: 'superuser-backend', boot: false,
    description: 'Logs end of a session, including duration.' },
  { name: 'log_hostname', type: 'bool', context: 'sighup', boot: false,
    description: 'Logs the host name in the connection logs.' },
  { name: 'log_error_verbosity', type: 'enum', context: 'superuser', boot: 'default',
    options: [{ name: 'terse', value: 0 }, { name: 'default', value: 1 }, { name: 'verbose', value: 2 }],
    description: 'Sets the verbosity of logged messages.' },
  { name: 'log_min_messages', type: 'enum', context: 'superuser', boot: 'warning',
    options: messageLevelOptions(LOG_MIN_MESSAGES_OPTIONS, []),
    description: 'Sets the message levels that are logged.' },
  { name: 'log_timezone', type: 'string', context: 'sighup', boot: 'Etc/UTC', check: timezoneCheck(false),
    description: 'Sets the time zone to use in log messages.' },

  // Client defaults
  { name: 'TimeZone', type: 'string', context: 'user', boot: 'Etc/UTC', flags: { report: true },
    check: timezoneCheck(true), description: 'Sets the time zone for displaying and interpreting time stamps.' },
  { name: 'client_min_messages', type: 'enum', context: 'user', boot: 'notice',
    options: messageLevelOptions(CLIENT_MIN_MESSAGES_OPTIONS, ['info']),
    description: 'Sets the message levels that are sent to the client.' },
  { name: 'application_name', type: 'string', context: 'user', boot: '', flags: { isName: true, report: true },
    check: (v: string) => ({ ok: true, value: cleanAscii(v) }),
    description: 'Sets the application name to be reported in statistics and logs.' },
];

/** The rest of PostgreSQL 15's parameters (pg_settings as captured), after the ones above. */
const ALL_GUCS: readonly GucDef[] = [...BUILTIN_GUCS, ...pg15GucDefs(new Set(BUILTIN_GUCS.map((d) => d.name.toLowerCase())))];

let bootRegistry: GucRegistry | null = null;

/** A registry holding the built-in parameters at their boot values (a copy of one built once per process). */
export function createGucRegistry(options: GucRegistryOptions = {}): GucRegistry {
  bootRegistry ??= new GucRegistry(ALL_GUCS);
  return bootRegistry.fork(options);
}
