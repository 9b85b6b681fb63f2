/**
 * The role catalog: the parts of pg_authid and pg_auth_members that connection
 * establishment reads (get_role_password, is_member, the NOLOGIN and connection-limit checks).
 */
import type { Notice } from './lexer.js';

/** FirstNormalObjectId: the first OID a fresh cluster hands out to user objects. */
export const FIRST_NORMAL_OBJECT_ID = 16384;
/** BOOTSTRAP_SUPERUSERID: the role initdb creates (named by initdb -U). */
export const BOOTSTRAP_SUPERUSERID = 10;
/** InvalidOid, what get_role_oid(name, true) returns for a missing role. */
export const InvalidOid = 0;

/**
 * PostgreSQL 15's predefined roles (pg_authid.dat) with their OIDs, and the memberships
 * initdb grants among them (pg_monitor is a member of three), as a fresh 15.20 cluster has them.
 */
export const PREDEFINED_ROLES: ReadonlyArray<{ name: string; oid: number; memberOf?: readonly string[] }> = [
  { name: 'pg_monitor', oid: 3373, memberOf: ['pg_read_all_settings', 'pg_read_all_stats', 'pg_stat_scan_tables'] },
  { name: 'pg_read_all_settings', oid: 3374 },
  { name: 'pg_read_all_stats', oid: 3375 },
  { name: 'pg_stat_scan_tables', oid: 3377 },
  { name: 'pg_signal_backend', oid: 4200 },
  { name: 'pg_checkpoint', oid: 4544 },
  { name: 'pg_read_server_files', oid: 4569 },
  { name: 'pg_write_server_files', oid: 4570 },
  { name: 'pg_execute_server_program', oid: 4571 },
  { name: 'pg_database_owner', oid: 6171 },
  { name: 'pg_read_all_data', oid: 6181 },
  { name: 'pg_write_all_data', oid: 6182 },
];

/** A role with every attribute at CREATE ROLE's default. */
export function newRole(name: string, oid: number, attrs: Partial<Role> = {}): Role {
  return {
    name, oid, superuser: false, inherit: true, createrole: false, createdb: false, canLogin: false,
    replication: false, bypassrls: false, connectionLimit: -1, secret: null, validUntil: null, memberOf: [],
    ...attrs,
  };
}

/**
 * What extensions see of a pg_authid row (plus its direct memberships from pg_auth_members),
 * with the catalog's column names. A snapshot: later DDL does not change it.
 */
export interface RoleInfo {
  readonly oid: number;
  readonly rolname: string;
  readonly rolsuper: boolean;
  readonly rolinherit: boolean;
  readonly rolcreaterole: boolean;
  readonly rolcreatedb: boolean;
  readonly rolcanlogin: boolean;
  readonly rolreplication: boolean;
  readonly rolbypassrls: boolean;
  /** -1: no limit. */
  readonly rolconnlimit: number;
  /** The stored md5/SCRAM secret, or null. C code can read pg_authid.rolpassword; so can a port. */
  readonly rolpassword: string | null;
  /** ms since the epoch, ±Infinity, or null when unset. */
  readonly rolvaliduntil: number | null;
  /** OIDs of the roles this role is a direct member of. */
  readonly memberof: readonly number[];
}

export interface Role {
  name: string;
  oid: number;
  superuser: boolean;
  inherit: boolean;
  createrole: boolean;
  createdb: boolean;
  canLogin: boolean;
  replication: boolean;
  bypassrls: boolean;
  /** rolconnlimit: -1 means no limit. */
  connectionLimit: number;
  /** rolpassword: an md5 or SCRAM secret, or null. */
  secret: string | null;
  /**
   * The PASSWORD literal when the roles file gave it in clear text. PostgreSQL
   * never keeps it; tooling such as `matrix` needs it to try "the right password".
   */
  plaintextPassword?: string;
  /** rolvaliduntil in ms since the epoch; ±Infinity for 'infinity'/'-infinity'; null when unset. */
  validUntil: number | null;
  /** Roles this role is a direct member of (pg_auth_members.roleid), in grant order. */
  memberOf: string[];
}

export class RoleCatalog {
  private byName = new Map<string, Role>();
  /** NOTICEs PostgreSQL would have printed while running the file. */
  readonly notices: Notice[] = [];
  /** The OID counter: the next OID a new role gets (FirstNormalObjectId in a fresh cluster). */
  nextOid = FIRST_NORMAL_OBJECT_ID;

  constructor(roles: Iterable<Role> = []) {
    for (const r of roles) this.byName.set(r.name, r);
  }

  /**
   * The catalog initdb leaves: the bootstrap superuser (OID 10, SUPERUSER, LOGIN, no password,
   * every other attribute on as initdb grants them) and the predefined pg_* roles.
   */
  static initdb(bootstrapSuperuser: string): RoleCatalog {
    const cat = new RoleCatalog();
    cat.add(newRole(bootstrapSuperuser, BOOTSTRAP_SUPERUSERID, {
      superuser: true, createrole: true, createdb: true, canLogin: true, replication: true, bypassrls: true,
    }));
    for (const p of PREDEFINED_ROLES) cat.add(newRole(p.name, p.oid, { memberOf: [...(p.memberOf ?? [])] }));
    return cat;
  }

