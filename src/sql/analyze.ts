/**
 * parse_analyze() for the SELECTs the session answers: names resolved against the SqlRegistry,
 * every expression typed, unknown literals and parameters given their types from context (as
 * PostgreSQL's parse_coerce/parse_oper/parse_func do for the simple cases), output columns
 * named as FigureColname() names them. Anything outside the simulated subset is a clear
 * 0A000, never a wrong answer.
 */
import { PgError, type PgErrorFields } from '../errors.js';
import type { SqlFunctionDef, SqlRegistry, SqlStatementDef, SqlValue } from './registry.js';
import type { SourceText } from './parser.js';
import { children, type Aggregate, type Expr, type FromNode, type RangeEntry, type ResultColumn, type SelectPlan, type SortKey } from './plan.js';
import { OID, displayName, registryType, textIn, typeByName, typeByOid } from './types.js';
import { PG_CATALOG_RELATIONS } from './catalog/pg15-pg-type.js';

/** A parse-tree node as libpg-query gives it: `{ NodeType: { ...fields } }`. */
export type Node = Record<string, unknown>;
type Body = Record<string, any>;

export interface AnalyzeContext {
  readonly registry: SqlRegistry;
  readonly source: SourceText;
  /** Parameter types, indexed from 0 for $1; 0 is "not yet known" and gets filled in. */
  readonly paramTypes: number[];
  /** False for a simple Query: any $n is an error there. */
  readonly paramsAllowed: boolean;
  /** OIDs for views without their own (stable per registry). */
  readonly viewOid: (name: string) => number;
}

// ---- errors --------------------------------------------------------------------------------

type Where = Pick<PgErrorFields, 'file' | 'line' | 'routine'>;
/** PostgreSQL 15.20's F/L/R for the analysis errors the session raises (measured). */
const AT = {
  undefinedTable: { file: 'parse_relation.c', line: 1392, routine: 'parserOpenTable' },
  undefinedQualifiedTable: { file: 'parse_relation.c', line: 1371, routine: 'parserOpenTable' },
  undefinedFunction: { file: 'parse_func.c', line: 629, routine: 'ParseFuncOrColumn' },
  undefinedColumn: { file: 'parse_relation.c', line: 3665, routine: 'errorMissingColumn' },
  missingFrom: { file: 'parse_relation.c', line: 3617, routine: 'errorMissingRTE' },
  ambiguousColumn: { file: 'parse_relation.c', line: 898, routine: 'colNameToVar' },
  undefinedOperator: { file: 'parse_oper.c', line: 647, routine: 'op_error' },
  ambiguousOperator: { file: 'parse_oper.c', line: 639, routine: 'op_error' },
  duplicateAlias: { file: 'parse_relation.c', line: 443, routine: 'checkNameSpaceConflicts' },
  undefinedType: { file: 'parse_type.c', line: 270, routine: 'typenameType' },
  noParameter: { file: 'parse_expr.c', line: 838, routine: 'transformParamRef' },
  cannotCoerce: { file: 'parse_coerce.c', line: 3037, routine: 'find_coercion_pathway' },
  groupBy: { file: 'parse_agg.c', line: 1484, routine: 'check_ungrouped_columns_walker' },
} as const satisfies Record<string, Where>;

export class Analyzer {
  constructor(private readonly cx: AnalyzeContext) {}

  error(sqlstate: string, message: string, location?: number, extra: Partial<PgErrorFields> = {}): PgError {
    const position = this.cx.source.position(location);
    return new PgError({ severity: 'ERROR', sqlstate, message, ...(position !== undefined ? { position } : {}), ...extra });
  }

  notSimulated(what: string, location?: number): PgError {
    return this.error('0A000', `pg-authsim does not simulate ${what}`, location, {
      hint: 'The session answers SELECTs over the registered views and functions, SET/SHOW/RESET and transaction control; see README "The session".',
    });
  }

  // ---- SELECT ------------------------------------------------------------------------------

  select(stmt: Body): SelectPlan {
    if (stmt.op === 'SETOP_UNION') return this.union(stmt);
    if (stmt.op && stmt.op !== 'SETOP_NONE') throw this.notSimulated('INTERSECT or EXCEPT');
    if (stmt.withClause) throw this.notSimulated('WITH queries', stmt.withClause.WithClause?.location);
    if (stmt.valuesLists) throw this.notSimulated('VALUES lists');
    if (stmt.intoClause) throw this.notSimulated('SELECT INTO');
    if (stmt.lockingClause) throw this.notSimulated('FOR UPDATE/SHARE');
    if (stmt.windowClause) throw this.notSimulated('window functions');
    const plan: SelectPlan = {
      kind: 'select', rtable: [], from: [], where: null, groupBy: [], aggregates: [], having: null,
      targets: [], columns: [], orderBy: [], distinct: false, limit: null, offset: null, checks: [],
    };
    const scope = new Scope(this, plan);
    for (const item of (stmt.fromClause ?? []) as Node[]) plan.from.push(scope.fromItem(item));
    if (stmt.whereClause) plan.where = this.coerceBoolean(scope.expr(stmt.whereClause, 'where'), 'WHERE', stmt.whereClause);
    for (const g of (stmt.groupClause ?? []) as Node[]) plan.groupBy.push(scope.groupExpr(g, stmt.targetList ?? []));
    this.targets(scope, plan, (stmt.targetList ?? []) as Node[]);
    if (stmt.havingClause) plan.having = this.coerceBoolean(scope.expr(stmt.havingClause, 'having'), 'HAVING', stmt.havingClause);
    if (stmt.distinctClause) {
      if ((stmt.distinctClause as Node[]).some((d) => Object.keys(d).length > 0)) throw this.notSimulated('DISTINCT ON');
      plan.distinct = true;
    }
    for (const s of (stmt.sortClause ?? []) as Node[]) plan.orderBy.push(scope.sortKey(s, plan));
    if (stmt.limitCount) plan.limit = this.coerce(scope.expr(stmt.limitCount, 'limit'), OID.int8, 'LIMIT', loc(stmt.limitCount));
    if (stmt.limitOffset) plan.offset = this.coerce(scope.expr(stmt.limitOffset, 'limit'), OID.int8, 'OFFSET', loc(stmt.limitOffset));
    if (plan.aggregates.length > 0 || plan.groupBy.length > 0) scope.checkGrouping(plan, (stmt.targetList ?? []) as Node[]);
    return plan;
  }

