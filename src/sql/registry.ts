/**
 * What the session's SQL can reach: functions, views, utility statements and whole
 * statements, registered per server (by built-ins in src/sql/builtins.ts, role DDL and
 * reload, and extensions' _PG_init through `ctx.sql`). The session parses with PostgreSQL's
 * own grammar (libpg-query), analyses against this registry (src/sql/analyze.ts) and runs the
 * plan (src/sql/execute.ts); nothing in this file executes SQL.
 *
 * This is the contract between the SQL front end (src/session) and everything
 * that defines SQL objects (src/extensions, src/roles, src/config). It grows; it
 * does not break.
 */
import type { PgErrorFields } from '../errors.js';

/** The PostgreSQL types the session can describe, send as text and (where noted) as binary. */
export type PgTypeName =
  | 'bool' | 'int2' | 'int4' | 'int8' | 'oid' | 'float4' | 'float8' | 'numeric'
  | 'text' | 'name' | 'varchar' | 'bpchar' | 'char' | 'bytea'
  | 'timestamptz' | 'timestamp' | 'date' | 'interval' | 'inet' | 'regproc' | 'regtype' | 'void'
  | 'text[]' | 'name[]' | 'oid[]' | 'int2[]' | 'int4[]' | 'char[]'
  | 'int8[]' | 'bool[]' | 'float8[]' | 'record';

export interface SqlColumn {
  name: string;
  type: PgTypeName;
}

/** Who is running the statement, and what of the server it may use. */
export interface SqlCallContext {
  /** The session's role (current_user), its OID and whether it is a superuser. */
  readonly user: string;
  readonly userOid: number;
  readonly superuser: boolean;
  readonly database: string;
  /** MyProcPid. */
  readonly pid: number;
  /** session_user, when it differs from `user` (SET ROLE); defaults to `user`. */
  readonly sessionUser?: string;
  /** GetSessionUserId(): the role that logged in, when it differs from `userOid` (SET ROLE); defaults to userOid. */
  readonly sessionUserOid?: number;
  /** The session's current value of a GUC as SHOW prints it (current_setting), when the front end tracks session settings. */
  setting?(name: string): string | undefined;
  /** ereport(NOTICE/WARNING/...) during the statement: sent to the client and/or logged by level. */
  notice(fields: Omit<PgErrorFields, 'severity'> & { severity: 'NOTICE' | 'WARNING' | 'INFO' | 'LOG' | 'DEBUG1' }): void;
}

/** A value as functions and views produce it; null is SQL NULL. Dates are timestamptz. */
export type SqlValue = null | boolean | number | bigint | string | Buffer | Date | readonly SqlValue[];

export interface SqlFunctionDef {
  /** Function name; unqualified names live in `public` (`pg_catalog` for built-ins). */
  name: string;
  schema?: string;
  args: ReadonlyArray<{ name?: string; type: PgTypeName }>;
  /** A scalar type, 'void', or a set of rows (RETURNS SETOF record / TABLE (...)). */
  returns: PgTypeName | { setof: readonly SqlColumn[] };
  volatility?: 'immutable' | 'stable' | 'volatile';
  /** STRICT: NULL in, NULL out, the body not called. */
  strict?: boolean;
  /**
   * Who may EXECUTE: 'superuser' (the default, as extension scripts that `REVOKE ... FROM PUBLIC`)
   * or 'public'. A denied call is 42501 `permission denied for function NAME`.
   */
  execute?: 'superuser' | 'public';
  call(args: readonly SqlValue[], ctx: SqlCallContext): SqlValue | Iterable<readonly SqlValue[]> | Promise<SqlValue | Iterable<readonly SqlValue[]>>;
}

export interface SqlViewDef {
  name: string;
  schema?: string;
  /** pg_class OID, reported in RowDescription as the columns' table; assigned from 16384 on when absent. */
  oid?: number;
  columns: readonly SqlColumn[];
  /** Who may SELECT: 'superuser' (default) or 'public'. A denied read is 42501 `permission denied for view NAME`. */
  select?: 'superuser' | 'public';
  rows(ctx: SqlCallContext): Iterable<readonly SqlValue[]> | Promise<Iterable<readonly SqlValue[]>>;
}

/**
 * A whole statement answered as one: a driver's catalog query the session cannot run
 * clause by clause (asyncpg's recursive type introspection). It is recognised by its parse
 * tree, so whitespace and comments do not matter, and answered by `rows` from its parameters.
 */
export interface SqlStatementDef {
  name: string;
  sql: string;
  params: readonly PgTypeName[];
  columns: readonly SqlColumn[];
  rows(params: readonly SqlValue[], ctx: SqlCallContext): Iterable<readonly SqlValue[]> | Promise<Iterable<readonly SqlValue[]>>;
}

/** The result of a utility statement: a command tag and, rarely, rows (SHOW). */
export interface UtilityResult {
  tag: string;
  columns?: readonly SqlColumn[];
  rows?: ReadonlyArray<readonly SqlValue[]>;
}

/**
 * A utility statement handler, keyed by the libpg-query node name it handles
 * (`CreateRoleStmt`, `AlterRoleStmt`, `DropRoleStmt`, `AlterSystemStmt`, ...).
 * `node` is the statement's parse tree as libpg-query returns it (the object under the key).
 */
export type UtilityHandler = (node: unknown, ctx: SqlCallContext, sql: string) => UtilityResult | Promise<UtilityResult>;

const key = (schema: string | undefined, name: string) => `${schema ?? ''}.${name.toLowerCase()}`;

export class SqlRegistry {
  private readonly functions = new Map<string, SqlFunctionDef[]>();
  private readonly views = new Map<string, SqlViewDef>();
  private readonly utilities = new Map<string, UtilityHandler>();
  private readonly viewOids = new Map<string, number>();
  private readonly statements: SqlStatementDef[] = [];
  /** FirstNormalObjectId: views defined here get OIDs as a fresh cluster hands them out. */
  private nextOid = 16384;

  defineFunction(def: SqlFunctionDef): void {
    const k = key(undefined, def.name);
    const list = this.functions.get(k) ?? [];
    list.push(def);
    this.functions.set(k, list);
  }

  defineView(def: SqlViewDef): void {
    this.views.set(key(undefined, def.name), def);
    this.viewOids.set(key(undefined, def.name), def.oid ?? this.nextOid++);
  }

  /** The OID RowDescription reports for a view's columns (0 for an unknown name). */
  viewOid(name: string): number {
    return this.viewOids.get(key(undefined, name)) ?? 0;
  }

  defineStatement(def: SqlStatementDef): void {
    this.statements.push(def);
  }

  defineUtility(nodeName: string, handler: UtilityHandler): void {
    this.utilities.set(nodeName, handler);
  }

  /** Every overload of a function name (schema is not modelled beyond pg_catalog/public). */
  lookupFunctions(name: string): readonly SqlFunctionDef[] {
    return this.functions.get(key(undefined, name)) ?? [];
  }

  lookupView(name: string): SqlViewDef | undefined {
    return this.views.get(key(undefined, name));
  }

  lookupUtility(nodeName: string): UtilityHandler | undefined {
    return this.utilities.get(nodeName);
  }

  listFunctions(): SqlFunctionDef[] { return [...this.functions.values()].flat(); }
  listViews(): SqlViewDef[] { return [...this.views.values()]; }
  listStatements(): readonly SqlStatementDef[] { return this.statements; }
}
