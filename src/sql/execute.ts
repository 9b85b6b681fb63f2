/**
 * The executor for analysed SELECTs: scan views and functions, join (hash join on an equality,
 * nested loops otherwise), filter, group and aggregate, sort, DISTINCT, LIMIT/OFFSET, project.
 * Rows are materialised; the session hands them out in portions for Execute row limits.
 */
import { PgError } from '../errors.js';
import type { SqlFunctionDef, SqlValue } from './registry.js';
import { children, type Aggregate, type ExecEnv, type Expr, type FromNode, type SelectPlan } from './plan.js';
import { OID, binaryOut, floatOut, mustType, sourceLocation, textIn, textOut, typeOutOfRange } from './types.js';
import { numericArithmetic } from './numeric.js';
import { stringToBytes } from '../bytes.js';

/** One joined input row: a value array per range-table entry (null for a NULL-extended side). */
type InRow = Array<readonly SqlValue[] | null>;

interface Frame {
  row: InRow;
  aggs: SqlValue[] | null;
  params: readonly SqlValue[];
}

/** Privileges are checked when the statement starts, before any row is read. */
export function checkPermissions(plan: SelectPlan, env: ExecEnv): void {
  if (env.call.superuser) return;
  for (const c of plan.checks) {
    if (c.kind === 'view' && (c.view.select ?? 'superuser') === 'superuser') {
      throw new PgError({ severity: 'ERROR', sqlstate: '42501', message: `permission denied for view ${c.view.name}`, file: 'aclchk.c', line: 3650, routine: 'aclcheck_error' });
    }
    if (c.kind === 'function' && (c.fn.execute ?? 'superuser') === 'superuser') {
      throw new PgError({ severity: 'ERROR', sqlstate: '42501', message: `permission denied for function ${c.name}`, file: 'aclchk.c', line: 3650, routine: 'aclcheck_error' });
    }
  }
}

/**
 * eval_const_expressions() at plan time: every subexpression made only of constants, parameter
 * values and immutable operators is computed now, so its errors (1/0, an out-of-range cast)
 * come before any row, as they do in PostgreSQL, where Bind plans the statement.
 */
export async function foldConstants(plan: SelectPlan, params: readonly SqlValue[], env: ExecEnv): Promise<SelectPlan> {
  const frame: Frame = { row: [], aggs: null, params };
  const fold = async (e: Expr): Promise<Expr> => {
    if (!foldable(e) || e.k === 'const') return e;
    return { k: 'const', type: e.type, value: await evaluate(e, frame, env) };
  };
  const foldTree = async (e: Expr | null): Promise<Expr | null> => (e === null ? null : foldable(e) ? fold(e) : e);
  const out: SelectPlan = { ...plan };
  out.targets = await Promise.all(plan.targets.map((t) => fold(t)));
  out.where = await foldTree(plan.where);
  out.having = await foldTree(plan.having);
  out.limit = await foldTree(plan.limit);
  out.offset = await foldTree(plan.offset);
  if (plan.union) out.union = await Promise.all(plan.union.map(async (u) => ({ all: u.all, plan: await foldConstants(u.plan, params, env) })));
  out.rtable = await Promise.all(plan.rtable.map(async (r) => (r.source.kind === 'subquery' ? { ...r, source: { kind: 'subquery' as const, plan: await foldConstants(r.source.plan, params, env) } } : r)));
  return out;
}

function foldable(e: Expr): boolean {
  switch (e.k) {
    case 'const': case 'param': return true;
    case 'col': case 'agg': case 'sqlvalue': return false;
    case 'func': return e.fn.volatility === 'immutable' && !e.setof && e.args.every(foldable);
    default: return children(e).every(foldable);
  }
}