  /**
   * A UNION [ALL] chain: the branches' rows one after the other (duplicates removed for UNION),
   * with the statement's own ORDER BY/LIMIT over the whole, as over a subquery in FROM.
   */
  private union(stmt: Body): SelectPlan {
    const left = this.select(stmt.larg as Body);
    const right = this.select(stmt.rarg as Body);
    if (left.columns.length !== right.columns.length) {
      throw this.error('42601', 'each UNION query must have the same number of columns', loc(((stmt.rarg as Body).targetList as Node[])[0]));
    }
    left.columns.forEach((c, i) => {
      const r = right.columns[i]!;
      let t = commonType([c.type, r.type]);
      if (t === null) throw this.error('42804', `UNION types ${displayName(c.type)} and ${displayName(r.type)} cannot be matched`, undefined);
      if (t === OID.unknown) t = OID.text;
      for (const side of [left, right]) {
        const target = side.targets[i]!;
        if (target.type !== t) side.targets[i] = this.coerce(target, t, 'UNION', undefined);
        side.columns[i] = { ...side.columns[i]!, type: t, tableOid: 0, columnAttr: 0 };
      }
    });
    const chain: SelectPlan = { ...left, union: [...(left.union ?? []), { all: Boolean(stmt.all), plan: right }] };
    const wrapper: SelectPlan = {
      kind: 'select', rtable: [{ alias: '*SELECT*', columns: left.columns.map((c, i) => ({ name: `c${i}`, type: c.type })), relOid: 0, source: { kind: 'subquery', plan: chain } }],
      from: [{ kind: 'scan', rte: 0 }], where: null, groupBy: [], aggregates: [], having: null, targets: [], columns: [], orderBy: [],
      distinct: false, limit: null, offset: null, checks: [...left.checks, ...right.checks],
    };
    const scope = new Scope(this, wrapper);
    wrapper.targets = left.columns.map((c, i) => ({ k: 'col', rte: 0, col: i, type: c.type }));
    wrapper.columns = left.columns.map((c) => ({ ...c, tableOid: 0, columnAttr: 0 }));
    for (const s of (stmt.sortClause ?? []) as Node[]) wrapper.orderBy.push(scope.sortKey(s, wrapper));
    if (stmt.limitCount) wrapper.limit = this.coerce(scope.expr(stmt.limitCount, 'limit'), OID.int8, 'LIMIT', loc(stmt.limitCount));
    if (stmt.limitOffset) wrapper.offset = this.coerce(scope.expr(stmt.limitOffset, 'limit'), OID.int8, 'OFFSET', loc(stmt.limitOffset));
    return wrapper;
  }

  /** A registered whole statement: its rows come from a set-returning call with the statement's parameters. */
  knownStatement(def: SqlStatementDef): SelectPlan {
    const paramTypes = def.params.map((p) => registryType(p).oid);
    paramTypes.forEach((t, i) => {
      const given = this.cx.paramTypes[i];
      if (given !== undefined && given !== 0 && given !== t) throw this.notSimulated(`${def.name} with a parameter of type ${displayName(given)}`);
      this.cx.paramTypes[i] = t;
    });
    const fn: SqlFunctionDef = { name: def.name, args: def.params.map((type) => ({ type })), returns: { setof: def.columns }, execute: 'public', call: (args, ctx) => def.rows(args, ctx) };
    const columns = def.columns.map((c) => ({ name: c.name, type: registryType(c.type).oid }));
    const call: Expr = { k: 'func', fn, args: paramTypes.map((t, i) => ({ k: 'param', n: i + 1, type: t })), type: OID.record, name: def.name, setof: true, location: -1 };
    return {
      kind: 'select', rtable: [{ alias: def.name, columns, relOid: 0, source: { kind: 'function', call, scalar: false } }], from: [{ kind: 'scan', rte: 0 }],
      where: null, groupBy: [], aggregates: [], having: null, targets: columns.map((c, i) => ({ k: 'col', rte: 0, col: i, type: c.type })),
      columns: columns.map((c) => ({ ...c, tableOid: 0, columnAttr: 0 })), orderBy: [], distinct: false, limit: null, offset: null, checks: [],
    };
  }

  private targets(scope: Scope, plan: SelectPlan, list: Node[]): void {
    for (const item of list) {
      const rt = (item as Body).ResTarget as Body;
      const val = rt.val as Node;
      const ref = (val as Body).ColumnRef as Body | undefined;
      const star = ref && (ref.fields as Node[]).some((f) => 'A_Star' in f);
      if (star) {
        for (const c of scope.expandStar(ref!)) {
          plan.targets.push(c.expr);
          plan.columns.push({ name: c.name, type: c.expr.type, tableOid: c.tableOid, columnAttr: c.attnum });
        }
        continue;
      }
      let e = scope.expr(val, 'target');
      // resolveTargetListUnknowns: a still-untyped literal or parameter becomes text.
      if (e.type === OID.unknown) e = this.coerce(e, OID.text, 'target', loc(val));
      const origin = e.k === 'col' ? scope.origin(e) : { tableOid: 0, attnum: 0 };
      plan.targets.push(e);
      plan.columns.push({ name: (rt.name as string | undefined) ?? figureColname(val), type: e.type, tableOid: origin.tableOid, columnAttr: origin.attnum });
    }
    if (list.length === 0) return;
  }

  coerceBoolean(e: Expr, what: string, node: Node): Expr {
    if (e.type === OID.bool) return e;
    if (e.type === OID.unknown) return this.coerce(e, OID.bool, what, loc(node));
    throw this.error('42804', `argument of ${what} must be type boolean, not type ${displayName(e.type)}`, loc(node), { file: 'parse_coerce.c', line: 1180, routine: 'coerce_to_boolean' });
  }

  // ---- types and coercion ------------------------------------------------------------------

  /**
   * coerce_type for an implicit (or assignment) context: an unknown literal is read with the
   * target's input function, an untyped parameter takes the type, related types convert.
   */
  coerce(e: Expr, target: number, _context: string, location?: number): Expr {
    if (e.type === target) return e;
    if (e.k === 'param' && e.type === OID.unknown) return this.setParamType(e, target);
    if (e.k === 'const' && e.type === OID.unknown) return this.literal(e, target, location ?? e.location);
    if (target === OID.unknown) return e;
    if (canCoerceImplicitly(e.type, target)) return { k: 'cast', arg: e, type: target };
    throw this.error('42804', `cannot coerce type ${displayName(e.type)} to ${displayName(target)}`, location);
  }

  /** An explicit CAST / :: conversion. */
  explicitCast(e: Expr, target: number, location?: number): Expr {
    if (e.type === target) return e;
    if (e.k === 'param' && e.type === OID.unknown) return this.setParamType(e, target);
    if (e.k === 'const' && e.type === OID.unknown) return this.literal(e, target, location ?? e.location);
    if (canCastExplicitly(e.type, target)) return { k: 'cast', arg: e, type: target };
    throw this.error('42846', `cannot cast type ${displayName(e.type)} to ${displayName(target)}`, location, AT.cannotCoerce);
  }

  private setParamType(e: Extract<Expr, { k: 'param' }>, target: number): Expr {
    this.cx.paramTypes[e.n - 1] = target;
    return { ...e, type: target };
  }

  /** An unknown-type literal read as `target` (its input function's errors point at the literal). */
  private literal(e: Extract<Expr, { k: 'const' }>, target: number, location?: number): Expr {
    if (e.value === null) return { k: 'const', type: target, value: null };
    if (!typeByOid(target)) throw this.notSimulated(`values of type ${displayName(target)}`, location);
    try {
      return { k: 'const', type: target, value: textIn(target, String(e.value)) };
    } catch (err) {
      if (err instanceof PgError && err.position === undefined) {
        const position = this.cx.source.position(location);
        if (position !== undefined) err.position = position;
      }
      throw err;
    }
  }