  /** The bootstrap superuser's name, when this catalog has one. */
  get bootstrapSuperuser(): string | undefined {
    return this.getByOid(BOOTSTRAP_SUPERUSERID)?.name;
  }

  /**
   * The roles a user set up (what matrix and explain try by default): every role from the
   * roles file, plus initdb's bootstrap superuser when the file gave it a password.
   */
  userRoles(): Role[] {
    return this.roles().filter((r) => r.oid >= FIRST_NORMAL_OBJECT_ID || (r.oid === BOOTSTRAP_SUPERUSERID && r.plaintextPassword !== undefined));
  }

  /** GetNewOidWithIndex(): the OID counter moves even when the statement later fails, as in PostgreSQL. */
  allocateOid(): number {
    return this.nextOid++;
  }

  /** @internal DROP ROLE: the row and every pg_auth_members row naming it. */
  remove(name: string): void {
    this.byName.delete(name);
    for (const r of this.byName.values()) r.memberOf = r.memberOf.filter((g) => g !== name);
  }

  /** @internal ALTER ROLE ... RENAME TO: the row under its new name, and memberships naming it. */
  rename(from: string, to: string): void {
    const role = this.byName.get(from);
    if (!role) return;
    this.byName.delete(from);
    role.name = to;
    this.byName.set(to, role);
    for (const r of this.byName.values()) r.memberOf = r.memberOf.map((g) => (g === from ? to : g));
  }

  /** A deep copy of the rows, to put back when a statement fails (statements are atomic). */
  snapshot(): { rows: Role[]; nextOid: number } {
    return { rows: [...this.byName.values()].map((r) => ({ ...r, memberOf: [...r.memberOf] })), nextOid: this.nextOid };
  }

  /** Put back a snapshot's rows; the OID counter is not rolled back (it never is in PostgreSQL). */
  restore(snap: { rows: Role[] }): void {
    this.byName = new Map(snap.rows.map((r) => [r.name, { ...r, memberOf: [...r.memberOf] }]));
  }

  /** The extension-facing view of a row. */
  info(role: Role): RoleInfo {
    return Object.freeze({
      oid: role.oid, rolname: role.name, rolsuper: role.superuser, rolinherit: role.inherit,
      rolcreaterole: role.createrole, rolcreatedb: role.createdb, rolcanlogin: role.canLogin,
      rolreplication: role.replication, rolbypassrls: role.bypassrls, rolconnlimit: role.connectionLimit,
      rolpassword: role.secret, rolvaliduntil: role.validUntil,
      memberof: Object.freeze(role.memberOf.map((g) => this.byName.get(g)?.oid ?? InvalidOid)),
    });
  }

  /** Role names are compared exactly: the startup packet's user is never case-folded. */
  get(name: string): Role | undefined { return this.byName.get(name); }
  exists(name: string): boolean { return this.byName.has(name); }
  roles(): Role[] { return [...this.byName.values()].sort((a, b) => a.oid - b.oid); }
  getByOid(oid: number): Role | undefined {
    for (const r of this.byName.values()) if (r.oid === oid) return r;
    return undefined;
  }

  /** @internal used by the parser */
  add(role: Role): void { this.byName.set(role.name, role); }

  /**
   * hba.c is_member(): is `user` directly or indirectly a member of `group`? A role is a member
   * of itself; superuser status does not count; unknown roles are members of nothing. INHERIT
   * does not matter here (is_member_of_role_nosuper ignores it).
   */
  isMember(user: string, group: string): boolean {
    if (!this.exists(user) || !this.exists(group)) return false;
    const seen = new Set<string>();
    const queue = [user];
    while (queue.length > 0) {
      const r = queue.shift()!;
      if (r === group) return true;
      if (seen.has(r)) continue;
      seen.add(r);
      queue.push(...(this.byName.get(r)?.memberOf ?? []));
    }
    return false;
  }
}

export type RolePassword = { secret: string } | { secret: null; logdetail: string };

/**
 * crypt.c get_role_password(): the stored secret, or null with the errdetail_log PG keeps for
 * the eventual "password authentication failed" (missing role, no password, expired).
 */
export function getRolePassword(catalog: RoleCatalog, user: string, now: number): RolePassword {
  const role = catalog.get(user);
  if (!role) return { secret: null, logdetail: `Role "${user}" does not exist.` };
  if (role.secret === null) return { secret: null, logdetail: `User "${user}" has no password assigned.` };
  if (role.validUntil !== null && role.validUntil < now) {
    return { secret: null, logdetail: `User "${user}" has an expired password.` };
  }
  return { secret: role.secret };
}
