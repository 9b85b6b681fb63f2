/**
 * ProcessUtility for the utility statements a session simulates: transaction control,
 * SET/SHOW/RESET, PREPARE/EXECUTE/DEALLOCATE, DISCARD, CLOSE, LISTEN/UNLISTEN/NOTIFY, and
 * whatever extensions registered in the SqlRegistry (CREATE/ALTER/DROP ROLE, ALTER SYSTEM, ...).
 * Anything else is a clear 0A000.
 */
import { PgError } from '../errors.js';
import { LIST_QUOTE } from '../config/index.js';
import type { RawStatement } from '../sql/parser.js';
import { Analyzer, entry, type Node } from '../sql/analyze.js';
import type { ResultColumn } from '../sql/plan.js';
import { registryType, typeByOid, OID } from '../sql/types.js';
import { foldConstants, runSelect } from '../sql/execute.js';
import type { SqlValue } from '../sql/registry.js';
import { SourceText } from '../sql/parser.js';
import type { Session, UtilityStatements } from './session.js';

type Body = Record<string, any>;

export interface UtilityOutcome {
  tag: string;
  rows: SqlValue[][] | null;
  columns?: ResultColumn[];
}

const text = (name: string): ResultColumn => ({ name, type: OID.text, tableOid: 0, columnAttr: 0 });

/** IsTransactionExitStmt: what may run in a failed transaction block. */
export function isTransactionExit(raw: RawStatement): boolean {
  if (raw.type !== 'TransactionStmt') return false;
  return ['TRANS_STMT_COMMIT', 'TRANS_STMT_ROLLBACK', 'TRANS_STMT_ROLLBACK_TO', 'TRANS_STMT_PREPARE', 'TRANS_STMT_COMMIT_PREPARED', 'TRANS_STMT_ROLLBACK_PREPARED']
    .includes(raw.node.kind as string);
}

/** UtilityTupleDescriptor: the rows a utility statement returns, known before it runs. */
export function describeUtility(session: Session, raw: RawStatement): ResultColumn[] | null {
  switch (raw.type) {
    case 'VariableShowStmt': {
      const name = showName(raw.node);
      if (name.toLowerCase() === 'all') return [text('name'), text('setting'), text('description')];
      // GetPGVariableResultDesc looks the variable up, privilege check included.
      session.settings.show(name);
      return [text(session.settings.canonical(name))];
    }
    case 'ExecuteStmt': {
      const stmt = session.statements.get(raw.node.name as string);
      return stmt ? session.describe(stmt) : null;
    }
    default:
      return null;
  }
}

export async function runUtility(session: Session, raw: RawStatement, sql: string): Promise<UtilityOutcome> {
  const n = raw.node as Body;
  const done = (tag: string): UtilityOutcome => ({ tag, rows: null });
  switch (raw.type) {
    case 'TransactionStmt': return done(transaction(session, n));
    case 'VariableSetStmt': return done(variableSet(session, n));
    case 'VariableShowStmt': {
      const name = showName(n);
      if (name.toLowerCase() === 'all') return { tag: 'SHOW', rows: session.settings.showAll() };
      return { tag: 'SHOW', rows: [[session.settings.show(name)]] };
    }
    case 'DiscardStmt': {
      const target = n.target as string;
      if (target === 'DISCARD_ALL') {
        preventInTransactionBlock(session, 'DISCARD ALL');
        session.portals.clear();
        session.statements.clear();
        session.settings.resetAll();
        return done('DISCARD ALL');
      }
      return done(target === 'DISCARD_PLANS' ? 'DISCARD PLANS' : target === 'DISCARD_SEQUENCES' ? 'DISCARD SEQUENCES' : 'DISCARD TEMP');
    }
    case 'ClosePortalStmt': {
      const name = n.portalname as string | undefined;
      if (name === undefined) {
        session.portals.clear();
        return done('CLOSE CURSOR ALL');
      }
      if (!session.portals.delete(name)) {
        throw new PgError({ severity: 'ERROR', sqlstate: '34000', message: `cursor "${name}" does not exist`, file: 'portalcmds.c', line: 240, routine: 'PerformPortalClose' });
      }
      return done('CLOSE CURSOR');
    }
    // No notification is ever delivered: there is no other session to send one, and NOTIFY is not simulated further.
    case 'ListenStmt': return done('LISTEN');
    case 'UnlistenStmt': return done('UNLISTEN');
    case 'NotifyStmt': return done('NOTIFY');
    case 'PrepareStmt': return done(prepare(session, n, sql));
    case 'ExecuteStmt': return execute(session, n);
    case 'DeallocateStmt': {
      const name = n.name as string | undefined;
      if (name === undefined) {
        session.statements.clear();
        return done('DEALLOCATE ALL');
      }
      if (!session.statements.delete(name)) throw noSuchStatement(name);
      return done('DEALLOCATE');
    }
    default: {
      const handler = session.conn.ctx.sql.lookupUtility(raw.type);
      if (!handler) throw notSimulated(raw.type);
      const ctx = session.callContext();
      const r = await handler(raw.node, ctx, raw.text);
      const columns = r.columns?.map((c) => ({ name: c.name, type: registryType(c.type).oid, tableOid: 0, columnAttr: 0 }));
      return { tag: r.tag, rows: r.rows ? r.rows.map((row) => [...row]) : null, ...(columns ? { columns } : {}) };
    }
  }
}