  /** A TypeName node → type OID. */
  typeName(tn: Body): number {
    const names = ((tn.names ?? []) as Node[]).map(str).filter((n) => n !== 'pg_catalog');
    let name = names.join('.');
    if (tn.arrayBounds) name += '[]';
    const t = typeByName(name);
    if (!t) {
      const known = typeByName(names.join('.'));
      if (known || /^(int[248]?|text|bool|varchar|timestamp|date|numeric|float[48])/.test(name)) throw this.notSimulated(`type ${name}`, tn.location as number);
      throw this.error('42704', `type "${names.join('.')}" does not exist`, tn.location as number, AT.undefinedType);
    }
    return t.oid;
  }

  paramRef(n: number, location: number): Expr {
    if (!this.cx.paramsAllowed || n < 1) {
      throw this.error('42P02', `there is no parameter $${n}`, location, AT.noParameter);
    }
    const types = this.cx.paramTypes;
    while (types.length < n) types.push(0);
    const t = types[n - 1]!;
    if (t !== 0 && !typeByOid(t)) throw this.notSimulated(`parameters of type ${t}`, location);
    return { k: 'param', n, type: t === 0 ? OID.unknown : t };
  }

  // ---- functions ---------------------------------------------------------------------------

  /** func_get_detail() over the registry: exact argument types first, then implicit coercions. */
  resolveFunction(name: string[], args: Expr[], location: number, argLocations: number[]): { fn: SqlFunctionDef; args: Expr[] } {
    const fname = name[name.length - 1]!;
    const schema = name.length > 1 ? name[0] : undefined;
    const candidates = this.cx.registry.lookupFunctions(fname)
      .filter((f) => schema === undefined || (f.schema ?? (isBuiltinSchema(schema) ? schema : 'public')) === schema || (schema === 'pg_catalog' && f.schema === 'pg_catalog'))
      .filter((f) => f.args.length === args.length);
    const argTypes = (f: SqlFunctionDef) => f.args.map((a) => registryType(a.type).oid);
    const exact = candidates.find((f) => argTypes(f).every((t, i) => args[i]!.type === t));
    const usable = exact ?? candidates.find((f) => argTypes(f).every((t, i) => args[i]!.type === OID.unknown || canCoerceImplicitly(args[i]!.type, t)));
    if (!usable) {
      const shown = args.map((a) => displayName(a.type)).join(', ');
      throw this.error('42883', `function ${name.join('.')}(${shown}) does not exist`, location, {
        hint: 'No function matches the given name and argument types. You might need to add explicit type casts.', ...AT.undefinedFunction,
      });
    }
    const types = argTypes(usable);
    return { fn: usable, args: args.map((a, i) => this.coerce(a, types[i]!, 'argument', argLocations[i])) };
  }

  /** op_error(): no operator for these operand types (`l` null for a prefix operator). */
  operatorError(op: string, l: Expr | null, r: Expr, location: number): PgError {
    const operands = l ? `${displayName(l.type)} ${op} ${displayName(r.type)}` : `${op} ${displayName(r.type)}`;
    // With only unknown literals there are several candidates and no way to choose.
    if ((l === null || l.type === OID.unknown) && r.type === OID.unknown) {
      return this.error('42725', `operator is not unique: ${operands}`, location, {
        hint: 'Could not choose a best candidate operator. You might need to add explicit type casts.', ...AT.ambiguousOperator,
      });
    }
    return this.error('42883', `operator does not exist: ${operands}`, location, {
      hint: 'No operator matches the given name and argument types. You might need to add explicit type casts.', ...AT.undefinedOperator,
    });
  }

  get registry(): SqlRegistry { return this.cx.registry; }
  viewOid(name: string): number { return PG_CATALOG_RELATIONS[name] ?? this.cx.viewOid(name); }
  static get at() { return AT; }
}

// ---- name scope (range table) and expressions -----------------------------------------------

type ExprContext = 'target' | 'where' | 'having' | 'group' | 'order' | 'limit' | 'from' | 'join';

class Scope {
  /** Which range-table entries are visible (all of them, in this simplified namespace). */
  constructor(private readonly a: Analyzer, private readonly plan: SelectPlan) {}

  private addRte(rte: RangeEntry): number {
    // checkNameSpaceConflicts: two FROM items may not have the same name.
    if (this.plan.rtable.some((r) => r.source.kind !== 'join' && r.alias === rte.alias)) {
      throw this.a.error('42712', `table name "${rte.alias}" specified more than once`, undefined, Analyzer.at.duplicateAlias);
    }
    this.plan.rtable.push(rte);
    return this.plan.rtable.length - 1;
  }

  fromItem(item: Node): FromNode {
    const [type, body] = entry(item);
    switch (type) {
      case 'RangeVar': return { kind: 'scan', rte: this.addRte(this.rangeVar(body)) };
      case 'RangeFunction': return { kind: 'scan', rte: this.addRte(this.rangeFunction(body)) };
      case 'RangeSubselect': {
        if (body.lateral) throw this.a.notSimulated('LATERAL');
        const inner = this.a.select((body.subquery as Body).SelectStmt as Body);
        const alias = body.alias ? ((body.alias as Body).aliasname as string) : null;
        if (!alias) throw this.a.error('42601', 'subquery in FROM must have an alias', loc(body.subquery as Node));
        const columns = inner.columns.map((c, i) => ({ name: aliasColumn(body.alias, i) ?? c.name, type: c.type }));
        this.plan.checks.push(...inner.checks);
        return { kind: 'scan', rte: this.addRte({ alias, columns, relOid: 0, source: { kind: 'subquery', plan: inner } }) };
      }
      case 'JoinExpr': {
        const jt = body.jointype as string;
        const type = jt === 'JOIN_INNER' ? (body.quals || body.usingClause ? 'inner' : 'cross') : jt === 'JOIN_LEFT' ? 'left' : jt === 'JOIN_RIGHT' ? 'right' : jt === 'JOIN_FULL' ? 'full' : null;
        if (!type) throw this.a.notSimulated(`${jt} joins`);
        if (body.isNatural || body.usingClause) throw this.a.notSimulated('NATURAL and USING joins');
        const first = this.plan.rtable.length;
        const left = this.fromItem(body.larg as Node);
        const right = this.fromItem(body.rarg as Node);
        const rtes = Array.from({ length: this.plan.rtable.length - first }, (_, i) => first + i);
        const quals = body.quals ? this.a.coerceBoolean(this.expr(body.quals as Node, 'join'), 'JOIN/ON', body.quals as Node) : null;
        return { kind: 'join', type: type as 'inner', left, right, quals, rtes };
      }
      default:
        throw this.a.notSimulated(`${type} in FROM`, loc(item));
    }
  }

