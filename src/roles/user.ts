/**
 * user.c: CreateRole, AlterRole, DropRole and the membership steps (AddRoleMems/DelRoleMems),
 * with PostgreSQL 15's permission rules, messages, NOTICEs and its call of check_password_hook.
 * Two front ends feed it: the roles file (src/roles/parser.ts, run as the bootstrap superuser
 * at server start) and the session's SQL (src/roles/ddl.ts, libpg-query parse trees). Each
 * statement is atomic: on error the catalog is as it was, except for the OID counter.
 */
import { PgError } from '../errors.js';
import type { Random } from '../random.js';
import { encryptPassword, getPasswordType, plainCryptVerify, type PasswordEncryption } from '../auth/secrets.js';
import {
  PASSWORD_TYPE_MD5, PASSWORD_TYPE_PLAINTEXT, PASSWORD_TYPE_SCRAM_SHA_256, type CheckPasswordHook, type PasswordTypeCode,
} from '../hooks/hook.js';
import { BOOTSTRAP_SUPERUSERID, newRole, type Role, type RoleCatalog } from './catalog.js';
import { parseTimestamptz } from './timestamp.js';

/** Where in the statement a piece came from; the front end turns it into a line or a cursor position. */
export type SourcePos = number | undefined;

export type RoleRef =
  | { kind: 'name'; name: string; at?: SourcePos }
  | { kind: 'public'; at?: SourcePos }
  | { kind: 'current_user' | 'current_role' | 'session_user'; at?: SourcePos };

/** The options of CREATE/ALTER ROLE after gram.y and the duplicate check. */
export interface RoleOptions {
  password?: { value: string | null; at?: SourcePos };
  inherit?: boolean;
  connlimit?: { value: number; at?: SourcePos };
  validUntil?: { value: string; at?: SourcePos };
  superuser?: boolean;
  createrole?: boolean;
  createdb?: boolean;
  canlogin?: boolean;
  isreplication?: boolean;
  bypassrls?: boolean;
  addroleto?: RoleRef[];
  rolemembers?: RoleRef[];
  adminmembers?: RoleRef[];
}

/** An error raised while executing a statement; `at` points at the offending piece when known. */
export class RoleDdlError extends PgError {
  constructor(fields: ConstructorParameters<typeof PgError>[0], readonly at?: SourcePos) {
    super(fields);
  }
}

/** Who runs the statement and what of the server it may use. */
export interface RoleDdlEnv {
  readonly catalog: RoleCatalog;
  /** The role running the statement (GetUserId()); the roles file runs as the bootstrap superuser. */
  readonly currentUser: number;
  /** GetSessionUserId(): the role that logged in. */
  readonly sessionUser: number;
  readonly passwordEncryption: PasswordEncryption;
  readonly random: Random;
  readonly checkPasswordHook?: CheckPasswordHook | null;
  /** ereport(NOTICE/WARNING) without ending the statement. */
  notice(message: string, severity?: 'NOTICE' | 'WARNING', at?: SourcePos): void;
  /**
   * Roles file only: a CREATE ROLE naming the bootstrap superuser describes that role (as
   * `initdb -U name` plus a password would) instead of failing with "already exists".
   */
  readonly adoptBootstrap?: boolean;
  /** The roles file: runs with superuser rights whatever the catalog holds. */
  readonly runAsSuperuser?: boolean;
  /** Keep the clear-text PASSWORD literal on the role (tooling such as `matrix` needs it). */
  readonly keepPlaintext?: boolean;
}

const err = (sqlstate: string, message: string, at?: SourcePos, extra: { detail?: string; hint?: string } = {}) =>
  new RoleDdlError({ severity: 'ERROR', sqlstate, message, ...extra }, at);

function passwordTypeCode(literal: string): PasswordTypeCode {
  const t = getPasswordType(literal);
  return t === 'md5' ? PASSWORD_TYPE_MD5 : t === 'scram-sha-256' ? PASSWORD_TYPE_SCRAM_SHA_256 : PASSWORD_TYPE_PLAINTEXT;
}

/** Run one statement atomically: a failure puts the rows back. */
function atomically<T>(env: RoleDdlEnv, body: () => T): T {
  const snap = env.catalog.snapshot();
  try {
    return body();
  } catch (e) {
    env.catalog.restore(snap);
    throw e;
  }
}

function actor(env: RoleDdlEnv): Role | undefined {
  return env.catalog.getByOid(env.currentUser);
}

