/**
 * What analysis makes of a SELECT: typed expressions over a range table, ready to run.
 * (PostgreSQL's Query tree, much reduced: no rewriting, no planner, a nested-loop executor.)
 */
import type { SqlCallContext, SqlFunctionDef, SqlValue, SqlViewDef } from './registry.js';
import type { IoSettings } from './types.js';

/** A typed expression. `type` is a pg_type OID; an untyped string literal is 705 (unknown). */
export type Expr =
  /** `location`: where an untyped literal was written, for errors raised when it is given a type. */
  | { k: 'const'; type: number; value: SqlValue; location?: number }
  /** $n; its type lives in the statement's parameter list. */
  | { k: 'param'; n: number; type: number }
  /** A column of range-table entry `rte`. */
  | { k: 'col'; rte: number; col: number; type: number }
  | { k: 'func'; fn: SqlFunctionDef; args: Expr[]; type: number; name: string; setof: boolean; location: number }
  /** A runtime type conversion (I/O conversion or a numeric/boolean cast). */
  | { k: 'cast'; arg: Expr; type: number }
  /** `operand` is the type both sides were coerced to; `named` the operator function (int84pl) for error locations. */
  | { k: 'op'; op: string; l: Expr; r: Expr; type: number; operand: number; named?: string }
  | { k: 'bool'; op: 'and' | 'or' | 'not'; args: Expr[]; type: number }
  | { k: 'nulltest'; arg: Expr; isNull: boolean; type: number }
  | { k: 'sqlvalue'; op: string; type: number }
  | { k: 'case'; arg: Expr | null; when: Array<{ cond: Expr; result: Expr }>; otherwise: Expr | null; type: number }
  | { k: 'coalesce'; args: Expr[]; type: number }
  | { k: 'in'; arg: Expr; list: Expr[]; not: boolean; type: number; operand: number }
  /** `l op ANY (array)` / `l op ALL (array)`. */
  | { k: 'anyall'; op: string; l: Expr; array: Expr; all: boolean; type: number; operand: number }
  | { k: 'like'; arg: Expr; pattern: Expr; not: boolean; insensitive: boolean; type: number }
  | { k: 'agg'; index: number; type: number }
  | { k: 'array'; elems: Expr[]; type: number };

export interface Aggregate {
  fn: 'count' | 'min' | 'max' | 'sum' | 'array_agg' | 'bool_and' | 'bool_or';
  /** null for count(*). */
  arg: Expr | null;
  distinct: boolean;
  type: number;
}

/** A column as RowDescription describes it. */
export interface ResultColumn {
  name: string;
  type: number;
  /** The table or view the value comes straight from (resorigtbl/resorigcol), else 0. */
  tableOid: number;
  columnAttr: number;
}

/** One entry of the FROM clause's range table. */
export interface RangeEntry {
  alias: string;
  columns: Array<{ name: string; type: number }>;
  /** pg_class OID of a view/table (for RowDescription's origin), 0 otherwise. */
  relOid: number;
  source:
    | { kind: 'view'; view: SqlViewDef }
    | { kind: 'function'; call: Expr; scalar: boolean }
    | { kind: 'subquery'; plan: SelectPlan }
    /** Columns filled by a join's rows; nothing to scan. */
    | { kind: 'join' };
}

/** The FROM clause as a tree of scans and joins over range-table indexes. */
export type FromNode =
  | { kind: 'scan'; rte: number }
  | { kind: 'join'; type: 'inner' | 'left' | 'right' | 'full' | 'cross'; left: FromNode; right: FromNode; quals: Expr | null; rtes: number[] };

export interface SortKey {
  expr: Expr;
  desc: boolean;
  nullsFirst: boolean;
}

export interface SelectPlan {
  kind: 'select';
  /** UNION [ALL] branches whose rows follow this one's (same column count and types). */
  union?: Array<{ all: boolean; plan: SelectPlan }>;
  rtable: RangeEntry[];
  from: FromNode[];
  where: Expr | null;
  groupBy: Expr[];
  aggregates: Aggregate[];
  having: Expr | null;
  targets: Expr[];
  columns: ResultColumn[];
  /** Sort keys may refer to output columns (by index) or to input expressions. */
  orderBy: Array<SortKey & { output?: number }>;
  distinct: boolean;
  limit: Expr | null;
  offset: Expr | null;
  /** Views and functions that need privileges (checked when the statement runs, as ExecCheckRTPerms does). */
  checks: Array<{ kind: 'view'; view: SqlViewDef } | { kind: 'function'; fn: SqlFunctionDef; name: string }>;
}

/** What a running statement may use besides its parameters. */
export interface ExecEnv {
  readonly call: SqlCallContext;
  readonly io: IoSettings;
  /** Transaction start time (now(), current_timestamp). */
  readonly now: Date;
}

/** An expression's operands. */
export function children(e: Expr): Expr[] {
  switch (e.k) {
    case 'func': return e.args;
    case 'cast': return [e.arg];
    case 'op': return [e.l, e.r];
    case 'bool': case 'coalesce': return e.args;
    case 'nulltest': return [e.arg];
    case 'case': return [...(e.arg ? [e.arg] : []), ...e.when.flatMap((w) => [w.cond, w.result]), ...(e.otherwise ? [e.otherwise] : [])];
    case 'in': return [e.arg, ...e.list];
    case 'anyall': return [e.l, e.array];
    case 'like': return [e.arg, e.pattern];
    case 'array': return e.elems;
    default: return [];
  }
}