export async function runSelect(plan: SelectPlan, params: readonly SqlValue[], env: ExecEnv): Promise<SqlValue[][]> {
  checkPermissions(plan, env);
  let rows: InRow[] = [new Array(plan.rtable.length).fill(null)];
  for (const node of plan.from) {
    const right = await fromRows(plan, node, params, env);
    rows = rows.flatMap((l) => right.map((r) => merge(l, r)));
  }
  if (plan.where) {
    const kept: InRow[] = [];
    for (const row of rows) if ((await evaluate(plan.where, { row, aggs: null, params }, env)) === true) kept.push(row);
    rows = kept;
  }
  let frames: Frame[];
  if (plan.aggregates.length > 0 || plan.groupBy.length > 0) {
    frames = await group(plan, rows, params, env);
    if (plan.having) {
      const kept: Frame[] = [];
      for (const f of frames) if ((await evaluate(plan.having, f, env)) === true) kept.push(f);
      frames = kept;
    }
  } else {
    frames = rows.map((row) => ({ row, aggs: null, params }));
  }
  // Project, expanding set-returning functions in the select list (one output row per set row).
  let out: Array<{ values: SqlValue[]; frame: Frame }> = [];
  for (const f of frames) {
    const values: SqlValue[] = [];
    let sets: Array<{ index: number; rows: SqlValue[] }> = [];
    for (let i = 0; i < plan.targets.length; i++) {
      const t = plan.targets[i]!;
      if (t.k === 'func' && t.setof) {
        const rowsOfSet = await callSet(t, f, env);
        sets.push({ index: i, rows: rowsOfSet.map((r) => (r.length === 1 && t.type !== OID.record ? r[0]! : r)) });
        values.push(null);
      } else {
        values.push(await evaluate(t, f, env));
      }
    }
    if (sets.length === 0) {
      out.push({ values, frame: f });
      continue;
    }
    const n = Math.max(...sets.map((s) => s.rows.length));
    for (let k = 0; k < n; k++) {
      const copy = [...values];
      for (const s of sets) copy[s.index] = s.rows[k] ?? null;
      out.push({ values: copy, frame: f });
    }
    sets = [];
  }
  for (const branch of plan.union ?? []) {
    for (const values of await runSelect(branch.plan, params, env)) out.push({ values, frame: { row: [], aggs: null, params } });
    if (!branch.all) {
      const seen = new Set<string>();
      out = out.filter((r) => { const key = keyOf(r.values); if (seen.has(key)) return false; seen.add(key); return true; });
    }
  }
  if (plan.distinct) {
    const seen = new Set<string>();
    out = out.filter((r) => {
      const key = keyOf(r.values);
      if (seen.has(key)) return false;
      seen.add(key);
      return true;
    });
  }
  if (plan.orderBy.length > 0) {
    const keyed: Array<{ r: (typeof out)[number]; keys: SqlValue[] }> = [];
    for (const r of out) {
      const keys: SqlValue[] = [];
      for (const k of plan.orderBy) keys.push(k.output !== undefined ? r.values[k.output]! : await evaluate(k.expr, r.frame, env));
      keyed.push({ r, keys });
    }
    keyed.sort((a, b) => {
      for (let i = 0; i < plan.orderBy.length; i++) {
        const k = plan.orderBy[i]!;
        const c = compareForSort(a.keys[i]!, b.keys[i]!, k.nullsFirst);
        if (c !== 0) return k.desc ? -c : c;
      }
      return 0;
    });
    out = keyed.map((k) => k.r);
  }
  const frame0: Frame = { row: [], aggs: null, params };
  const offset = plan.offset ? Number(await evaluate(plan.offset, frame0, env) ?? 0) : 0;
  const limit = plan.limit ? await evaluate(plan.limit, frame0, env) : null;
  if (offset < 0) throw new PgError({ severity: 'ERROR', sqlstate: '2201X', message: 'OFFSET must not be negative' });
  if (limit !== null && Number(limit) < 0) throw new PgError({ severity: 'ERROR', sqlstate: '2201W', message: 'LIMIT must not be negative' });
  const sliced = out.slice(offset, limit === null ? undefined : offset + Number(limit));
  return sliced.map((r) => r.values);
}

function merge(a: InRow, b: InRow): InRow {
  return a.map((v, i) => v ?? b[i] ?? null);
}

async function scan(plan: SelectPlan, rte: number, params: readonly SqlValue[], env: ExecEnv): Promise<Array<readonly SqlValue[]>> {
  const r = plan.rtable[rte]!;
  const src = r.source;
  switch (src.kind) {
    case 'view': {
      const width = r.columns.length;
      const out: Array<readonly SqlValue[]> = [];
      for (const row of await src.view.rows(env.call)) {
        if (row.length !== width) throw new Error(`view ${src.view.name} returned a row of ${row.length} values for ${width} columns`);
        out.push(row);
      }
      return out;
    }
    case 'function': {
      const f: Frame = { row: [], aggs: null, params };
      if (src.scalar) return [[await evaluate(src.call, f, env)]];
      return (await callSet(src.call as Extract<Expr, { k: 'func' }>, f, env));
    }
    case 'subquery': return runSelect(src.plan, params, env);
    case 'join': return [];
  }
}

