/**
 * Run a utility statement or a function call against a server's SqlRegistry, parsed by
 * libpg-query (PostgreSQL 15's grammar), the way the session's SQL front end dispatches it:
 * by parse-tree node name to the registered handler, with the caller's role.
 */
import { parse } from 'libpg-query';
import { PgError, type PgErrorFields } from '../../src/errors.js';
import type { PgServer } from '../../src/server/server.js';
import type { SqlCallContext, UtilityResult } from '../../src/sql/registry.js';

export interface UtilityRun {
  result?: UtilityResult;
  error?: PgErrorFields;
  notices: PgErrorFields[];
}

/** `user` is the current role (SET ROLE), `sessionUser` the one that logged in (default: the same). */
export function callContext(server: PgServer, user: string, notices: PgErrorFields[], settings: Record<string, string> = {}, sessionUser = user): SqlCallContext {
  const role = server.roles.get(user);
  if (!role) throw new Error(`no role ${user}`);
  return {
    user, userOid: role.oid, superuser: role.superuser, database: 'postgres', pid: 4242,
    sessionUserOid: server.roles.get(sessionUser)?.oid ?? role.oid,
    notice: (f) => { notices.push({ ...f }); },
    setting: (name) => settings[name],
  };
}

export async function runUtility(server: PgServer, sql: string, user: string, settings: Record<string, string> = {}, sessionUser = user): Promise<UtilityRun> {
  const notices: PgErrorFields[] = [];
  const tree = await parse(sql) as { stmts: Array<{ stmt: Record<string, unknown> }> };
  const stmt = tree.stmts[0]!.stmt;
  const [nodeName, node] = Object.entries(stmt)[0]!;
  const handler = server.sql.lookupUtility(nodeName);
  if (!handler) throw new Error(`no handler for ${nodeName}`);
  try {
    return { result: await handler(node, callContext(server, user, notices, settings, sessionUser), sql), notices };
  } catch (e) {
    if (e instanceof PgError) return { error: e.fields, notices };
    throw e;
  }
}

/** `SELECT f()` for a registered function with no arguments: EXECUTE privilege as the registry says. */
export async function callFunction(server: PgServer, name: string, user: string): Promise<{ value?: unknown; error?: PgErrorFields }> {
  const notices: PgErrorFields[] = [];
  const def = server.sql.lookupFunctions(name)[0];
  if (!def) throw new Error(`no function ${name}`);
  const ctx = callContext(server, user, notices);
  if ((def.execute ?? 'superuser') === 'superuser' && !ctx.superuser) {
    return { error: { severity: 'ERROR', sqlstate: '42501', message: `permission denied for function ${name}` } };
  }
  try {
    return { value: await def.call([], ctx) };
  } catch (e) {
    if (e instanceof PgError) return { error: e.fields };
    throw e;
  }
}