  private rangeVar(rv: Body): RangeEntry {
    const name = rv.relname as string;
    const schema = rv.schemaname as string | undefined;
    const alias = rv.alias ? (rv.alias as Body).aliasname as string : name;
    const qualified = schema ? `${schema}.${name}` : name;
    const view = this.a.registry.lookupView(name);
    if (!view || (schema && (view.schema ?? defaultSchema(name)) !== schema)) {
      throw this.a.error('42P01', `relation "${qualified}" does not exist`, rv.location as number, schema ? Analyzer.at.undefinedQualifiedTable : Analyzer.at.undefinedTable);
    }
    this.plan.checks.push({ kind: 'view', view });
    const columns = view.columns.map((c, i) => ({ name: aliasColumn(rv.alias, i) ?? c.name, type: registryType(c.type).oid }));
    return { alias, columns, relOid: this.a.viewOid(name), source: { kind: 'view', view } };
  }

  private rangeFunction(rf: Body): RangeEntry {
    if (rf.lateral || rf.ordinality || rf.is_rowsfrom || rf.coldeflist) throw this.a.notSimulated('LATERAL, WITH ORDINALITY, ROWS FROM or a column definition list');
    const items = (rf.functions as Node[]).map((n) => (n as Body).List?.items as Node[]);
    if (items.length !== 1) throw this.a.notSimulated('ROWS FROM');
    const callNode = items[0]![0]!;
    const call = this.expr(callNode, 'from');
    if (call.k !== 'func') throw this.a.error('42601', 'only function calls are allowed in FROM', loc(callNode));
    const alias = rf.alias ? (rf.alias as Body).aliasname as string : call.name;
    const returns = call.fn.returns;
    if (typeof returns === 'object') {
      // A set of a base type (one column named after the function, like generate_series): the alias names the column.
      const scalarSet = returns.setof.length === 1 && returns.setof[0]!.name === call.name;
      const columns = returns.setof.map((c, i) => ({ name: aliasColumn(rf.alias, i) ?? (scalarSet ? alias : c.name), type: registryType(c.type).oid }));
      return { alias, columns, relOid: 0, source: { kind: 'function', call: { ...call, setof: true }, scalar: false } };
    }
    return { alias, columns: [{ name: aliasColumn(rf.alias, 0) ?? alias, type: call.type }], relOid: 0, source: { kind: 'function', call, scalar: true } };
  }

  origin(e: Extract<Expr, { k: 'col' }>): { tableOid: number; attnum: number } {
    const rte = this.plan.rtable[e.rte]!;
    if (rte.source.kind === 'view') return { tableOid: rte.relOid, attnum: e.col + 1 };
    if (rte.source.kind === 'subquery') {
      const c = rte.source.plan.columns[e.col]!;
      return { tableOid: c.tableOid, attnum: c.columnAttr };
    }
    return { tableOid: 0, attnum: 0 };
  }

  expandStar(ref: Body): Array<{ name: string; expr: Expr; tableOid: number; attnum: number }> {
    const fields = ref.fields as Node[];
    const qualifier = fields.length > 1 ? str(fields[0]!) : null;
    const visible = this.plan.rtable.map((r, i) => ({ r, i })).filter(({ r }) => r.source.kind !== 'join');
    if (visible.length === 0) throw this.a.error('42601', 'SELECT * with no tables specified is not valid', ref.location as number, { file: 'parse_target.c', line: 1335, routine: 'ExpandAllTables' });
    const chosen = qualifier === null ? visible : visible.filter(({ r }) => r.alias === qualifier);
    if (qualifier !== null && chosen.length === 0) {
      throw this.a.error('42P01', `missing FROM-clause entry for table "${qualifier}"`, ref.location as number, Analyzer.at.missingFrom);
    }
    return chosen.flatMap(({ r, i }) => r.columns.map((c, col) => {
      const expr: Extract<Expr, { k: 'col' }> = { k: 'col', rte: i, col, type: c.type };
      const o = this.origin(expr);
      return { name: c.name, expr, tableOid: o.tableOid, attnum: o.attnum };
    }));
  }

  private columnRef(ref: Body): Expr {
    const fields = (ref.fields as Node[]).map(str);
    const location = ref.location as number;
    if (fields.length > 2) throw this.a.notSimulated('column references with a schema or catalog', location);
    const [qualifier, name] = fields.length === 2 ? [fields[0]!, fields[1]!] : [null, fields[0]!];
    const matches: Expr[] = [];
    let qualifierSeen = false;
    this.plan.rtable.forEach((r, rte) => {
      if (qualifier !== null && r.alias !== qualifier) return;
      qualifierSeen = true;
      r.columns.forEach((c, col) => { if (c.name === name) matches.push({ k: 'col', rte, col, type: c.type }); });
    });
    if (qualifier !== null && !qualifierSeen) {
      throw this.a.error('42P01', `missing FROM-clause entry for table "${qualifier}"`, location, Analyzer.at.missingFrom);
    }
    if (matches.length > 1) throw this.a.error('42702', `column reference "${name}" is ambiguous`, location, Analyzer.at.ambiguousColumn);
    if (matches.length === 0) {
      throw this.a.error('42703', qualifier ? `column ${qualifier}.${name} does not exist` : `column "${name}" does not exist`, location, Analyzer.at.undefinedColumn);
    }
    return matches[0]!;
  }

  groupExpr(g: Node, targets: Node[]): Expr {
    // GROUP BY 1 and GROUP BY output-name refer to the select list.
    const c = (g as Body).A_Const as Body | undefined;
    if (c?.ival !== undefined) {
      const n = (c.ival as Body).ival as number ?? 0;
      const t = targets[n - 1] as Body | undefined;
      if (!t) throw this.a.error('42P10', `GROUP BY position ${n} is not in select list`, c.location as number);
      return this.expr((t.ResTarget as Body).val as Node, 'group');
    }
    return this.expr(g, 'group');
  }

  sortKey(s: Node, plan: SelectPlan): SortKey & { output?: number } {
    const sb = (s as Body).SortBy as Body;
    const desc = sb.sortby_dir === 'SORTBY_DESC';
    const nullsFirst = sb.sortby_nulls === 'SORTBY_NULLS_FIRST' || (sb.sortby_nulls !== 'SORTBY_NULLS_LAST' && desc);
    if (sb.useOp) throw this.a.notSimulated('ORDER BY ... USING');
    const node = sb.node as Body;
    // ORDER BY 2: an output column by position.
    if (node.A_Const?.ival !== undefined) {
      const n = ((node.A_Const as Body).ival as Body).ival as number ?? 0;
      if (n < 1 || n > plan.columns.length) {
        throw this.a.error('42P10', `ORDER BY position ${n} is not in select list`, (node.A_Const as Body).location as number, { file: 'parse_clause.c', line: 2009, routine: 'findTargetlistEntrySQL92' });
      }
      return { expr: plan.targets[n - 1]!, desc, nullsFirst, output: n - 1 };
    }
    // ORDER BY name: an output column name wins over an input column (SQL92 rule).
    const ref = node.ColumnRef as Body | undefined;
    if (ref && (ref.fields as Node[]).length === 1 && 'String' in (ref.fields as Node[])[0]!) {
      const name = str((ref.fields as Node[])[0]!);
      const hits = plan.columns.map((c, i) => ({ c, i })).filter(({ c }) => c.name === name);
      if (hits.length === 1) return { expr: plan.targets[hits[0]!.i]!, desc, nullsFirst, output: hits[0]!.i };
    }
    const expr = this.expr(node, 'order');
    if (plan.distinct) {
      const idx = plan.targets.findIndex((t) => sameExpr(t, expr));
      if (idx < 0) throw this.a.error('42P10', 'for SELECT DISTINCT, ORDER BY expressions must appear in select list', loc(node));
      return { expr, desc, nullsFirst, output: idx };
    }
    return { expr, desc, nullsFirst };
  }