async function fromRows(plan: SelectPlan, node: FromNode, params: readonly SqlValue[], env: ExecEnv): Promise<InRow[]> {
  const width = plan.rtable.length;
  if (node.kind === 'scan') {
    return (await scan(plan, node.rte, params, env)).map((values) => {
      const row: InRow = new Array(width).fill(null);
      row[node.rte] = values;
      return row;
    });
  }
  const left = await fromRows(plan, node.left, params, env);
  const right = await fromRows(plan, node.right, params, env);
  const leftRtes = rtesOf(node.left);
  const rightRtes = rtesOf(node.right);
  const pass = async (row: InRow) => node.quals === null || (await evaluate(node.quals, { row, aggs: null, params }, env)) === true;
  const out: InRow[] = [];
  const hash = node.quals ? equiJoinKeys(node.quals, leftRtes, rightRtes) : null;
  const matchedRight = new Set<number>();
  // A hash join when the condition is one equality between the two sides; nested loops otherwise.
  let index: Map<string, number[]> | null = null;
  if (hash) {
    index = new Map();
    for (let j = 0; j < right.length; j++) {
      const k = await evaluate(hash.right, { row: right[j]!, aggs: null, params }, env);
      if (k === null) continue;
      const key = keyOf([k]);
      index.set(key, [...(index.get(key) ?? []), j]);
    }
  }
  for (const l of left) {
    let matched = false;
    let candidates: number[];
    if (index && hash) {
      const k = await evaluate(hash.left, { row: l, aggs: null, params }, env);
      candidates = k === null ? [] : index.get(keyOf([k])) ?? [];
    } else {
      candidates = right.map((_, j) => j);
    }
    for (const j of candidates) {
      const row = merge(l, right[j]!);
      if (await pass(row)) {
        out.push(row);
        matched = true;
        matchedRight.add(j);
      }
    }
    if (!matched && (node.type === 'left' || node.type === 'full')) out.push(l);
  }
  if (node.type === 'right' || node.type === 'full') {
    right.forEach((r, j) => { if (!matchedRight.has(j)) out.push(r); });
  }
  return out;
}

function rtesOf(node: FromNode): Set<number> {
  return node.kind === 'scan' ? new Set([node.rte]) : new Set([...rtesOf(node.left), ...rtesOf(node.right)]);
}

/** `a.x = b.y` with one side on each input: the two key expressions. */
function equiJoinKeys(q: Expr, left: Set<number>, right: Set<number>): { left: Expr; right: Expr } | null {
  if (q.k !== 'op' || q.op !== '=') return null;
  const side = (e: Expr): Set<number> => {
    const s = new Set<number>();
    const walk = (x: Expr): void => {
      if (x.k === 'col') s.add(x.rte);
      if (x.k === 'func' || x.k === 'agg' || x.k === 'sqlvalue') s.add(-1);
      for (const c of children(x)) walk(c);
    };
    walk(e);
    return s;
  };
  const within = (s: Set<number>, of: Set<number>) => s.size > 0 && [...s].every((r) => of.has(r));
  const l = side(q.l);
  const r = side(q.r);
  if (within(l, left) && within(r, right)) return { left: q.l, right: q.r };
  if (within(l, right) && within(r, left)) return { left: q.r, right: q.l };
  return null;
}

async function group(plan: SelectPlan, rows: InRow[], params: readonly SqlValue[], env: ExecEnv): Promise<Frame[]> {
  const groups = new Map<string, { row: InRow; inputs: InRow[] }>();
  for (const row of rows) {
    const keys: SqlValue[] = [];
    for (const g of plan.groupBy) keys.push(await evaluate(g, { row, aggs: null, params }, env));
    const key = keyOf(keys);
    const g = groups.get(key);
    if (g) g.inputs.push(row);
    else groups.set(key, { row, inputs: [row] });
  }
  // No GROUP BY: one group, even over no rows (count(*) = 0).
  if (plan.groupBy.length === 0 && groups.size === 0) groups.set('', { row: new Array(plan.rtable.length).fill(null), inputs: [] });
  const frames: Frame[] = [];
  for (const g of groups.values()) {
    const aggs: SqlValue[] = [];
    for (const a of plan.aggregates) aggs.push(await aggregate(a, g.inputs, params, env));
    frames.push({ row: g.row, aggs, params });
  }
  return frames;
}

