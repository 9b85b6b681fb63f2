/**
 * Driver profiles: name → a model of that driver's connect() plus the options it understands,
 * so `pg-authsim matrix --client NAME` (or a test) can ask "how many connections and hook calls
 * does MY driver make?" without the driver installed.
 *
 * Each model was run side by side with the real driver against the simulator and against
 * PostgreSQL 15 (spec/clients/drivers.spec.ts). Common to all: one host, TCP only, no GSS.
 */
import { connectAsyncpg, ASYNCPG_SSLMODES } from './asyncpg.js';
import { connectLibPqGo, LIBPQ_GO_VERSION } from './lib-pq.js';
import { connectNodePostgres } from './node-postgres.js';
import { PGJDBC_SSLMODES, connectPgjdbc } from './pgjdbc.js';
import { connectPgx, PGX_SSLMODES, PGX_VERSION } from './pgx.js';
import { connectPostgresJs } from './postgres-js.js';
import type { ConnectRequest, DriverEnv, DriverOption, DriverProfile, DriverResult } from './types.js';

export * from './types.js';
export {
  runDriver, DriverRun, refusedBeforeConnecting, startupMessage, sourceTable, src, randomOf, readFileOf, environOf,
  type DriverDefinition, type AttemptSpec, type AttemptEnd, type AuthResponder, type AuthContext, type AuthStep,
  type Failure, type NextStep, type SslAnswerAction, type EngineStep,
} from './engine.js';
export { DriverScram, type DriverScramOptions } from './scram.js';
export { DriverSocket } from './wire.js';
export { connectNodePostgres, nodePostgresParams, parseConnectionString, type NodePostgresConfig, type NodePostgresModelOptions, type NodePgSslObject } from './node-postgres.js';
export { connectPostgresJs, postgresJsParams, type PostgresJsOptions, type PostgresJsModelOptions } from './postgres-js.js';
export { connectPgjdbc, pgjdbcSslMode, pgjdbcServerMessage, PGJDBC_SSLMODES, type PgjdbcProperties } from './pgjdbc.js';
export { connectAsyncpg, ASYNCPG_SSLMODES, type AsyncpgConnectArgs } from './asyncpg.js';
export { connectPgx, pgxConfig, pgxPgErrorText, PGX_SSLMODES, PGX_VERSION, type PgxSettings, type PgxModelOptions } from './pgx.js';
export { connectLibPqGo, libPqGoValues, LIBPQ_GO_SSLMODES, LIBPQ_GO_VERSION, type LibPqGoValues, type LibPqGoModelOptions } from './lib-pq.js';

/** postgres://user:password@host:port/db?k=v, each part escaped. */
function url(r: ConnectRequest, params: Array<[string, string]>): string {
  const auth = encodeURIComponent(r.user) + (r.password === null ? '' : `:${encodeURIComponent(r.password)}`);
  const query = params.map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(v)}`).join('&');
  return `postgres://${auth}@${r.host.includes(':') ? `[${r.host}]` : r.host}:${r.port}/${encodeURIComponent(r.database)}${query ? `?${query}` : ''}`;
}

const PG_URL_KEYS = ['sslmode', 'sslrootcert', 'sslcert', 'sslkey', 'ssl', 'sslnegotiation', 'application_name'] as const;

function pgOptions(libpqCompat: boolean): DriverOption[] {
  return [
    {
      name: 'sslmode',
      values: libpqCompat
        ? ['disable', 'allow', 'prefer', 'require', 'verify-ca', 'verify-full']
        : ['disable', 'allow', 'prefer', 'require', 'verify-ca', 'verify-full', 'no-verify'],
      unset: 'no TLS (ssl: false), unless PGSSLMODE says otherwise',
      description: libpqCompat
        ? 'URL parameter with uselibpqcompat=true: prefer and require are TLS without verification (never plaintext), verify-ca checks the chain only, allow is verified TLS'
        : 'URL parameter: prefer/require/verify-ca act as verify-full, allow as verified TLS, no-verify as unverified TLS; never a plaintext fallback',
    },
    { name: 'sslrootcert', unset: "Node's default CA store", description: 'file read into ssl.ca (its presence alone turns TLS on)' },
    { name: 'sslcert', unset: 'no client certificate', description: 'file read into ssl.cert (turns TLS on)' },
    { name: 'sslkey', unset: 'no client key', description: 'file read into ssl.key (turns TLS on)' },
    { name: 'ssl', values: ['true', '1', '0', 'no-verify'], unset: 'see sslmode', description: 'URL parameter ssl=' },
    { name: 'sslnegotiation', values: ['postgres', 'direct'], unset: 'postgres (SSLRequest first)', description: 'direct: TLS at once with ALPN postgresql' },
    { name: 'application_name', unset: 'not sent', description: 'startup parameter' },
    { name: 'enableChannelBinding', values: ['true', 'false'], unset: 'false (SCRAM-SHA-256 even over TLS)', description: 'Client config: SCRAM-SHA-256-PLUS when offered' },
    {
      name: 'afterRejection', values: ['end', 'destroy', 'keep-open'], unset: 'end',
      description: 'model only: what the application does when connect() rejects with the socket open (no password): client.end(), process exit, or nothing (server waits for authentication_timeout)',
    },
  ];
}

