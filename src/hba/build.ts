/**
 * Compile-time features that change how pg_hba.conf is read, kept in one place.
 *
 * The default mirrors the Debian/Ubuntu PostgreSQL 15 package (checked with `pg_config --configure`
 * on the installed 15.20): --with-openssl --with-gssapi --with-ldap (OpenLDAP) --with-pam.
 * BSD auth is OpenBSD-only and SSPI Windows-only, so both are "not supported by this build".
 * RADIUS needs no library and is always available.
 */
export interface HbaBuildFeatures {
  /** USE_SSL: `hostssl` can match and the `cert` method exists. */
  ssl: boolean;
  /** ENABLE_GSS: the `gss` method and `hostgssenc` lines. */
  gssapi: boolean;
  /** ENABLE_SSPI (Windows only). */
  sspi: boolean;
  /** USE_PAM. */
  pam: boolean;
  /** USE_BSD_AUTH (OpenBSD only). */
  bsdAuth: boolean;
  /** USE_LDAP. */
  ldap: boolean;
  /** OpenLDAP: `ldapurl` is parsed and `ldapserver` is optional (DNS SRV lookup). */
  openLdap: boolean;
  /** HAVE_UNIX_SOCKETS: `local` lines. */
  unixSockets: boolean;
}

export const DEBIAN_PG15_BUILD: Readonly<HbaBuildFeatures> = Object.freeze({
  ssl: true,
  gssapi: true,
  sspi: false,
  pam: true,
  bsdAuth: false,
  ldap: true,
  openLdap: true,
  unixSockets: true,
});

/**
 * Server major versions whose pg_hba.conf dialect is implemented. 16 adds include directives,
 * regular expressions in DATABASE/USER, different @file messages and FATAL wording (see
 * pg-server.md §5.4); a later version flag belongs here when someone implements them.
 */
export const SUPPORTED_HBA_VERSIONS: readonly number[] = [15];

export function assertSupportedVersion(version: number): void {
  if (!SUPPORTED_HBA_VERSIONS.includes(version)) {
    throw new RangeError(`pg_hba.conf rules of PostgreSQL ${version} are not implemented (supported: ${SUPPORTED_HBA_VERSIONS.join(', ')})`);
  }
}