async function aggregate(a: Aggregate, inputs: InRow[], params: readonly SqlValue[], env: ExecEnv): Promise<SqlValue> {
  let values: SqlValue[] = [];
  for (const row of inputs) values.push(a.arg ? await evaluate(a.arg, { row, aggs: null, params }, env) : true);
  if (a.arg) values = values.filter((v) => v !== null || a.fn === 'array_agg');
  if (a.distinct) {
    const seen = new Set<string>();
    values = values.filter((v) => { const k = keyOf([v]); if (seen.has(k)) return false; seen.add(k); return true; });
  }
  switch (a.fn) {
    case 'count': return BigInt(values.length);
    case 'array_agg': return values.length === 0 ? null : values;
    case 'bool_and': return values.length === 0 ? null : values.every((v) => v === true);
    case 'bool_or': return values.length === 0 ? null : values.some((v) => v === true);
    case 'min': case 'max': {
      if (values.length === 0) return null;
      return values.reduce((m, v) => ((a.fn === 'min' ? compare(v, m) < 0 : compare(v, m) > 0) ? v : m));
    }
    case 'sum': {
      if (values.length === 0) return null;
      if (a.type === OID.int8) return values.reduce<bigint>((s, v) => s + BigInt(v as number | bigint), 0n);
      if (a.type === OID.numeric) return String(values.reduce<bigint>((s, v) => s + BigInt(String(v)), 0n));
      return values.reduce<number>((s, v) => s + Number(v), 0);
    }
  }
}

async function callSet(e: Extract<Expr, { k: 'func' }>, f: Frame, env: ExecEnv): Promise<SqlValue[][]> {
  const args = await evalArgs(e, f, env);
  if (args === null) return [];
  const result = await e.fn.call(args, env.call);
  if (result === null || typeof result !== 'object' || Buffer.isBuffer(result) || result instanceof Date || !(Symbol.iterator in result)) {
    throw new Error(`set-returning function ${e.name} did not return rows`);
  }
  return [...(result as Iterable<readonly SqlValue[]>)].map((r) => [...r]);
}

async function evalArgs(e: Extract<Expr, { k: 'func' }>, f: Frame, env: ExecEnv): Promise<SqlValue[] | null> {
  const args: SqlValue[] = [];
  for (const a of e.args) args.push(await evaluate(a, f, env));
  return e.fn.strict && args.some((a) => a === null) ? null : args;
}

