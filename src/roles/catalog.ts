/**
 * The role catalog: the parts of pg_authid and pg_auth_members that connection
 * establishment reads (get_role_password, is_member, the NOLOGIN and connection-limit checks).
 */
import type { Notice } from './lexer.js';

/** FirstNormalObjectId: the first OID a fresh cluster hands out to user objects. */
export const FIRST_NORMAL_OBJECT_ID = 16384;

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
  private readonly byName = new Map<string, Role>();
  /** NOTICEs PostgreSQL would have printed while running the file. */
  readonly notices: Notice[] = [];

  constructor(roles: Iterable<Role> = []) {
    for (const r of roles) this.byName.set(r.name, r);
  }

  /** Role names are compared exactly: the startup packet's user is never case-folded. */
  get(name: string): Role | undefined { return this.byName.get(name); }
  exists(name: string): boolean { return this.byName.has(name); }
  roles(): Role[] { return [...this.byName.values()].sort((a, b) => a.oid - b.oid); }
  getByOid(oid: number): Role | undefined { return this.roles().find((r) => r.oid === oid); }

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