/** superuser(): is the current user a superuser? */
function isSuperuser(env: RoleDdlEnv): boolean {
  return env.runAsSuperuser === true || (actor(env)?.superuser ?? false);
}

/** have_createrole_privilege(): superusers have it implicitly. */
function haveCreateRole(env: RoleDdlEnv): boolean {
  if (env.runAsSuperuser) return true;
  const a = actor(env);
  return a ? a.superuser || a.createrole : false;
}

/** get_rolespec_tuple(): the role a RoleSpec names. */
export function resolveRoleRef(env: RoleDdlEnv, ref: RoleRef): Role {
  switch (ref.kind) {
    case 'public':
      throw err('42704', 'role "public" does not exist', ref.at);
    case 'current_user': case 'current_role': {
      const r = env.catalog.getByOid(env.currentUser);
      if (!r) throw err('42704', `role with OID ${env.currentUser} does not exist`, ref.at);
      return r;
    }
    case 'session_user': {
      const r = env.catalog.getByOid(env.sessionUser);
      if (!r) throw err('42704', `role with OID ${env.sessionUser} does not exist`, ref.at);
      return r;
    }
    case 'name': {
      const r = env.catalog.get(ref.name);
      if (!r) throw err('42704', `role "${ref.name}" does not exist`, ref.at);
      return r;
    }
  }
}

function validUntilMs(v: { value: string; at?: SourcePos }): number {
  const r = parseTimestamptz(v.value);
  if (!r.ok) throw new RoleDdlError({ severity: 'ERROR', sqlstate: r.sqlstate, message: r.message, ...(r.hint ? { hint: r.hint } : {}) }, v.at);
  return r.ms;
}

function checkConnlimit(o: RoleOptions): void {
  if (o.connlimit && o.connlimit.value < -1) throw err('22023', `invalid connection limit: ${o.connlimit.value}`, o.connlimit.at);
}

/**
 * The password part of CreateRole/AlterRole after the hook: an empty password (or a secret of
 * one) is cleared with a NOTICE; a literal secret is stored as is; anything else is encrypted
 * per password_encryption.
 */
function storePassword(env: RoleDdlEnv, role: Role, password: { value: string | null; at?: SourcePos }): void {
  delete role.plaintextPassword;
  if (password.value === null) {
    role.secret = null;
    return;
  }
  if (password.value === '' || plainCryptVerify(role.name, password.value, '').ok) {
    env.notice('empty string is not a valid password, clearing password', 'NOTICE', password.at);
    role.secret = null;
    return;
  }
  role.secret = encryptPassword(env.passwordEncryption, role.name, password.value, env.random);
  if (env.keepPlaintext && getPasswordType(password.value) === 'plaintext') role.plaintextPassword = password.value;
}

/** check_password_hook, called exactly where CreateRole/AlterRole call it. */
function callCheckPasswordHook(env: RoleDdlEnv, name: string, password: string | null | undefined, validUntil: number | null): void {
  const hook = env.checkPasswordHook;
  if (!hook || password === null || password === undefined) return;
  hook(name, password, passwordTypeCode(password), validUntil ?? 0, validUntil === null);
}

/** CreateRole(): `isUser` is CREATE USER (LOGIN by default). */
export function createRole(env: RoleDdlEnv, name: string, nameAt: SourcePos, isUser: boolean, o: RoleOptions): Role {
  checkConnlimit(o);
  const bootstrap = env.adoptBootstrap ? env.catalog.get(name) : undefined;
  if (bootstrap && bootstrap.oid === BOOTSTRAP_SUPERUSERID) return adoptBootstrap(env, bootstrap, o);
  if (o.superuser) {
    if (!isSuperuser(env)) throw err('42501', 'must be superuser to create superusers');
  } else if (o.isreplication) {
    if (!isSuperuser(env)) throw err('42501', 'must be superuser to create replication users');
  } else if (o.bypassrls) {
    if (!isSuperuser(env)) throw err('42501', 'must be superuser to create bypassrls users');
  } else if (!haveCreateRole(env)) {
    throw err('42501', 'permission denied to create role');
  }
  if (name.startsWith('pg_')) {
    throw err('42939', `role name "${name}" is reserved`, nameAt, { detail: 'Role names starting with "pg_" are reserved.' });
  }
  if (env.catalog.exists(name)) throw err('42710', `role "${name}" already exists`, nameAt);
  const validUntil = o.validUntil ? validUntilMs(o.validUntil) : null;
  callCheckPasswordHook(env, name, o.password?.value, validUntil);
  const role = newRole(name, 0, {
    superuser: o.superuser ?? false,
    inherit: o.inherit ?? true,
    createrole: o.createrole ?? false,
    createdb: o.createdb ?? false,
    canLogin: o.canlogin ?? isUser,
    replication: o.isreplication ?? false,
    bypassrls: o.bypassrls ?? false,
    connectionLimit: o.connlimit?.value ?? -1,
    validUntil,
  });
  if (o.password) storePassword(env, role, o.password);
  return atomically(env, () => {
    role.oid = env.catalog.allocateOid();
    env.catalog.add(role);
    for (const ref of o.addroleto ?? []) addRoleMems(env, resolveRoleRef(env, ref), [role], [ref]);
    if (o.adminmembers) addRoleMems(env, role, o.adminmembers.map((r) => resolveRoleRef(env, r)), o.adminmembers);
    if (o.rolemembers) addRoleMems(env, role, o.rolemembers.map((r) => resolveRoleRef(env, r)), o.rolemembers);
    return role;
  });
}