/** ExecEvalExpr. */
export async function evaluate(e: Expr, f: Frame, env: ExecEnv): Promise<SqlValue> {
  switch (e.k) {
    case 'const': return e.value;
    case 'param': return f.params[e.n - 1] ?? null;
    case 'col': return f.row[e.rte]?.[e.col] ?? null;
    case 'agg': return f.aggs?.[e.index] ?? null;
    case 'sqlvalue': return sqlValue(e.op, env);
    case 'func': {
      const args = await evalArgs(e, f, env);
      if (args === null) return null;
      const v = await e.fn.call(args, env.call);
      return scalarResult(e.fn, v);
    }
    case 'cast': return cast(await evaluate(e.arg, f, env), e.arg.type, e.type, env);
    case 'bool': {
      if (e.op === 'not') {
        const v = await evaluate(e.args[0]!, f, env);
        return v === null ? null : !v;
      }
      let sawNull = false;
      for (const a of e.args) {
        const v = await evaluate(a, f, env);
        if (v === null) { sawNull = true; continue; }
        if (e.op === 'and' && v === false) return false;
        if (e.op === 'or' && v === true) return true;
      }
      return sawNull ? null : e.op === 'and';
    }
    case 'nulltest': {
      const v = await evaluate(e.arg, f, env);
      return e.isNull ? v === null : v !== null;
    }
    case 'op': {
      const l = await evaluate(e.l, f, env);
      const r = await evaluate(e.r, f, env);
      if (e.op === 'is distinct from' || e.op === 'is not distinct from') {
        const same = l === null || r === null ? l === r : compare(l, r) === 0;
        return e.op === 'is distinct from' ? !same : same;
      }
      if (l === null || r === null) return null;
      return operate(e.op, l, r, e.operand, e.named);
    }
    case 'case': {
      for (const w of e.when) if ((await evaluate(w.cond, f, env)) === true) return evaluate(w.result, f, env);
      return e.otherwise ? evaluate(e.otherwise, f, env) : null;
    }
    case 'coalesce': {
      for (const a of e.args) {
        const v = await evaluate(a, f, env);
        if (v !== null) return v;
      }
      return null;
    }
    case 'in': {
      const v = await evaluate(e.arg, f, env);
      if (v === null) return null;
      let sawNull = false;
      for (const x of e.list) {
        const w = await evaluate(x, f, env);
        if (w === null) { sawNull = true; continue; }
        if (compare(v, w) === 0) return !e.not;
      }
      return sawNull ? null : e.not;
    }
    case 'anyall': {
      const v = await evaluate(e.l, f, env);
      const arr = await evaluate(e.array, f, env);
      if (arr === null) return null;
      let sawNull = v === null;
      for (const x of arr as readonly SqlValue[]) {
        if (x === null || v === null) { sawNull = true; continue; }
        const hit = operate(e.op, v, x, e.operand) === true;
        if (hit && !e.all) return true;
        if (!hit && e.all) return false;
      }
      return sawNull ? null : e.all;
    }
    case 'like': {
      const v = await evaluate(e.arg, f, env);
      const p = await evaluate(e.pattern, f, env);
      if (v === null || p === null) return null;
      const re = likeRegExp(String(p), e.insensitive);
      return re.test(String(v)) !== e.not;
    }
    case 'array': {
      const out: SqlValue[] = [];
      for (const x of e.elems) out.push(await evaluate(x, f, env));
      return out;
    }
  }
}

function scalarResult(fn: SqlFunctionDef, v: unknown): SqlValue {
  if (fn.returns === 'void') return '';
  if (v === undefined) return null;
  return v as SqlValue;
}

function sqlValue(op: string, env: ExecEnv): SqlValue {
  switch (op) {
    case 'current_user': case 'current_role': case 'user': return env.call.user;
    case 'session_user': return env.call.sessionUser ?? env.call.user;
    case 'current_catalog': return env.call.database;
    case 'current_schema': return 'public';
    case 'current_timestamp': return env.now;
    case 'localtimestamp': return env.now;
    case 'current_date': return env.now.toISOString().slice(0, 10);
    default: throw new PgError({ severity: 'ERROR', sqlstate: '0A000', message: `pg-authsim does not simulate ${op}` });
  }
}

function likeRegExp(pattern: string, insensitive: boolean): RegExp {
  let re = '';
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i]!;
    if (c === '\\' && i + 1 < pattern.length) { re += pattern[++i]!.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'); continue; }
    re += c === '%' ? '[\\s\\S]*' : c === '_' ? '[\\s\\S]' : c.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  }
  return new RegExp(`^${re}$`, insensitive ? 'si' : 's');
}

// ---- comparison, arithmetic, casts ---------------------------------------------------------------

/** Total order of two non-null values of the same type (strings by code point, as the C collation). */
export function compare(a: SqlValue, b: SqlValue): number {
  if (typeof a === 'bigint' || typeof b === 'bigint') {
    const x = BigInt(typeof a === 'number' ? Math.trunc(a) : (a as bigint));
    const y = BigInt(typeof b === 'number' ? Math.trunc(b) : (b as bigint));
    if (typeof a === 'number' && !Number.isInteger(a)) return a < Number(b) ? -1 : a > Number(b) ? 1 : 0;
    if (typeof b === 'number' && !Number.isInteger(b)) return Number(a) < b ? -1 : Number(a) > b ? 1 : 0;
    return x < y ? -1 : x > y ? 1 : 0;
  }
  if (typeof a === 'number' && typeof b === 'number') {
    if (Number.isNaN(a)) return Number.isNaN(b) ? 0 : 1;
    if (Number.isNaN(b)) return -1;
    return a < b ? -1 : a > b ? 1 : 0;
  }
  if (typeof a === 'boolean' && typeof b === 'boolean') return a === b ? 0 : a ? 1 : -1;
  if (a instanceof Date && b instanceof Date) return a.getTime() - b.getTime();
  if (Buffer.isBuffer(a) && Buffer.isBuffer(b)) return Buffer.compare(a, b);
  if (Array.isArray(a) && Array.isArray(b)) {
    for (let i = 0; i < Math.min(a.length, b.length); i++) {
      const c = a[i] === null || b[i] === null ? (a[i] === b[i] ? 0 : a[i] === null ? 1 : -1) : compare(a[i]!, b[i]!);
      if (c !== 0) return c;
    }
    return a.length - b.length;
  }
  if (isNumericText(a) && isNumericText(b)) return compareNumericText(String(a), String(b));
  return Buffer.compare(Buffer.from(String(a), 'utf8'), Buffer.from(String(b), 'utf8'));
}

