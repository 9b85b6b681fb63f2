/**
 * The part of InitPostgres that runs after authentication: role, slot and
 * database checks, the startup packet's GUCs, then the session's first
 * messages. Failures here come after AuthenticationOk, so the hook has
 * already seen STATUS_OK.
 */
import { PgError } from '../errors.js';
import type { ClientConnection } from '../connection.js';
import { toNoticeResponse } from '../wire/codec.js';
import { applyStartupGucs, reportedParameters } from './parameters.js';
import { Session } from './session.js';
import { UTILITY_STATEMENTS } from './utility.js';

export async function initPostgres(be: ClientConnection): Promise<Session> {
  const port = be.port;
  const user = port.user_name;
  const role = be.ctx.roles.get(user);
  if (!role) {
    throw new PgError({ severity: 'FATAL', sqlstate: '28000', message: `role "${user}" does not exist`, file: 'miscinit.c', line: 768, routine: 'InitializeSessionUserId' });
  }
  if (!role.canLogin) {
    throw new PgError({ severity: 'FATAL', sqlstate: '28000', message: `role "${user}" is not permitted to log in`, file: 'miscinit.c', line: 821, routine: 'InitializeSessionUserId' });
  }
  const sessions = be.ctx.backends().filter((b) => b.phase.name === 'session');
  if (role.connectionLimit >= 0 && !role.superuser && sessions.filter((b) => b.port.user_name === user).length > role.connectionLimit) {
    throw new PgError({ severity: 'FATAL', sqlstate: '53300', message: `too many connections for role "${user}"`, file: 'miscinit.c', line: 842, routine: 'InitializeSessionUserId' });
  }
  const reserved = be.settings.superuserReservedConnections;
  const free = be.settings.maxConnections - be.ctx.procCount();
  if (!role.superuser && reserved > 0 && free < reserved) {
    // 16 reworded this when it added reserved_connections.
    const message = be.settings.serverMajor >= 16
      ? 'remaining connection slots are reserved for roles with the SUPERUSER attribute'
      : 'remaining connection slots are reserved for non-replication superuser connections';
    throw new PgError({ severity: 'FATAL', sqlstate: '53300', message, file: 'postinit.c', line: 886, routine: 'InitPostgres' });
  }
  const db = be.settings.databases.find((d) => d.name === port.database_name);
  if (!db) {
    throw new PgError({ severity: 'FATAL', sqlstate: '3D000', message: `database "${port.database_name}" does not exist`, file: 'postinit.c', line: 948, routine: 'InitPostgres' });
  }
  if (!db.allowConnections) {
    throw new PgError({ severity: 'FATAL', sqlstate: '55000', message: `database "${db.name}" is not currently accepting connections`, file: 'postinit.c', line: 350, routine: 'CheckMyDatabase' });
  }
  if (db.connectionLimit >= 0 && !role.superuser && sessions.filter((b) => b.port.database_name === db.name).length > db.connectionLimit) {
    throw new PgError({ severity: 'FATAL', sqlstate: '53300', message: `too many connections for database "${db.name}"`, file: 'postinit.c', line: 384, routine: 'CheckMyDatabase' });
  }
  const session = new Session(be, { name: user, oid: role.oid, superuser: role.superuser }, UTILITY_STATEMENTS);
  applyStartupGucs(session.settings, port.guc_options, port.cmdline_options, be.settings.serverMajor, (notice) => {
    be.emit({ type: 'error', error: notice, toClient: true, toLog: false });
    be.send(toNoticeResponse(notice));
  });
  be.session = session;
  const reported = reportedParameters(session.settings, be.settings.serverMajor);
  session.settings.markReported(reported);
  for (const [name, value] of reported) {
    be.send({ type: 'ParameterStatus', name, value });
  }
  if (be.settings.serverMajor >= 18 && be.frontendProtocol.minor >= 2) be.cancelKey = be.ctx.random.bytes(32);
  be.send({ type: 'BackendKeyData', pid: be.pid, key: be.cancelKey });
  be.send({ type: 'ReadyForQuery', status: 'I' });
  be.flush();
  be.emit({ type: 'session-started', user, database: port.database_name });
  return session;
}