/** The roles file's CREATE ROLE of the bootstrap superuser: its options apply to OID 10. */
function adoptBootstrap(env: RoleDdlEnv, role: Role, o: RoleOptions): Role {
  return atomically(env, () => {
    applyAttributes(env, role, o);
    for (const ref of o.addroleto ?? []) addRoleMems(env, resolveRoleRef(env, ref), [role], [ref]);
    if (o.adminmembers) addRoleMems(env, role, o.adminmembers.map((r) => resolveRoleRef(env, r)), o.adminmembers);
    if (o.rolemembers) addRoleMems(env, role, o.rolemembers.map((r) => resolveRoleRef(env, r)), o.rolemembers);
    return role;
  });
}

function applyAttributes(env: RoleDdlEnv, role: Role, o: RoleOptions): void {
  const validUntil = o.validUntil ? validUntilMs(o.validUntil) : role.validUntil;
  callCheckPasswordHook(env, role.name, o.password?.value, validUntil);
  if (o.validUntil) role.validUntil = validUntil;
  if (o.password) storePassword(env, role, o.password);
  if (o.superuser !== undefined) role.superuser = o.superuser;
  if (o.inherit !== undefined) role.inherit = o.inherit;
  if (o.createrole !== undefined) role.createrole = o.createrole;
  if (o.createdb !== undefined) role.createdb = o.createdb;
  if (o.canlogin !== undefined) role.canLogin = o.canlogin;
  if (o.isreplication !== undefined) role.replication = o.isreplication;
  if (o.bypassrls !== undefined) role.bypassrls = o.bypassrls;
  if (o.connlimit) role.connectionLimit = o.connlimit.value;
}

/** AlterRole(): attributes, password and (ALTER ... ROLE list) members. */
export function alterRole(env: RoleDdlEnv, ref: RoleRef, o: RoleOptions): Role {
  checkConnlimit(o);
  const role = resolveRoleRef(env, ref);
  if (role.superuser || o.superuser !== undefined) {
    if (!isSuperuser(env)) throw err('42501', 'must be superuser to alter superuser roles or change superuser attribute');
  } else if (role.replication || o.isreplication !== undefined) {
    if (!isSuperuser(env)) throw err('42501', 'must be superuser to alter replication roles or change replication attribute');
  } else if (o.bypassrls !== undefined) {
    if (!isSuperuser(env)) throw err('42501', 'must be superuser to change bypassrls attribute');
  } else if (!haveCreateRole(env)) {
    // Without CREATEROLE you may only change your own password.
    const onlyOwnPassword = o.inherit === undefined && o.createrole === undefined && o.createdb === undefined &&
      o.canlogin === undefined && o.connlimit === undefined && o.rolemembers === undefined && o.validUntil === undefined &&
      o.password !== undefined && role.oid === env.currentUser;
    if (!onlyOwnPassword) throw err('42501', 'permission denied');
  }
  return atomically(env, () => {
    applyAttributes(env, role, o);
    if (o.rolemembers) addRoleMems(env, role, o.rolemembers.map((r) => resolveRoleRef(env, r)), o.rolemembers);
    return role;
  });
}