function isNumericText(v: SqlValue): boolean {
  return (typeof v === 'string' && /^-?\d+(\.\d+)?$/.test(v)) || typeof v === 'number';
}

function compareNumericText(a: string, b: string): number {
  const x = Number(a);
  const y = Number(b);
  return x < y ? -1 : x > y ? 1 : 0;
}

function compareForSort(a: SqlValue, b: SqlValue, nullsFirst: boolean): number {
  if (a === null || b === null) {
    if (a === b) return 0;
    return (a === null) === nullsFirst ? -1 : 1;
  }
  return compare(a, b);
}

function operate(op: string, l: SqlValue, r: SqlValue, operand: number, named?: string): SqlValue {
  switch (op) {
    case '=': return compare(l, r) === 0;
    case '<>': return compare(l, r) !== 0;
    case '<': return compare(l, r) < 0;
    case '>': return compare(l, r) > 0;
    case '<=': return compare(l, r) <= 0;
    case '>=': return compare(l, r) >= 0;
    case '||': return `${String(l)}${String(r)}`;
    default: return arithmetic(op, l, r, operand, named);
  }
}

/** Where PostgreSQL 15.20's operator functions raise overflow and division by zero (measured). */
const ARITH_AT: Record<string, Where> = {
  int4pl: sourceLocation('int.c', 826, 'int4pl'), int4div: sourceLocation('int.c', 869, 'int4div'), int4mod: sourceLocation('int.c', 1165, 'int4mod'),
  int2pl: sourceLocation('int.c', 941, 'int2pl'), int84pl: sourceLocation('int8.c', 941, 'int84pl'), int84div: sourceLocation('int8.c', 984, 'int84div'),
};
type Where = ReturnType<typeof sourceLocation>;

function arithmetic(op: string, l: SqlValue, r: SqlValue, t: number, named?: string): SqlValue {
  const where = named ? ARITH_AT[named] : undefined;
  const divByZero = () => new PgError({ severity: 'ERROR', sqlstate: '22012', message: 'division by zero', ...where });
  if (t === OID.numeric) return numericArithmetic(op, String(l), String(r));
  if (t === OID.int8) {
    const x = BigInt(l as bigint | number);
    const y = BigInt(r as bigint | number);
    if ((op === '/' || op === '%') && y === 0n) throw divByZero();
    const v = op === '+' ? x + y : op === '-' ? x - y : op === '*' ? x * y : op === '/' ? x / y : x % y;
    if (v > 9223372036854775807n || v < -9223372036854775808n) throw typeOutOfRange(OID.int8, where);
    return v;
  }
  const x = Number(l);
  const y = Number(r);
  if (t === OID.int2 || t === OID.int4) {
    if ((op === '/' || op === '%') && y === 0) throw divByZero();
    const v = Math.trunc(op === '+' ? x + y : op === '-' ? x - y : op === '*' ? x * y : op === '/' ? x / y : x % y);
    const [lo, hi] = t === OID.int2 ? [-32768, 32767] : [-2147483648, 2147483647];
    if (v < lo || v > hi) throw typeOutOfRange(t, where);
    return v === 0 ? 0 : v;
  }
  if (op === '/' && y === 0) throw new PgError({ severity: 'ERROR', sqlstate: '22012', message: 'division by zero', ...sourceLocation('float.c', 103, 'float_zero_divide_error') });
  const v = op === '+' ? x + y : op === '-' ? x - y : op === '*' ? x * y : op === '/' ? x / y : x % y;
  if (!Number.isFinite(v) && Number.isFinite(x) && Number.isFinite(y)) throw new PgError({ severity: 'ERROR', sqlstate: '22003', message: 'value out of range: overflow' });
  return t === OID.float4 ? Math.fround(v) : v;
}