  /** check_ungrouped_columns: every column outside an aggregate must be grouped. */
  checkGrouping(plan: SelectPlan, targetNodes: Node[]): void {
    const grouped = (e: Expr): boolean => plan.groupBy.some((g) => sameExpr(g, e));
    const walk = (e: Expr, node: Node | undefined): void => {
      if (grouped(e) || e.k === 'agg' || e.k === 'const' || e.k === 'param' || e.k === 'sqlvalue') return;
      if (e.k === 'col') {
        const r = this.plan.rtable[e.rte]!;
        const name = `${r.alias}.${r.columns[e.col]!.name}`;
        throw this.a.error('42803', `column "${name}" must appear in the GROUP BY clause or be used in an aggregate function`, node ? findColumnLocation(node, r.columns[e.col]!.name) : undefined, Analyzer.at.groupBy);
      }
      for (const child of children(e)) walk(child, node);
    };
    plan.targets.forEach((t, i) => walk(t, targetNodes[i]));
    if (plan.having) walk(plan.having, undefined);
  }

  // ---- expressions -------------------------------------------------------------------------

  expr(n: Node, ctx: ExprContext): Expr {
    const [type, b] = entry(n);
    switch (type) {
      case 'A_Const': return constant(b);
      case 'ColumnRef': {
        if ((b.fields as Node[]).some((f) => 'A_Star' in f)) throw this.a.error('42601', 'row expansion via "*" is not supported here', b.location as number);
        return this.columnRef(b);
      }
      case 'ParamRef': return this.a.paramRef(b.number as number ?? 0, b.location as number);
      case 'TypeCast': {
        const target = this.a.typeName(b.typeName as Body);
        const elem = typeByOid(target)?.elem;
        const array = (b.arg as Body).A_ArrayExpr as Body | undefined;
        // ARRAY[...]::t[]: the elements are cast to t one by one (transformArrayExpr with a target type).
        if (elem !== undefined && array) {
          const elems = ((array.elements ?? []) as Node[]).map((x) => this.a.explicitCast(this.expr(x, ctx), elem, loc(x)));
          return { k: 'array', elems, type: target };
        }
        const arg = this.expr(b.arg as Node, ctx);
        return this.a.explicitCast(arg, target, loc(b.arg as Node) ?? (b.location as number));
      }
      case 'SQLValueFunction': return sqlValueFunction(b, this.a);
      case 'FuncCall': return this.funcCall(b, ctx);
      case 'A_Expr': return this.aExpr(b, ctx);
      case 'BoolExpr': {
        const op = b.boolop === 'AND_EXPR' ? 'and' : b.boolop === 'OR_EXPR' ? 'or' : 'not';
        const what = op === 'and' ? 'AND' : op === 'or' ? 'OR' : 'NOT';
        const args = (b.args as Node[]).map((x) => this.a.coerceBoolean(this.expr(x, ctx), what, x));
        return { k: 'bool', op, args, type: OID.bool };
      }
      case 'NullTest': {
        const arg = this.expr(b.arg as Node, ctx);
        return { k: 'nulltest', arg, isNull: b.nulltesttype === 'IS_NULL', type: OID.bool };
      }
      case 'BooleanTest': {
        const arg = this.a.coerceBoolean(this.expr(b.arg as Node, ctx), 'IS TRUE', b.arg as Node);
        const t = b.booltesttype as string;
        const value: Expr = { k: 'const', type: OID.bool, value: t === 'IS_TRUE' || t === 'IS_NOT_TRUE' };
        if (t === 'IS_UNKNOWN' || t === 'IS_NOT_UNKNOWN') return { k: 'nulltest', arg, isNull: t === 'IS_UNKNOWN', type: OID.bool };
        const eq: Expr = { k: 'op', op: 'is not distinct from', l: arg, r: value, type: OID.bool, operand: OID.bool };
        return t.startsWith('IS_NOT') ? { k: 'bool', op: 'not', args: [eq], type: OID.bool } : eq;
      }
      case 'CaseExpr': return this.caseExpr(b, ctx);
      case 'CoalesceExpr': {
        const args = (b.args as Node[]).map((x) => this.expr(x, ctx));
        const t = commonType(args.map((x) => x.type));
        if (t === null) throw this.a.error('42804', 'COALESCE types cannot be matched', b.location as number);
        return { k: 'coalesce', args: args.map((x, i) => this.a.coerce(x, t, 'COALESCE', loc((b.args as Node[])[i]!))), type: t };
      }
      case 'A_ArrayExpr': {
        const elems = ((b.elements ?? []) as Node[]).map((x) => this.expr(x, ctx));
        const t = commonType(elems.map((x) => x.type));
        const elemType = t === null || t === OID.unknown ? OID.text : t;
        const arrayType = typeByOid(elemType)?.array;
        if (!arrayType || !typeByOid(arrayType)) throw this.a.notSimulated(`arrays of ${displayName(elemType)}`, b.location as number);
        return { k: 'array', elems: elems.map((x) => this.a.coerce(x, elemType, 'ARRAY', undefined)), type: arrayType };
      }
      case 'SubLink': throw this.a.notSimulated('subqueries in expressions', b.location as number);
      default: throw this.a.notSimulated(`${type} expressions`, loc(n));
    }
  }

  private caseExpr(b: Body, ctx: ExprContext): Expr {
    const arg = b.arg ? this.expr(b.arg as Node, ctx) : null;
    const whens = ((b.args ?? []) as Node[]).map((w) => (w as Body).CaseWhen as Body);
    const results = whens.map((w) => this.expr(w.result as Node, ctx));
    const otherwise = b.defresult ? this.expr(b.defresult as Node, ctx) : null;
    let t = commonType([...results, ...(otherwise ? [otherwise] : [])].map((x) => x.type));
    if (t === null) throw this.a.error('42804', 'CASE types cannot be matched', b.location as number);
    if (t === OID.unknown) t = OID.text;
    const rt = t;
    const when = whens.map((w, i) => {
      let cond = this.expr(w.expr as Node, ctx);
      if (arg) cond = this.comparison('=', arg, cond, w.location as number);
      return { cond: this.a.coerceBoolean(cond, 'CASE/WHEN', w.expr as Node), result: this.a.coerce(results[i]!, rt, 'CASE', loc(w.result as Node)) };
    });
    return { k: 'case', arg: null, when, otherwise: otherwise ? this.a.coerce(otherwise, rt, 'CASE', loc(b.defresult as Node)) : null, type: rt };
  }