/** DropRole(): each name in turn; IF EXISTS turns a missing one into a NOTICE. */
export function dropRoles(env: RoleDdlEnv, refs: readonly RoleRef[], missingOk: boolean): void {
  if (!haveCreateRole(env)) throw err('42501', 'permission denied to drop role');
  atomically(env, () => {
    for (const ref of refs) {
      if (ref.kind !== 'name') throw err('22023', 'cannot use special role specifier in DROP ROLE', ref.at);
      const role = env.catalog.get(ref.name);
      if (!role) {
        if (!missingOk) throw err('42704', `role "${ref.name}" does not exist`, ref.at);
        env.notice(`role "${ref.name}" does not exist, skipping`, 'NOTICE', ref.at);
        continue;
      }
      if (role.oid === env.currentUser) throw err('55006', 'current user cannot be dropped', ref.at);
      if (role.oid === env.sessionUser) throw err('55006', 'session user cannot be dropped', ref.at);
      if (role.superuser && !isSuperuser(env)) throw err('42501', 'must be superuser to drop superusers', ref.at);
      if (role.oid < 16384) {
        // Pinned by initdb: the bootstrap superuser owns the catalogs, predefined roles are required.
        throw err('2BP01', `cannot drop role ${role.name} because it is required by the database system`, ref.at);
      }
      env.catalog.remove(role.name);
    }
  });
}

/**
 * RenameRole(): PostgreSQL 15's checks in its order (neither the session nor the current user,
 * no reserved name either side, the new name free, superuser for superusers and CREATEROLE
 * otherwise). An md5 secret is salted with the role name, so it is cleared with a NOTICE.
 */
export function renameRole(env: RoleDdlEnv, oldName: string, newName: string): void {
  atomically(env, () => {
    const role = env.catalog.get(oldName);
    if (!role) throw err('42704', `role "${oldName}" does not exist`);
    if (role.oid === env.sessionUser) throw err('0A000', 'session user cannot be renamed');
    if (role.oid === env.currentUser) throw err('0A000', 'current user cannot be renamed');
    for (const name of [role.name, newName]) {
      if (name.startsWith('pg_')) throw err('42939', `role name "${name}" is reserved`, undefined, { detail: 'Role names starting with "pg_" are reserved.' });
    }
    if (env.catalog.exists(newName)) throw err('42710', `role "${newName}" already exists`);
    if (role.superuser ? !isSuperuser(env) : !haveCreateRole(env)) {
      throw err('42501', role.superuser ? 'must be superuser to rename superusers' : 'permission denied to rename role');
    }
    env.catalog.rename(oldName, newName);
    if (role.secret !== null && getPasswordType(role.secret) === 'md5') {
      role.secret = null;
      delete role.plaintextPassword;
      env.notice('MD5 password cleared because of role rename');
    }
  });
}

/** GrantRoleStmt (role memberships): grantees are resolved before the granted roles. */
export function grantRoles(env: RoleDdlEnv, granted: ReadonlyArray<{ name: string; at?: SourcePos }>, grantees: readonly RoleRef[], grantedBy?: RoleRef): void {
  atomically(env, () => {
    if (grantedBy) resolveRoleRef(env, grantedBy);
    const members = grantees.map((r) => resolveRoleRef(env, r));
    for (const g of granted) {
      const role = env.catalog.get(g.name);
      if (!role) throw err('42704', `role "${g.name}" does not exist`, g.at);
      addRoleMems(env, role, members, grantees);
    }
  });
}

/** ALTER GROUP g DROP USER ...: DelRoleMems. */
export function revokeRoles(env: RoleDdlEnv, group: RoleRef, members: readonly RoleRef[]): void {
  atomically(env, () => {
    const g = resolveRoleRef(env, group);
    for (const [i, m] of members.map((r) => resolveRoleRef(env, r)).entries()) {
      const idx = m.memberOf.indexOf(g.name);
      if (idx === -1) env.notice(`role "${m.name}" is not a member of role "${g.name}"`, 'WARNING', members[i]?.at);
      else m.memberOf.splice(idx, 1);
    }
  });
}

/** AddRoleMems(): refuse loops, skip (with a NOTICE) existing memberships. */
export function addRoleMems(env: RoleDdlEnv, granted: Role, members: Role[], refs?: readonly RoleRef[]): void {
  members.forEach((member, i) => {
    const at = refs?.[i]?.at;
    if (env.catalog.isMember(granted.name, member.name)) {
      throw err('0LP01', `role "${granted.name}" is a member of role "${member.name}"`, at);
    }
    if (member.memberOf.includes(granted.name)) {
      env.notice(`role "${member.name}" is already a member of role "${granted.name}"`, 'NOTICE', at);
      return;
    }
    member.memberOf.push(granted.name);
  });
}