const INT_RANGE: Record<number, [bigint, bigint]> = {
  [OID.int2]: [-32768n, 32767n], [OID.int4]: [-2147483648n, 2147483647n], [OID.int8]: [-9223372036854775808n, 9223372036854775807n],
};
/** The cast functions between numeric types and where they complain (measured on 15.20). */
const CAST_AT: Record<string, Where> = {
  'int8>int4': sourceLocation('int8.c', 1298, 'int84'), 'int4>int2': sourceLocation('int.c', 381, 'i4toi2'),
  'int8>int2': sourceLocation('int8.c', 1319, 'int82'), 'float8>int4': sourceLocation('float.c', 1232, 'dtoi4'),
  'float8>int8': sourceLocation('int8.c', 1354, 'dtoi8'), 'numeric>int4': sourceLocation('numeric.c', 4307, 'numeric_int4_opt_error'),
};

/** A runtime cast: numeric conversions round and range-check as PostgreSQL's cast functions do; the rest goes through text. */
export function cast(v: SqlValue, from: number, to: number, env: ExecEnv): SqlValue {
  if (v === null) return null;
  const fromInfo = mustType(from);
  const toInfo = mustType(to);
  const numeric = (o: number) => o === OID.int2 || o === OID.int4 || o === OID.int8 || o === OID.float4 || o === OID.float8 || o === OID.numeric;
  if (numeric(from) && numeric(to)) {
    if (to === OID.float4 || to === OID.float8) return to === OID.float4 ? Math.fround(Number(v)) : Number(v);
    if (to === OID.numeric) {
      if (from === OID.float4 || from === OID.float8) return textIn(OID.numeric, floatOut(Number(v), 8, 0));
      return typeof v === 'string' ? v : String(v);
    }
    // float → int rounds half to even (rint); numeric → int rounds half away from zero.
    const whole = from === OID.float4 || from === OID.float8 ? BigInt(roundHalfEven(Number(v))) : from === OID.numeric ? BigInt(roundHalfAway(String(v))) : BigInt(v as number | bigint);
    const [lo, hi] = INT_RANGE[to]!;
    if (whole < lo || whole > hi) throw typeOutOfRange(to, CAST_AT[`${fromInfo.typname === 'float4' ? 'float8' : fromInfo.typname}>${toInfo.typname}`]);
    return to === OID.int8 ? whole : Number(whole);
  }
  if (from === OID.bool && to === OID.int4) return v ? 1 : 0;
  if (from === OID.int4 && to === OID.bool) return v !== 0;
  return textIn(to, textOut(from, v, env.io));
}

function roundHalfEven(n: number): number {
  if (!Number.isFinite(n)) throw typeOutOfRange(OID.int8);
  const r = Math.round(n);
  return Math.abs(n % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

function roundHalfAway(text: string): string {
  const neg = text.startsWith('-');
  const [int = '0', frac = ''] = text.replace('-', '').split('.');
  let v = BigInt(int);
  if ((frac[0] ?? '0') >= '5') v += 1n;
  return `${neg && v !== 0n ? '-' : ''}${v}`;
}

/** A value's identity for grouping, DISTINCT and hash joins (NULLs equal each other here). */
export function keyOf(values: readonly SqlValue[]): string {
  return JSON.stringify(values, (_k, v) => (typeof v === 'bigint' ? `${v}n` : v instanceof Date ? `D${v.getTime()}` : (v && typeof v === 'object' && v.type === 'Buffer') ? `B${Buffer.from(v.data).toString('hex')}` : v));
}

/** A result value in the format a client asked for (0 text, 1 binary). */
export function formatValue(type: number, v: SqlValue, format: number, env: ExecEnv): Buffer | null {
  if (v === null) return null;
  // Client strings keep their bytes (src/bytes.ts): a role name with invalid UTF-8 goes back as it came.
  return format === 1 ? binaryOut(type, v) : stringToBytes(textOut(type, v, env.io));
}