  private funcCall(b: Body, ctx: ExprContext): Expr {
    const name = (b.funcname as Node[]).map(str);
    const location = b.location as number;
    if (b.over) throw this.a.notSimulated('window functions', location);
    const fname = name[name.length - 1]!.toLowerCase();
    const argNodes = (b.args ?? []) as Node[];
    const isAgg = (name.length === 1 || name[0] === 'pg_catalog') && AGGREGATES.has(fname) && this.a.registry.lookupFunctions(fname).length === 0;
    if (isAgg) return this.aggregate(fname as Aggregate['fn'], b, argNodes, ctx);
    if (b.agg_star || b.agg_distinct || b.agg_order || b.agg_filter) throw this.a.notSimulated('aggregate syntax on a non-aggregate function', location);
    const args = argNodes.map((x) => this.expr(x, ctx));
    const { fn, args: coerced } = this.a.resolveFunction(name, args, location, argNodes.map((x) => loc(x) ?? location));
    this.plan.checks.push({ kind: 'function', fn, name: fn.name });
    const returns = fn.returns;
    let type: number;
    let setof = false;
    if (typeof returns === 'object') {
      setof = true;
      type = returns.setof.length === 1 ? registryType(returns.setof[0]!.type).oid : OID.record;
    } else {
      type = registryType(returns).oid;
    }
    if (setof && ctx !== 'target' && ctx !== 'from') throw this.a.error('0A000', `set-returning functions are not allowed in ${ctx === 'where' ? 'WHERE' : ctx.toUpperCase()}`, location);
    return { k: 'func', fn, args: coerced, type, name: fn.name, setof, location };
  }

  private aggregate(fn: Aggregate['fn'], b: Body, argNodes: Node[], ctx: ExprContext): Expr {
    const location = b.location as number;
    if (ctx === 'where' || ctx === 'group' || ctx === 'join' || ctx === 'from') {
      throw this.a.error('42803', `aggregate functions are not allowed in ${ctx === 'where' ? 'WHERE' : ctx === 'group' ? 'GROUP BY' : ctx === 'join' ? 'JOIN conditions' : 'functions in FROM'}`, location);
    }
    if (b.agg_order || b.agg_filter) throw this.a.notSimulated('ORDER BY or FILTER in aggregates', location);
    let arg: Expr | null = null;
    if (b.agg_star) {
      if (fn !== 'count') throw this.a.error('42809', `${fn}(*) must be used to call a parameterless aggregate function`, location);
    } else {
      if (argNodes.length !== 1) throw this.a.notSimulated(`${fn} with ${argNodes.length} arguments`, location);
      arg = this.expr(argNodes[0]!, 'having');
      if (arg.type === OID.unknown) arg = this.a.coerce(arg, OID.text, fn, loc(argNodes[0]!));
    }
    if (arg && (fn === 'min' || fn === 'max') && (arg.type === OID.name || arg.type === OID.varchar)) arg = this.a.coerce(arg, OID.text, fn, undefined);
    if (arg && (fn === 'min' || fn === 'max') && (arg.type === OID.bool || arg.type === OID.char || arg.type === OID.bytea)) {
      throw this.a.error('42883', `function ${fn}(${displayName(arg.type)}) does not exist`, location, { hint: 'No function matches the given name and argument types. You might need to add explicit type casts.', ...Analyzer.at.undefinedFunction });
    }
    const at = arg?.type ?? OID.int8;
    const type = fn === 'count' ? OID.int8
      : fn === 'sum' ? (at === OID.int2 || at === OID.int4 ? OID.int8 : at === OID.int8 ? OID.numeric : at)
      : fn === 'array_agg' ? (typeByOid(at)?.array ?? OID._text)
      : fn === 'bool_and' || fn === 'bool_or' ? OID.bool : at;
    if (fn === 'sum' && typeByOid(at)?.category !== 'N') throw this.a.error('42883', `function sum(${displayName(at)}) does not exist`, location, Analyzer.at.undefinedFunction);
    this.plan.aggregates.push({ fn, arg, distinct: Boolean(b.agg_distinct), type });
    return { k: 'agg', index: this.plan.aggregates.length - 1, type };
  }

  private aExpr(b: Body, ctx: ExprContext): Expr {
    const kind = b.kind as string;
    const op = ((b.name ?? []) as Node[]).map(str).join('.');
    const location = b.location as number;
    switch (kind) {
      case 'AEXPR_OP': {
        if (!b.lexpr) {
          const r = this.expr(b.rexpr as Node, ctx);
          if (r.type === OID.unknown) throw this.a.operatorError(op, null, r, location);
          if (op === '-' && r.k === 'const' && typeof r.value === 'number') return { ...r, value: -r.value };
          if (op === '-' && r.k === 'const' && typeof r.value === 'string' && r.type === OID.numeric) return { ...r, value: r.value.startsWith('-') ? r.value.slice(1) : `-${r.value}` };
          if (op === '-' || op === '+') return this.arith(op, { k: 'const', type: OID.int4, value: 0 }, r, location);
          throw this.a.notSimulated(`prefix operator ${op}`, location);
        }
        const l = this.expr(b.lexpr as Node, ctx);
        const r = this.expr(b.rexpr as Node, ctx);
        if (COMPARISONS.has(op)) return this.comparison(op === '!=' ? '<>' : op, l, r, location);
        if (op === '+' || op === '-' || op === '*' || op === '/' || op === '%') {
          if (l.type === OID.unknown && r.type === OID.unknown) throw this.a.operatorError(op, l, r, location);
          return this.arith(op, l, r, location);
        }
        if (op === '||') {
          const lt = l.type === OID.unknown ? this.a.coerce(l, OID.text, '||', loc(b.lexpr as Node)) : l;
          const rt = r.type === OID.unknown ? this.a.coerce(r, OID.text, '||', loc(b.rexpr as Node)) : r;
          const isString = (t: number) => typeByOid(t)?.category === 'S';
          if (!isString(lt.type) && !isString(rt.type)) throw this.a.operatorError(op, lt, rt, location);
          return { k: 'op', op: '||', l: lt, r: rt, type: OID.text, operand: OID.text };
        }
        if (op === '~~' || op === '!~~' || op === '~~*' || op === '!~~*') return this.like(l, r, op.startsWith('!'), op.includes('*'));
        throw this.a.operatorError(op, l, r, location);
      }
      case 'AEXPR_DISTINCT': case 'AEXPR_NOT_DISTINCT': {
        const cmp = this.comparison('=', this.expr(b.lexpr as Node, ctx), this.expr(b.rexpr as Node, ctx), location) as Extract<Expr, { k: 'op' }>;
        return { ...cmp, op: kind === 'AEXPR_DISTINCT' ? 'is distinct from' : 'is not distinct from' };
      }
      case 'AEXPR_NULLIF': {
        const l = this.expr(b.lexpr as Node, ctx);
        const cmp = this.comparison('=', l, this.expr(b.rexpr as Node, ctx), location) as Extract<Expr, { k: 'op' }>;
        return { k: 'case', arg: null, when: [{ cond: cmp, result: { k: 'const', type: cmp.l.type, value: null } }], otherwise: cmp.l, type: cmp.l.type };
      }
      case 'AEXPR_IN': {
        const arg = this.expr(b.lexpr as Node, ctx);
        const list = listItems(b.rexpr).map((x) => this.expr(x, ctx));
        const t = commonType([arg.type, ...list.map((x) => x.type)]);
        if (t === null) throw this.a.operatorError('=', arg, list.find((x) => commonType([arg.type, x.type]) === null) ?? arg, location);
        const operand = t === OID.unknown ? OID.text : t;
        return { k: 'in', arg: this.a.coerce(arg, operand, 'IN', loc(b.lexpr as Node)), list: list.map((x) => this.a.coerce(x, operand, 'IN', undefined)), not: op === '<>', type: OID.bool, operand };
      }
      case 'AEXPR_OP_ANY': case 'AEXPR_OP_ALL': {
        if (!COMPARISONS.has(op)) throw this.a.notSimulated(`${op} ANY/ALL`, location);
        const l = this.expr(b.lexpr as Node, ctx);
        let array = this.expr(b.rexpr as Node, ctx);
        // An untyped literal or parameter on the right is an array of the left side's type.
        const leftType = l.type === OID.unknown ? OID.text : l.type;
        if (array.type === OID.unknown) array = this.a.coerce(array, typeByOid(leftType)?.array ?? OID._text, 'ANY', loc(b.rexpr as Node));
        const elem = typeByOid(array.type)?.elem;
        if (elem === undefined) throw this.a.error('42809', `op ANY/ALL (array) requires array on right side`, location);
        const cmp = this.comparison(op === '!=' ? '<>' : op, l, { k: 'const', type: elem, value: null }, location) as Extract<Expr, { k: 'op' }>;
        return { k: 'anyall', op: cmp.op, l: cmp.l, array, all: kind === 'AEXPR_OP_ALL', type: OID.bool, operand: cmp.operand };
      }
      case 'AEXPR_LIKE': case 'AEXPR_ILIKE':
        return this.like(this.expr(b.lexpr as Node, ctx), this.expr(b.rexpr as Node, ctx), op.startsWith('!'), kind === 'AEXPR_ILIKE');
      case 'AEXPR_BETWEEN': case 'AEXPR_NOT_BETWEEN': {
        const arg = this.expr(b.lexpr as Node, ctx);
        const [lo, hi] = listItems(b.rexpr).map((x) => this.expr(x, ctx)) as [Expr, Expr];
        const both: Expr = { k: 'bool', op: 'and', args: [this.comparison('>=', arg, lo, location), this.comparison('<=', arg, hi, location)], type: OID.bool };
        return kind === 'AEXPR_BETWEEN' ? both : { k: 'bool', op: 'not', args: [both], type: OID.bool };
      }
      default:
        throw this.a.notSimulated(`${kind.replace('AEXPR_', '').toLowerCase()} expressions`, location);
    }
  }