function pgProfile(libpqCompat: boolean): DriverProfile {
  const name = libpqCompat ? 'pg-libpqcompat' : 'pg';
  return {
    name,
    aliases: libpqCompat ? ['node-postgres-libpqcompat'] : ['node-postgres'],
    version: 'pg 8.23.1, pg-connection-string 2.14.1',
    source: 'pg-connection-string/index.js parse(); pg/lib/connection-parameters.js; pg/lib/connection.js connect(), upgradeToSSL(); pg/lib/client.js, pg/lib/crypto/sasl.js',
    runtime: 'node',
    options: pgOptions(libpqCompat),
    fromLibpq(keyword, value) {
      if (keyword === 'sslnegotiation') return [['sslnegotiation', value]];
      // enableChannelBinding uses -PLUS when offered; nothing makes it required.
      if (keyword === 'channel_binding') return value === 'require' ? null : [['enableChannelBinding', value === 'disable' ? 'false' : 'true']];
      return null;
    },
    connect(r: ConnectRequest, env: DriverEnv): Promise<DriverResult> {
      const o = r.options ?? {};
      const params: Array<[string, string]> = [];
      for (const k of PG_URL_KEYS) if (o[k] !== undefined) params.push([k, o[k]!]);
      if (libpqCompat) params.push(['uselibpqcompat', 'true']);
      const after = o.afterRejection;
      return connectNodePostgres(
        { connectionString: url(r, params), enableChannelBinding: o.enableChannelBinding === 'true' },
        env,
        { driverName: name, ...(after === 'end' || after === 'destroy' || after === 'keep-open' ? { afterRejection: after } : {}) },
      );
    },
  };
}

const postgresJsProfile: DriverProfile = {
  name: 'postgres.js',
  aliases: ['postgres', 'postgres-js'],
  version: 'postgres 3.4.9',
  source: 'postgres/src/index.js parseOptions(), parseUrl(); postgres/src/connection.js secure(), connected(), closed(), SASL(), SASLContinue()',
  runtime: 'node',
  fromLibpq(keyword, value) {
    if (keyword === 'sslnegotiation') return value === 'direct' ? [['sslnegotiation', 'direct']] : value === 'postgres' ? [] : null;
    return null;
  },
  options: [
    {
      name: 'sslmode', values: ['disable', 'false', 'allow', 'prefer', 'require', 'verify-full'], unset: 'no TLS (ssl: false); PGSSL, not PGSSLMODE, is read',
      description: 'URL parameter copied into ssl: require/allow/prefer are TLS without verification, prefer alone goes plaintext on the same socket when the answer is not S; verify-full (or any other word) is TLS with Node verification',
    },
    { name: 'sslrootcert', values: ['system'], unset: '-', description: 'sslrootcert=system forces verify-full (and, like any unknown URL parameter, is also sent as a startup parameter)' },
    { name: 'sslnegotiation', values: ['direct'], unset: 'SSLRequest first', description: 'direct: TLS at once with ALPN postgresql' },
    { name: 'stormLimit', unset: '5', description: 'model only: silent closes before the model stops the reconnect loop the driver keeps up' },
  ],
  connect(r, env) {
    const o = r.options ?? {};
    const params: Array<[string, string]> = [];
    for (const k of ['sslmode', 'sslrootcert', 'sslnegotiation']) if (o[k] !== undefined) params.push([k, o[k]!]);
    const limit = o.stormLimit !== undefined ? Number(o.stormLimit) : undefined;
    return connectPostgresJs(url(r, params), {}, env, { driverName: 'postgres.js', ...(limit !== undefined && limit > 0 ? { stormLimit: limit } : {}) });
  },
};