export function noSuchStatement(name: string): PgError {
  return new PgError({
    severity: 'ERROR', sqlstate: '26000',
    message: name === '' ? 'unnamed prepared statement does not exist' : `prepared statement "${name}" does not exist`,
    file: name === '' ? 'postgres.c' : 'prepare.c', ...(name === '' ? { routine: 'exec_bind_message' } : { line: 451, routine: 'FetchPreparedStatement' }),
  });
}

function preventInTransactionBlock(session: Session, what: string): void {
  if (session.inBlock || session.inImplicitBlock) {
    throw new PgError({ severity: 'ERROR', sqlstate: '25001', message: `${what} cannot run inside a transaction block`, file: 'xact.c', line: 3489, routine: 'PreventInTransactionBlock' });
  }
}

function transaction(session: Session, n: Body): string {
  switch (n.kind as string) {
    case 'TRANS_STMT_BEGIN': session.begin(); return 'BEGIN';
    case 'TRANS_STMT_START': session.begin(); return 'START TRANSACTION';
    case 'TRANS_STMT_COMMIT': {
      const tag = session.commit();
      if (n.chain && tag === 'COMMIT') session.begin();
      return tag;
    }
    case 'TRANS_STMT_ROLLBACK':
      session.rollback();
      if (n.chain) session.begin();
      return 'ROLLBACK';
    case 'TRANS_STMT_SAVEPOINT': session.savepoint(n.savepoint_name as string); return 'SAVEPOINT';
    case 'TRANS_STMT_RELEASE': session.release(n.savepoint_name as string); return 'RELEASE';
    case 'TRANS_STMT_ROLLBACK_TO': session.rollbackToSavepoint(n.savepoint_name as string); return 'ROLLBACK';
    default: throw notSimulated('two-phase commit (PREPARE TRANSACTION)');
  }
}

/** The variable SHOW names: SHOW TIME ZONE and friends arrive with their GUC names already. */
function showName(n: Body): string {
  return n.name as string;
}

function variableSet(session: Session, n: Body): string {
  const kind = n.kind as string;
  const name = n.name as string | undefined;
  const isLocal = Boolean(n.is_local);
  if (kind === 'VAR_RESET_ALL') {
    session.settings.resetAll();
    return 'RESET';
  }
  if (kind === 'VAR_SET_MULTI') {
    // SET TRANSACTION / SET SESSION CHARACTERISTICS set the transaction_* or default_transaction_* parameters.
    if (name === 'TRANSACTION') checkTransactionBlock(session, 'SET TRANSACTION');
    const prefix = name === 'SESSION CHARACTERISTICS' ? 'default_' : '';
    for (const d of (n.args ?? []) as Node[]) {
      const def = entry(d)[1];
      const value = argText(def.arg as Node, def.defname as string);
      const boolean = def.defname !== 'transaction_isolation';
      session.settings.set(`${prefix}${def.defname as string}`, boolean ? (value === '1' || value === 'true' ? 'on' : 'off') : value, name === 'TRANSACTION' ? { local: true } : {});
    }
    return 'SET';
  }
  if (!name) throw notSimulated('this SET form');
  if (kind === 'VAR_SET_CURRENT') throw notSimulated('SET ... FROM CURRENT');
  if (name === 'role' || name === 'session_authorization') {
    const target = kind === 'VAR_SET_VALUE' ? argText((n.args as Node[])[0]!, name) : null;
    const own = target === null || target === 'none' || target === session.user.name;
    if (!own) throw notSimulated(name === 'role' ? 'SET ROLE to another role' : 'SET SESSION AUTHORIZATION to another role');
    return kind === 'VAR_RESET' ? 'RESET' : 'SET';
  }
  if (isLocal) checkTransactionBlock(session, 'SET LOCAL');
  if (kind === 'VAR_RESET' || kind === 'VAR_SET_DEFAULT') {
    session.settings.set(name, null, { local: isLocal });
    return kind === 'VAR_RESET' ? 'RESET' : 'SET';
  }
  session.settings.set(name, flattenArgs(session, name, (n.args ?? []) as Node[]), { local: isLocal });
  return 'SET';
}