  private like(l: Expr, r: Expr, not: boolean, insensitive: boolean): Expr {
    return { k: 'like', arg: this.a.coerce(l, OID.text, 'LIKE', undefined), pattern: this.a.coerce(r, OID.text, 'LIKE', undefined), not, insensitive, type: OID.bool };
  }

  /** oper() for comparisons: same type, an unknown side taking the other's type, or related numeric/string types. */
  comparison(op: string, l: Expr, r: Expr, location: number): Expr {
    let t: number | null;
    if (l.type === OID.unknown && r.type === OID.unknown) t = OID.text;
    else if (l.type === OID.unknown) t = r.type;
    else if (r.type === OID.unknown) t = l.type;
    else t = commonType([l.type, r.type]);
    if (t === null) throw this.a.operatorError(op, l, r, location);
    return { k: 'op', op, l: this.a.coerce(l, t, op, undefined), r: this.a.coerce(r, t, op, undefined), type: OID.bool, operand: t };
  }

  private arith(op: string, l: Expr, r: Expr, location: number): Expr {
    const lt = l.type === OID.unknown ? (r.type === OID.unknown ? null : r.type) : l.type;
    const rt = r.type === OID.unknown ? lt : r.type;
    const t = lt === null || rt === null ? null : commonType([lt, rt]);
    if (t === null || typeByOid(t)?.category !== 'N' || t === OID.oid) throw this.a.operatorError(op, l, r, location);
    const named = `${typeByOid(l.type === OID.unknown ? t : l.type)!.typname}${(r.type === OID.unknown ? t : r.type) === (l.type === OID.unknown ? t : l.type) ? '' : typeByOid(r.type === OID.unknown ? t : r.type)!.typname.replace(/^int/, '')}${ARITH_NAMES[op]}`;
    return { k: 'op', op, l: this.a.coerce(l, t, op, undefined), r: this.a.coerce(r, t, op, undefined), type: t, operand: t, named };
  }
}

/** The suffix of PostgreSQL's operator functions (int4pl, int84div, int4mod). */
const ARITH_NAMES: Record<string, string> = { '+': 'pl', '-': 'mi', '*': 'mul', '/': 'div', '%': 'mod' };

const COMPARISONS = new Set(['=', '<>', '!=', '<', '>', '<=', '>=']);
const AGGREGATES = new Set(['count', 'min', 'max', 'sum', 'array_agg', 'bool_and', 'bool_or']);

// ---- helpers -----------------------------------------------------------------------------------

export function entry(n: Node): [string, Body] {
  const k = Object.keys(n)[0]!;
  return [k, n[k] as Body];
}

export function str(n: Node): string {
  const s = (n as Body).String as Body | undefined;
  return (s?.sval as string | undefined) ?? '';
}

/** The location of a node, when it has one. */
export function loc(n: Node | undefined): number | undefined {
  if (!n) return undefined;
  const [, b] = entry(n);
  return typeof b?.location === 'number' ? b.location : undefined;
}

/** A List node's items (IN lists and BETWEEN bounds arrive as { List: { items } }). */
function listItems(n: unknown): Node[] {
  if (Array.isArray(n)) return n as Node[];
  return (((n as Body | undefined)?.List as Body | undefined)?.items ?? []) as Node[];
}

function aliasColumn(alias: unknown, i: number): string | undefined {
  const names = ((alias as Body | undefined)?.Alias ?? alias as Body | undefined)?.colnames as Node[] | undefined;
  return names?.[i] ? str(names[i]!) : undefined;
}

function isBuiltinSchema(s: string): boolean {
  return s === 'pg_catalog' || s === 'public';
}

function defaultSchema(name: string): string {
  return name.startsWith('pg_') ? 'pg_catalog' : 'public';
}

/** make_const(): integers that fit int4, int8 for larger ones, numeric for the rest; strings are unknown. */
function constant(b: Body): Expr {
  if (b.isnull) return { k: 'const', type: OID.unknown, value: null, location: b.location as number };
  if (b.ival !== undefined) return { k: 'const', type: OID.int4, value: ((b.ival as Body).ival as number | undefined) ?? 0 };
  if (b.fval !== undefined) {
    const text = (b.fval as Body).fval as string;
    if (/^[+-]?\d+$/.test(text)) {
      const v = BigInt(text);
      if (v >= -9223372036854775808n && v <= 9223372036854775807n) return { k: 'const', type: OID.int8, value: v };
    }
    return { k: 'const', type: OID.numeric, value: textIn(OID.numeric, text) };
  }
  if (b.boolval !== undefined) return { k: 'const', type: OID.bool, value: Boolean((b.boolval as Body).boolval) };
  if (b.sval !== undefined) return { k: 'const', type: OID.unknown, value: ((b.sval as Body).sval as string | undefined) ?? '', location: b.location as number };
  throw new PgError({ severity: 'ERROR', sqlstate: '0A000', message: 'pg-authsim does not simulate bit-string constants' });
}

