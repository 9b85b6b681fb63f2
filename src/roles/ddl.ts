/**
 * Role DDL from sessions: the CreateRoleStmt, AlterRoleStmt and DropRoleStmt parse trees that
 * libpg-query (PostgreSQL 15's own grammar) gives, turned into user.c calls. Registered as
 * utility handlers in the server's SqlRegistry; the SQL front end parses and dispatches.
 */
import { PgError } from '../errors.js';
import type { Random } from '../random.js';
import type { PasswordEncryption } from '../auth/secrets.js';
import type { HookSlots } from '../hooks/slots.js';
import type { SqlCallContext, SqlRegistry, UtilityResult } from '../sql/registry.js';
import type { RoleCatalog } from './catalog.js';
import { alterRole, createRole, dropRoles, renameRole, revokeRoles, type RoleDdlEnv, type RoleOptions, type RoleRef } from './user.js';
import { notSimulated } from '../session/utility.js';

/** What the handlers need of the server. */
export interface RoleDdlHost {
  readonly roles: RoleCatalog;
  readonly random: Random;
  readonly hooks: HookSlots;
  /** The server-wide password_encryption, when the session does not say. */
  passwordEncryption(): PasswordEncryption;
}

// ---- libpg-query node shapes (PostgreSQL 15 JSON output; zero and false values may be absent) ----

interface PgNode { [kind: string]: unknown }
interface RoleSpecNode { roletype?: string; rolename?: string; location?: number }
interface DefElemNode { defname: string; arg?: PgNode; location?: number }

function defElems(options: unknown): DefElemNode[] {
  return Array.isArray(options) ? options.map((o) => (o as { DefElem: DefElemNode }).DefElem) : [];
}

function roleSpec(node: RoleSpecNode): RoleRef {
  const at = node.location;
  switch (node.roletype) {
    case 'ROLESPEC_CSTRING': return { kind: 'name', name: node.rolename ?? '', at };
    case 'ROLESPEC_CURRENT_USER': return { kind: 'current_user', at };
    case 'ROLESPEC_CURRENT_ROLE': return { kind: 'current_role', at };
    case 'ROLESPEC_SESSION_USER': return { kind: 'session_user', at };
    default: return { kind: 'public', at };
  }
}

function roleList(arg: PgNode | undefined): RoleRef[] {
  const items = (arg?.List as { items?: Array<{ RoleSpec: RoleSpecNode }> } | undefined)?.items ?? [];
  return items.map((i) => roleSpec(i.RoleSpec));
}

const boolOf = (arg: PgNode | undefined): boolean => (arg?.Boolean as { boolval?: boolean } | undefined)?.boolval === true;
const intOf = (arg: PgNode | undefined): number => (arg?.Integer as { ival?: number } | undefined)?.ival ?? 0;
const strOf = (arg: PgNode | undefined): string => (arg?.String as { sval?: string } | undefined)?.sval ?? '';

/**
 * CreateRole/AlterRole's option loop: each option once ("conflicting or redundant options"),
 * SYSID's NOTICE where it is met.
 */
function roleOptions(options: unknown, notice: (m: string) => void): RoleOptions {
  const o: RoleOptions = {};
  const seen = new Set<string>();
  for (const d of defElems(options)) {
    // SYSID is only a NOTICE, however often it is given.
    if (d.defname !== 'sysid' && seen.has(d.defname)) {
      throw new PgError({ severity: 'ERROR', sqlstate: '42601', message: 'conflicting or redundant options' });
    }
    seen.add(d.defname);
    const at = d.location;
    switch (d.defname) {
      case 'password': o.password = { value: d.arg ? strOf(d.arg) : null, at }; break;
      case 'sysid': notice('SYSID can no longer be specified'); break;
      case 'inherit': o.inherit = boolOf(d.arg); break;
      case 'connectionlimit': o.connlimit = { value: intOf(d.arg), at }; break;
      case 'validUntil': o.validUntil = { value: strOf(d.arg), at }; break;
      case 'superuser': o.superuser = boolOf(d.arg); break;
      case 'createrole': o.createrole = boolOf(d.arg); break;
      case 'createdb': o.createdb = boolOf(d.arg); break;
      case 'canlogin': o.canlogin = boolOf(d.arg); break;
      case 'isreplication': o.isreplication = boolOf(d.arg); break;
      case 'bypassrls': o.bypassrls = boolOf(d.arg); break;
      case 'addroleto': o.addroleto = roleList(d.arg); break;
      case 'rolemembers': o.rolemembers = roleList(d.arg); break;
      case 'adminmembers': o.adminmembers = roleList(d.arg); break;
      default:
        throw new PgError({ severity: 'ERROR', sqlstate: 'XX000', message: `option "${d.defname}" not recognized` });
    }
  }
  return o;
}

function envFor(host: RoleDdlHost, ctx: SqlCallContext): RoleDdlEnv {
  const sessionSetting = ctx.setting?.('password_encryption');
  return {
    catalog: host.roles,
    currentUser: ctx.userOid,
    sessionUser: ctx.sessionUserOid ?? ctx.userOid,
    passwordEncryption: (sessionSetting ?? host.passwordEncryption()) as PasswordEncryption,
    random: host.random,
    checkPasswordHook: host.hooks.check_password_hook,
    notice: (message, severity = 'NOTICE') => ctx.notice({ severity, sqlstate: severity === 'WARNING' ? '01000' : '00000', message }),
  };
}

/** Register CREATE ROLE/USER/GROUP, ALTER ROLE/USER/GROUP (RENAME TO included) and DROP ROLE/USER/GROUP. */
export function registerRoleDdl(sql: SqlRegistry, host: RoleDdlHost): void {
  sql.defineUtility('CreateRoleStmt', (node, ctx): UtilityResult => {
    const n = node as { stmt_type?: string; role: string; options?: unknown };
    const env = envFor(host, ctx);
    const o = roleOptions(n.options, (m) => env.notice(m));
    createRole(env, n.role, undefined, n.stmt_type === 'ROLESTMT_USER', o);
    return { tag: 'CREATE ROLE' };
  });
  sql.defineUtility('AlterRoleStmt', (node, ctx): UtilityResult => {
    const n = node as { role: RoleSpecNode; options?: unknown; action?: number };
    const env = envFor(host, ctx);
    const o = roleOptions(n.options, (m) => env.notice(m));
    // ALTER GROUP g DROP USER u arrives as action -1 with the users in rolemembers.
    if (n.action === -1) {
      revokeRoles(env, roleSpec(n.role), o.rolemembers ?? []);
      return { tag: 'ALTER ROLE' };
    }
    alterRole(env, roleSpec(n.role), o);
    return { tag: 'ALTER ROLE' };
  });
  // RenameStmt covers every object type; only roles live here (alter.c's ExecRenameStmt → RenameRole).
  sql.defineUtility('RenameStmt', (node, ctx): UtilityResult => {
    const n = node as { renameType?: string; subname?: string; newname?: string };
    if (n.renameType !== 'OBJECT_ROLE') throw notSimulated('RenameStmt');
    renameRole(envFor(host, ctx), n.subname ?? '', n.newname ?? '');
    return { tag: 'ALTER ROLE' };
  });
  sql.defineUtility('DropRoleStmt', (node, ctx): UtilityResult => {
    const n = node as { roles?: Array<{ RoleSpec: RoleSpecNode }>; missing_ok?: boolean };
    dropRoles(envFor(host, ctx), (n.roles ?? []).map((r) => roleSpec(r.RoleSpec)), n.missing_ok === true);
    return { tag: 'DROP ROLE' };
  });
}