const pgjdbcProfile: DriverProfile = {
  name: 'pgjdbc',
  aliases: ['jdbc'],
  version: 'pgjdbc 42.7.13',
  source: 'org/postgresql/core/v3/ConnectionFactoryImpl.java openConnectionImpl(), tryConnect(), enableSSL(), doAuthentication(); org/postgresql/jdbc/SslMode.java of(); org/postgresql/ssl/LibPQFactory.java',
  runtime: 'jvm',
  fromLibpq(keyword, value) {
    if (keyword === 'sslnegotiation') return [['sslNegotiation', value]];
    if (keyword === 'channel_binding') return [['channelBinding', value]];
    return null;
  },
  options: [
    {
      name: 'sslmode', values: PGJDBC_SSLMODES, unset: 'prefer (verify-full when ssl=true)',
      description: 'allow starts in plaintext; prefer starts with SSLRequest; a retry happens only after SQLSTATE 28000 (or, under allow, an I/O error), never after a wrong password (28P01)',
    },
    { name: 'ssl', values: ['true', ''], unset: 'not set', description: 'ssl=true without sslmode means verify-full' },
    { name: 'sslNegotiation', values: ['postgres', 'direct'], unset: 'postgres', description: 'direct: TLS at once with ALPN postgresql' },
    { name: 'sslrootcert', unset: '~/.postgresql/root.crt', description: 'root certificate for verify-ca/verify-full' },
    { name: 'channelBinding', values: ['disable', 'prefer', 'require'], unset: 'prefer (SCRAM-SHA-256-PLUS over TLS)', description: 'SCRAM channel binding' },
    { name: 'assumeMinServerVersion', unset: 'none (application_name is then SET after login, not sent at startup)', description: 'e.g. 9.0' },
    { name: 'ApplicationName', unset: 'PostgreSQL JDBC Driver', description: 'sent at startup only with assumeMinServerVersion ≥ 9.0' },
  ],
  connect(r, env) {
    const o = r.options ?? {};
    const cb = o.channelBinding;
    const neg = o.sslNegotiation;
    return connectPgjdbc({
      host: r.host, port: r.port, user: r.user, database: r.database, password: r.password,
      ...(o.sslmode !== undefined ? { sslmode: o.sslmode } : {}),
      ...(o.ssl !== undefined ? { ssl: o.ssl } : {}),
      ...(neg === 'postgres' || neg === 'direct' ? { sslNegotiation: neg } : {}),
      ...(o.sslrootcert !== undefined ? { sslrootcert: o.sslrootcert } : {}),
      ...(cb === 'disable' || cb === 'prefer' || cb === 'require' ? { channelBinding: cb } : {}),
      ...(o.assumeMinServerVersion !== undefined ? { assumeMinServerVersion: o.assumeMinServerVersion } : {}),
      ...(o.ApplicationName !== undefined ? { ApplicationName: o.ApplicationName } : {}),
    }, env, { driverName: 'pgjdbc' });
  },
};

const asyncpgProfile: DriverProfile = {
  name: 'asyncpg',
  aliases: [],
  version: 'asyncpg 0.31.0 (same connect logic since 0.27)',
  source: 'asyncpg/connect_utils.py _parse_connect_dsn_and_args(), _connect_addr(), __connect_addr(), TLSUpgradeProto; asyncpg/protocol/coreproto.pyx',
  runtime: 'python',
  fromLibpq(keyword, value) {
    if (keyword === 'sslnegotiation') return value === 'direct' || value === 'postgres' ? [['direct_tls', value === 'direct' ? 'true' : 'false']] : null;
    return null;
  },
  options: [
    {
      name: 'sslmode', values: ASYNCPG_SSLMODES, unset: 'PGSSLMODE, else prefer on TCP',
      description: 'like libpq on errors: allow = plain then SSL, prefer = SSL then plain, retried after 28000/28P01 or a close, so a wrong or missing password costs two hook calls',
    },
    { name: 'sslrootcert', unset: 'PGSSLROOTCERT, else ~/.postgresql/root.crt', description: 'makes require verify the chain; needed by verify-ca/verify-full' },
    { name: 'direct_tls', values: ['true', 'false'], unset: 'false', description: 'TLS at once with ALPN postgresql' },
  ],
  connect(r, env) {
    const o = r.options ?? {};
    return connectAsyncpg({
      host: r.host, port: r.port, user: r.user, database: r.database, password: r.password,
      ...(o.sslmode !== undefined ? { ssl: o.sslmode } : {}),
      ...(o.sslrootcert !== undefined ? { sslrootcert: o.sslrootcert } : {}),
      ...(o.direct_tls === 'true' ? { direct_tls: true } : {}),
    }, env, { driverName: 'asyncpg' });
  },
};