const SVF: Record<string, [name: string, type: number]> = {
  SVFOP_CURRENT_USER: ['current_user', OID.name], SVFOP_CURRENT_ROLE: ['current_role', OID.name], SVFOP_USER: ['user', OID.name],
  SVFOP_SESSION_USER: ['session_user', OID.name], SVFOP_CURRENT_CATALOG: ['current_catalog', OID.name],
  SVFOP_CURRENT_SCHEMA: ['current_schema', OID.name], SVFOP_CURRENT_TIMESTAMP: ['current_timestamp', OID.timestamptz],
  SVFOP_CURRENT_TIMESTAMP_N: ['current_timestamp', OID.timestamptz], SVFOP_CURRENT_DATE: ['current_date', OID.date],
  SVFOP_LOCALTIMESTAMP: ['localtimestamp', OID.timestamp], SVFOP_LOCALTIMESTAMP_N: ['localtimestamp', OID.timestamp],
};

function sqlValueFunction(b: Body, a: Analyzer): Expr {
  const svf = SVF[b.op as string];
  if (!svf) throw a.notSimulated(String(b.op).replace('SVFOP_', '').toLowerCase(), b.location as number);
  return { k: 'sqlvalue', op: svf[0], type: svf[1] };
}

/** FigureColname(): the output name PostgreSQL gives an unnamed select-list item. */
export function figureColname(n: Node): string {
  return figure(n)[0] ?? '?column?';
}

function figure(n: Node): [string | null, number] {
  const [type, b] = entry(n);
  switch (type) {
    case 'ColumnRef': {
      const fields = b.fields as Node[];
      const last = fields[fields.length - 1]!;
      return 'A_Star' in last ? [null, 0] : [str(last), 2];
    }
    case 'FuncCall': {
      const names = b.funcname as Node[];
      return [str(names[names.length - 1]!), 2];
    }
    case 'TypeCast': {
      const [name, strength] = figure(b.arg as Node);
      if (strength > 1) return [name, strength];
      const names = ((b.typeName as Body).names as Node[]).map(str);
      return [names[names.length - 1]!, 1];
    }
    case 'SQLValueFunction': return [SVF[b.op as string]?.[0] ?? null, 2];
    case 'CaseExpr': {
      const [name, strength] = b.defresult ? figure(b.defresult as Node) : [null, 0];
      return strength > 1 ? [name, strength] : ['case', 1];
    }
    case 'CoalesceExpr': return ['coalesce', 2];
    case 'A_ArrayExpr': return ['array', 2];
    case 'A_Expr': return (b.kind === 'AEXPR_NULLIF') ? ['nullif', 2] : [null, 0];
    default: return [null, 0];
  }
}

/** The position of a column's first mention inside a node, for errors that point at it. */
function findColumnLocation(n: unknown, name: string): number | undefined {
  if (Array.isArray(n)) {
    for (const x of n) { const r = findColumnLocation(x, name); if (r !== undefined) return r; }
    return undefined;
  }
  if (n === null || typeof n !== 'object') return undefined;
  const o = n as Body;
  if (o.ColumnRef) {
    const fields = (o.ColumnRef as Body).fields as Node[];
    if (str(fields[fields.length - 1]!) === name) return (o.ColumnRef as Body).location as number;
  }
  for (const v of Object.values(o)) { const r = findColumnLocation(v, name); if (r !== undefined) return r; }
  return undefined;
}

export function sameExpr(a: Expr, b: Expr): boolean {
  return JSON.stringify(a, (_k, v) => (typeof v === 'bigint' ? `${v}n` : v)) === JSON.stringify(b, (_k, v) => (typeof v === 'bigint' ? `${v}n` : v));
}

// ---- type rules --------------------------------------------------------------------------------

/** The numeric tower for implicit promotion (int2 < int4 < int8 < numeric < float4 < float8). */
const NUMERIC_RANK: Record<number, number> = { [OID.int2]: 1, [OID.int4]: 2, [OID.int8]: 3, [OID.numeric]: 4, [OID.float4]: 5, [OID.float8]: 6 };
const STRINGS = new Set<number>([OID.text, OID.varchar, OID.bpchar, OID.name]);

/** Implicit casts in pg_cast (castcontext 'i') among the simulated types, plus binary-coercible string types. */
export function canCoerceImplicitly(from: number, to: number): boolean {
  if (from === to) return true;
  if (NUMERIC_RANK[from] && NUMERIC_RANK[to]) return NUMERIC_RANK[from]! < NUMERIC_RANK[to]!;
  if (STRINGS.has(from) && STRINGS.has(to)) return true;
  if (from === OID.char && (to === OID.text || to === OID.varchar || to === OID.bpchar)) return true;
  if ((from === OID.int2 || from === OID.int4 || from === OID.int8) && (to === OID.oid || to === OID.regproc || to === OID.regtype)) return true;
  if ((from === OID.oid && (to === OID.regproc || to === OID.regtype)) || ((from === OID.regproc || from === OID.regtype) && to === OID.oid)) return true;
  if (from === OID.date && (to === OID.timestamptz || to === OID.timestamp)) return true;
  if (from === OID.timestamp && to === OID.timestamptz) return true;
  return false;
}

/** Explicit casts: every implicit one, numeric narrowing, bool/int4, and I/O conversion to or from a string type. */
export function canCastExplicitly(from: number, to: number): boolean {
  if (canCoerceImplicitly(from, to)) return true;
  const fromElem = typeByOid(from)?.elem;
  const toElem = typeByOid(to)?.elem;
  if (fromElem !== undefined && toElem !== undefined) return canCastExplicitly(fromElem, toElem);
  if (NUMERIC_RANK[from] && NUMERIC_RANK[to]) return true;
  if ((from === OID.bool && to === OID.int4) || (from === OID.int4 && to === OID.bool)) return true;
  if (from === OID.timestamptz && (to === OID.date || to === OID.timestamp)) return true;
  if (from === OID.oid && (to === OID.int4 || to === OID.int8)) return true;
  if (STRINGS.has(from) || STRINGS.has(to)) return typeByOid(to) !== undefined && typeByOid(from) !== undefined;
  return false;
}

/** select_common_type(): unknowns defer to the others; numerics promote; strings meet at text. */
export function commonType(types: number[]): number | null {
  const known = types.filter((t) => t !== OID.unknown);
  if (known.length === 0) return OID.unknown;
  let t = known[0]!;
  for (const u of known.slice(1)) {
    if (u === t) continue;
    if (canCoerceImplicitly(u, t)) continue;
    if (canCoerceImplicitly(t, u)) { t = u; continue; }
    if (STRINGS.has(u) && STRINGS.has(t)) { t = OID.text; continue; }
    return null;
  }
  return t;
}

export type { SqlValue };
