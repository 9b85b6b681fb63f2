/**
 * Build-time constants libpq is compiled with, and the socket-path test every part of it uses
 * (pg_config_manual.h, pg_config.h, port.h's is_unixsock_path()). Its own module so that the
 * conninfo parser and the password file reader both depend on it instead of on each other.
 */

/** Where PostgreSQL's Debian build looks for the server socket (DEFAULT_PGSOCKET_DIR). */
export const DEFAULT_PGSOCKET_DIR = '/var/run/postgresql';
export const DEF_PGPORT_STR = '5432';

/** is_unixsock_path(): an absolute path (or a Windows drive path, not modelled). */
export function isUnixSocketPath(host: string): boolean {
  return host.startsWith('/');
}