/** Settings both Go drivers take from a URL's query (libpq's names). */
const GO_URL_KEYS = ['sslmode', 'sslrootcert', 'sslsni', 'application_name'] as const;

const pgxProfile: DriverProfile = {
  name: 'pgx',
  aliases: ['pgx-v4', 'pgconn', 'jackc/pgx'],
  version: PGX_VERSION,
  source: 'pgconn/config.go ParseConfig(), configTLS(); pgconn/pgconn.go ConnectConfig(), connect(), startTLS(); pgconn/auth_scram.go (Debian golang-github-jackc-pgconn-dev 1.11.0)',
  runtime: 'go',
  // pgconn 1.11 has neither direct SSL nor GSS encryption nor channel binding.
  fromLibpq: (keyword, value) => (keyword === 'sslnegotiation' && value === 'postgres' ? [] : null),
  options: [
    {
      name: 'sslmode', values: PGX_SSLMODES, unset: 'PGSSLMODE, else prefer',
      description: 'fallback configs, each a new TCP connection: allow = plaintext then TLS, prefer = TLS then plaintext; the chain stops only at a bare 28P01/28000 error, and a SCRAM failure is not one: a wrong password costs two logins with scram-sha-256, one with md5',
    },
    { name: 'sslrootcert', unset: '~/.postgresql/root.crt if it exists', description: 'the CA pool; makes require check the chain (as verify-ca)' },
    { name: 'application_name', unset: 'not sent', description: 'startup parameter' },
  ],
  connect(r, env) {
    const o = r.options ?? {};
    const params: Array<[string, string]> = [];
    for (const k of GO_URL_KEYS) if (o[k] !== undefined && k !== 'sslsni') params.push([k, o[k]!]);
    const settings: Record<string, string> = { host: r.host, port: String(r.port), user: r.user, database: r.database, ...Object.fromEntries(params) };
    if (r.password !== null) settings.password = r.password;
    return connectPgx(settings, env, url(r, params), { driverName: 'pgx' });
  },
};

const libPqGoProfile: DriverProfile = {
  name: 'lib/pq',
  aliases: ['pq', 'lib-pq', 'go-pq'],
  version: LIBPQ_GO_VERSION,
  source: 'lib/pq ssl.go ssl(); conn.go open(), ssl(), startup(), auth(); connector.go NewConnector() (Debian golang-github-lib-pq-dev 1.10.7)',
  runtime: 'go',
  // lib/pq 1.10.7 has neither direct SSL nor GSS encryption nor channel binding.
  fromLibpq: (keyword, value) => (keyword === 'sslnegotiation' && value === 'postgres' ? [] : null),
  options: [
    {
      name: 'sslmode', values: ['disable', 'allow', 'prefer', 'require', 'verify-ca', 'verify-full'], unset: 'require (PGSSLMODE if set)',
      description: 'one TCP connection, never a plaintext fallback; allow and prefer are refused after the TCP connection is open; require+sslrootcert and verify-ca check the host name too',
    },
    { name: 'sslrootcert', unset: 'system roots', description: 'the CA pool; makes require check the chain and host name when the file exists' },
    { name: 'sslsni', values: ['0', '1'], unset: '1 (ServerName = host, which verify-ca then checks)', description: "0: no ServerName, verify-ca checks the chain only" },
    { name: 'application_name', unset: 'not sent', description: 'startup parameter' },
  ],
  connect(r, env) {
    const o = r.options ?? {};
    const values: Record<string, string> = { host: r.host, port: String(r.port), user: r.user, dbname: r.database };
    // lib/pq's ParseURL keeps only non-empty values: an empty password is no password.
    if (r.password) values.password = r.password;
    for (const k of GO_URL_KEYS) if (o[k] !== undefined) values[k] = o[k]!;
    return connectLibPqGo(values, env, { driverName: 'lib/pq' });
  },
};

export const DRIVER_PROFILES: Readonly<Record<string, DriverProfile>> = {
  pg: pgProfile(false),
  'pg-libpqcompat': pgProfile(true),
  'postgres.js': postgresJsProfile,
  pgjdbc: pgjdbcProfile,
  asyncpg: asyncpgProfile,
  pgx: pgxProfile,
  'lib/pq': libPqGoProfile,
};

/** A profile by name or alias (case-insensitive), or undefined. */
export function driverProfile(name: string): DriverProfile | undefined {
  const n = name.toLowerCase();
  return Object.values(DRIVER_PROFILES).find((p) => p.name.toLowerCase() === n || p.aliases.some((a) => a.toLowerCase() === n));
}