/** CheckTransactionBlock(isTopLevel, throwError = false): outside a block only a WARNING. */
function checkTransactionBlock(session: Session, what: string): void {
  if (session.inBlock || session.inImplicitBlock) return;
  session.notice({ severity: 'WARNING', sqlstate: '25P01', message: `${what} can only be used in transaction blocks`, file: 'xact.c', line: 3590, routine: 'CheckTransactionBlock' });
}

/** flatten_set_variable_args(): one value, or a list joined by ", " for GUC_LIST_INPUT parameters. */
function flattenArgs(session: Session, name: string, args: Node[]): string {
  let canonical = name;
  try {
    canonical = session.settings.canonical(name);
  } catch {
    // Custom placeholders are created by the SET itself.
  }
  const list = session.settings.isList(canonical);
  if (args.length > 1 && !list) {
    throw new PgError({ severity: 'ERROR', sqlstate: '22023', message: `SET ${name} takes only one argument`, file: 'guc.c', routine: 'flatten_set_variable_args' });
  }
  return args.map((a) => {
    const v = argText(a, name);
    return LIST_QUOTE.has(canonical) && entry(a)[1].sval !== undefined ? quoteIdentifier(v) : v;
  }).join(', ');
}

function argText(a: Node, name: string): string {
  const [type, b] = entry(a);
  if (type !== 'A_Const') throw notSimulated(`SET ${name} with a ${type} value`);
  if (b.sval !== undefined) return ((b.sval as Body).sval as string | undefined) ?? '';
  if (b.ival !== undefined) return String(((b.ival as Body).ival as number | undefined) ?? 0);
  if (b.fval !== undefined) return (b.fval as Body).fval as string;
  if (b.boolval !== undefined) return (b.boolval as Body).boolval ? 'true' : 'false';
  throw notSimulated(`SET ${name} with this value`);
}

/** quote_identifier(), without the reserved-keyword check. */
function quoteIdentifier(s: string): string {
  return /^[a-z_][a-z0-9_$]*$/.test(s) ? s : `"${s.replace(/"/g, '""')}"`;
}

function prepare(session: Session, n: Body, sql: string): string {
  const name = n.name as string;
  if (session.statements.has(name)) {
    throw new PgError({ severity: 'ERROR', sqlstate: '42P05', message: `prepared statement "${name}" already exists`, file: 'prepare.c', line: 412, routine: 'StorePreparedStatement' });
  }
  const analyzer = new Analyzer({ registry: session.conn.ctx.sql, source: new SourceText(sql), paramTypes: [], paramsAllowed: false, viewOid: () => 0 });
  const types = ((n.argtypes ?? []) as Node[]).map((t) => analyzer.typeName(entry(t)[1]));
  const query = n.query as Node;
  const [type, node] = entry(query);
  const raw: RawStatement = { type, node, text: sql };
  if (type !== 'SelectStmt') throw notSimulated(`PREPARE of ${commandName(type)}`);
  session.statements.set(name, session.analyse(name, sql, raw, types, { params: true, fromSql: true }));
  return 'PREPARE';
}

