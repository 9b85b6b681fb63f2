/** The resolved server configuration a backend consults; built from postgresql.conf or given directly. */
export interface TlsMaterial {
  cert: Buffer;
  key: Buffer;
  ca: Buffer | null;
  minVersion: 'TLSv1' | 'TLSv1.1' | 'TLSv1.2' | 'TLSv1.3';
  maxVersion: 'TLSv1' | 'TLSv1.1' | 'TLSv1.2' | 'TLSv1.3' | null;
}

export interface ServerSettings {
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

export const DEFAULT_SERVER_VERSION = '15.20 (Debian 15.20-0+deb12u1)';

export function defaultDatabases(): DatabaseInfo[] {
  return [
    { name: 'postgres', allowConnections: true, connectionLimit: -1 },
    { name: 'template1', allowConnections: true, connectionLimit: -1 },
    { name: 'template0', allowConnections: false, connectionLimit: -1 },
  ];
}

export function defaultSettings(overrides: Partial<ServerSettings> = {}): ServerSettings {
  return {
    serverVersion: DEFAULT_SERVER_VERSION,
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