async function execute(session: Session, n: Body): Promise<UtilityOutcome> {
  const name = n.name as string;
  const stmt = session.statements.get(name);
  if (!stmt) throw noSuchStatement(name);
  const args = (n.params ?? []) as Node[];
  if (args.length !== stmt.paramTypes.length) {
    throw new PgError({ severity: 'ERROR', sqlstate: '42601', message: `wrong number of parameters for prepared statement "${name}"`, detail: `Expected ${stmt.paramTypes.length} parameters but got ${args.length}.`, file: 'prepare.c', routine: 'EvaluateParams' });
  }
  // The arguments are expressions of the EXECUTE statement itself, cast to the parameter types.
  const targetList = args.map((a, i) => ({
    ResTarget: { val: { TypeCast: { arg: a, typeName: { names: [{ String: { sval: typeNameOf(stmt.paramTypes[i]!) } }], typemod: -1, location: -1 }, location: -1 } }, location: -1 },
  }));
  const argsPlan = session.analyse('', session.currentSql, { type: 'SelectStmt', node: { targetList, limitOption: 'LIMIT_OPTION_DEFAULT', op: 'SETOP_NONE' }, text: '' }, [], { params: false });
  const [values = []] = await runSelect(await foldConstants(argsPlan.plan!, [], session.env()), [], session.env());
  const portal = await session.startPortal('', stmt, values, []);
  const r = await session.execute(portal, 0);
  return { tag: r.tag ?? '', rows: r.rows, ...(portal.columns ? { columns: portal.columns } : {}) };
}

function typeNameOf(oid: number): string {
  return typeByOid(oid)?.typname ?? 'text';
}

/** Command names for the statements that are not simulated, as their tags would read. */
const COMMANDS: Record<string, string> = {
  InsertStmt: 'INSERT', UpdateStmt: 'UPDATE', DeleteStmt: 'DELETE', MergeStmt: 'MERGE', CreateStmt: 'CREATE TABLE',
  CreateTableAsStmt: 'CREATE TABLE AS', ViewStmt: 'CREATE VIEW', IndexStmt: 'CREATE INDEX', DropStmt: 'DROP', AlterTableStmt: 'ALTER TABLE',
  CreateRoleStmt: 'CREATE ROLE', AlterRoleStmt: 'ALTER ROLE', DropRoleStmt: 'DROP ROLE', AlterSystemStmt: 'ALTER SYSTEM',
  GrantStmt: 'GRANT', GrantRoleStmt: 'GRANT ROLE', CreateFunctionStmt: 'CREATE FUNCTION', CreateSchemaStmt: 'CREATE SCHEMA',
  CreatedbStmt: 'CREATE DATABASE', DropdbStmt: 'DROP DATABASE', CopyStmt: 'COPY', ExplainStmt: 'EXPLAIN', VacuumStmt: 'VACUUM',
  DeclareCursorStmt: 'DECLARE CURSOR', FetchStmt: 'FETCH', DoStmt: 'DO', CallStmt: 'CALL', LockStmt: 'LOCK TABLE',
  CreateExtensionStmt: 'CREATE EXTENSION', CommentStmt: 'COMMENT', TruncateStmt: 'TRUNCATE', CheckPointStmt: 'CHECKPOINT',
  LoadStmt: 'LOAD', ReindexStmt: 'REINDEX', ClusterStmt: 'CLUSTER', CreateSeqStmt: 'CREATE SEQUENCE', AlterDatabaseSetStmt: 'ALTER DATABASE',
  AlterRoleSetStmt: 'ALTER ROLE', ReassignOwnedStmt: 'REASSIGN OWNED', DropOwnedStmt: 'DROP OWNED', CreateTrigStmt: 'CREATE TRIGGER',
};

export function commandName(type: string): string {
  return COMMANDS[type] ?? type.replace(/Stmt$/, '').replace(/([a-z])([A-Z])/g, '$1 $2').toUpperCase();
}

/** 0A000 for a statement (by parse-tree node name, e.g. `RenameStmt`) or feature the session does not simulate. */
export function notSimulated(what: string): PgError {
  const command = /^[A-Z][a-zA-Z]+Stmt$/.test(what) ? commandName(what) : what;
  return new PgError({
    severity: 'ERROR', sqlstate: '0A000', message: `pg-authsim does not simulate ${command}`,
    hint: 'The session answers SELECTs over the registered views and functions, SET/SHOW/RESET, transaction control and the utility statements extensions register; see README "The session".',
  });
}

/** The utility statements, as the Session runs them. */
export const UTILITY_STATEMENTS: UtilityStatements = { isTransactionExit, describe: describeUtility, run: runUtility };
