/**
 * One backend's session state after InitPostgres: its settings, the transaction it is in,
 * prepared statements and portals, and how a statement goes from text to rows
 * (parse → analyse → bind → run), shared by the simple and the extended query protocols.
 */
import { PgError, type PgErrorFields } from '../errors.js';
import type { SqlStatementDef, SqlValue } from '../sql/registry.js';
import { fingerprint, parseSql, SourceText, type RawStatement } from '../sql/parser.js';
import { Analyzer } from '../sql/analyze.js';
import type { ExecEnv, ResultColumn, SelectPlan } from '../sql/plan.js';
import { runSelect, checkPermissions, foldConstants } from '../sql/execute.js';
import type { SessionCallContext } from '../sql/builtins.js';
import { OID, binaryIn, textIn, BinaryFormatError, typeByOid } from '../sql/types.js';
import { toNoticeResponse } from '../wire/codec.js';
import { invalidUtf8 } from '../bytes.js';
import type { ClientConnection } from '../connection.js';
import { SessionSettings } from './settings.js';

/** A parsed and analysed statement: an extended-protocol prepared statement, or one of a simple Query. */
export interface Prepared {
  name: string;
  /** The query string it came from (for the log's STATEMENT: line). */
  sql: string;
  /** null for an empty query string. */
  raw: RawStatement | null;
  /** Parameter types after inference ($1 is index 0). */
  paramTypes: number[];
  /** SELECTs are analysed at Parse; utility statements run as they are. */
  plan: SelectPlan | null;
  /** PREPARE'd from SQL (pg_prepared_statements.from_sql). */
  fromSql: boolean;
}

export interface Portal {
  name: string;
  stmt: Prepared;
  params: SqlValue[];
  /** The statement's plan with this portal's parameter values folded in (a custom plan). */
  plan: SelectPlan | null;
  /** Result column descriptions, or null when the statement returns no rows. */
  columns: ResultColumn[] | null;
  /** Format code per result column (0 text, 1 binary). */
  formats: number[];
  /** Materialised on the first Execute. */
  rows: SqlValue[][] | null;
  cursor: number;
  tag: string | null;
  done: boolean;
}

/** What one Execute produced. */
export interface Fetched {
  rows: SqlValue[][];
  /** CommandComplete's tag, or null when the portal is suspended (rows remain). */
  tag: string | null;
  empty: boolean;
}

/** What the utility statements (utility.ts) provide; handed in so that this module does not depend on them. */
export interface UtilityStatements {
  /** IsTransactionExitStmt: what may run in a failed transaction block. */
  isTransactionExit(raw: RawStatement): boolean;
  /** The rows a utility statement will return (SHOW), known before it runs. */
  describe(session: Session, raw: RawStatement): ResultColumn[] | null;
  run(session: Session, raw: RawStatement, sql: string): Promise<{ tag: string; rows: SqlValue[][] | null; columns?: ResultColumn[] }>;
}

type Snapshot = ReturnType<SessionSettings['snapshot']>;

/** Fingerprints of the registered whole statements, per registry list (computed once). */
const KNOWN_PRINTS = new WeakMap<readonly SqlStatementDef[], { count: number; prints: Map<string, SqlStatementDef> }>();
type Transaction =
  | { kind: 'idle' }
  /** A transaction that lasts one statement, one simple Query, or until Sync. */
  | { kind: 'implicit'; snapshot: Snapshot }
  | { kind: 'block'; snapshot: Snapshot; failed: boolean; savepoints: Array<{ name: string; snapshot: Snapshot }> };

export class Session {
  readonly settings: SessionSettings;
  readonly statements = new Map<string, Prepared>();
  readonly portals = new Map<string, Portal>();
  private tx: Transaction = { kind: 'idle' };
  /** A simple Query of several statements runs them in one implicit block (TBLOCK_IMPLICIT_INPROGRESS). */
  inImplicitBlock = false;
  /** The query string being executed: parse-tree locations point into it. */
  currentSql = '';
  private txStart: Date;
  private stmtStart: Date;

  constructor(readonly conn: ClientConnection, readonly user: { name: string; oid: number; superuser: boolean }, private readonly utility: UtilityStatements) {
    const s = conn.settings;
    this.settings = new SessionSettings(conn.ctx.gucs, {
      user: user.name, superuser: user.superuser, serverVersion: s.serverVersion, serverMajor: s.serverMajor, scramIterations: s.scramIterations,
    }, s, (m) => this.notice({ ...m, severity: m.severity === 'WARNING' ? 'WARNING' : 'NOTICE' }));
    this.txStart = this.stmtStart = new Date(conn.ctx.clock.now());
  }

  /** The application_name GUC (log_line_prefix %a reads it). */
  get application_name(): string { return this.settings.application_name; }

  /** A parameter as this session sees it (SessionGucs). */
  setting(name: string): string | undefined {
    return this.settings.tryShow(name) ?? undefined;
  }

  /** A parameter's typed value in this session (SessionGucs). */
  value(name: string): boolean | number | string | undefined {
    return this.settings.value(name);
  }

  // ---- transactions --------------------------------------------------------------------------

  /** ReadyForQuery's status byte. */
  status(): 'I' | 'T' | 'E' {
    return this.tx.kind === 'block' ? (this.tx.failed ? 'E' : 'T') : 'I';
  }

  get inFailedBlock(): boolean {
    return this.tx.kind === 'block' && this.tx.failed;
  }

  get inBlock(): boolean {
    return this.tx.kind === 'block';
  }

  /** start_xact_command(): statements outside a block run in an implicit transaction. */
  startStatement(): void {
    const now = new Date(this.conn.ctx.clock.now());
    this.stmtStart = now;
    if (this.tx.kind === 'idle') {
      this.tx = { kind: 'implicit', snapshot: this.settings.snapshot() };
      this.txStart = now;
    }
  }

  /** End of a simple Query or a Sync: an implicit transaction commits. */
  finishImplicit(): void {
    if (this.tx.kind === 'implicit') this.endTransaction();
  }

  /** BEGIN: an implicit transaction becomes a block; a second BEGIN only warns. */
  begin(): void {
    if (this.tx.kind === 'block') {
      this.notice({ severity: 'WARNING', sqlstate: '25001', message: 'there is already a transaction in progress', file: 'xact.c', line: 3792, routine: 'BeginTransactionBlock' });
      return;
    }
    const snapshot = this.tx.kind === 'implicit' ? this.tx.snapshot : this.settings.snapshot();
    this.tx = { kind: 'block', snapshot, failed: false, savepoints: [] };
  }

  /** COMMIT/END: returns the tag, which is ROLLBACK for a failed block. */
  commit(): 'COMMIT' | 'ROLLBACK' {
    if (this.tx.kind !== 'block') {
      this.notice({ severity: 'WARNING', sqlstate: '25P01', message: 'there is no transaction in progress', file: 'xact.c', line: 3990, routine: 'EndTransactionBlock' });
      return 'COMMIT';
    }
    if (this.tx.failed) {
      this.rollbackTo(this.tx.snapshot);
      return 'ROLLBACK';
    }
    this.endTransaction();
    return 'COMMIT';
  }

  rollback(): void {
    if (this.tx.kind !== 'block') {
      this.notice({ severity: 'WARNING', sqlstate: '25P01', message: 'there is no transaction in progress', file: 'xact.c', line: 4113, routine: 'UserAbortTransactionBlock' });
      return;
    }
    this.rollbackTo(this.tx.snapshot);
  }

  /** An ERROR: a block fails (until ROLLBACK); an implicit transaction rolls back at once. */
  abortOnError(): void {
    if (this.tx.kind === 'block') {
      this.tx.failed = true;
      return;
    }
    if (this.tx.kind === 'implicit') this.rollbackTo(this.tx.snapshot);
  }

  savepoint(name: string): void {
    const block = this.requireBlock('SAVEPOINT');
    block.savepoints.push({ name, snapshot: this.settings.snapshot() });
  }

  release(name: string): void {
    const block = this.requireBlock('RELEASE SAVEPOINT');
    const i = block.savepoints.map((s) => s.name).lastIndexOf(name);
    if (i < 0) throw new PgError({ severity: 'ERROR', sqlstate: '3B001', message: `savepoint "${name}" does not exist`, file: 'xact.c', line: 4320, routine: 'ReleaseSavepoint' });
    block.savepoints.splice(i);
  }

  rollbackToSavepoint(name: string): void {
    const block = this.requireBlock('ROLLBACK TO SAVEPOINT');
    const i = block.savepoints.map((s) => s.name).lastIndexOf(name);
    if (i < 0) throw new PgError({ severity: 'ERROR', sqlstate: '3B001', message: `savepoint "${name}" does not exist`, file: 'xact.c', routine: 'RollbackToSavepoint' });
    this.settings.restore(block.savepoints[i]!.snapshot);
    block.savepoints.splice(i + 1);
    block.failed = false;
  }

  private requireBlock(what: string): Extract<Transaction, { kind: 'block' }> {
    if (this.tx.kind !== 'block') {
      throw new PgError({ severity: 'ERROR', sqlstate: '25P01', message: `${what} can only be used in transaction blocks`, file: 'xact.c', line: 3590, routine: 'CheckTransactionBlock' });
    }
    return this.tx;
  }

  private rollbackTo(snapshot: Snapshot): void {
    this.settings.restore(snapshot);
    this.endTransaction();
  }

  private endTransaction(): void {
    this.settings.endTransaction();
    // Portals live as long as their transaction.
    this.portals.clear();
    this.tx = { kind: 'idle' };
  }

  /** 25P02 for anything but a transaction exit while the block has failed. */
  checkNotAborted(raw: RawStatement | null, where: { line: number; routine: string }): void {
    if (this.inFailedBlock && !(raw && this.utility.isTransactionExit(raw))) {
      throw new PgError({
        severity: 'ERROR', sqlstate: '25P02', message: 'current transaction is aborted, commands ignored until end of transaction block',
        file: 'postgres.c', ...where,
      });
    }
  }

  // ---- statements ------------------------------------------------------------------------------

  /** Parse and analyse one statement (exec_parse_message / PREPARE / each statement of a Query). */
  analyse(name: string, sql: string, raw: RawStatement | null, paramTypes: number[], opts: { params: boolean; fromSql?: boolean }): Prepared {
    const types = [...paramTypes];
    let plan: SelectPlan | null = null;
    if (raw && raw.type === 'SelectStmt') {
      const analyzer = new Analyzer({
        registry: this.conn.ctx.sql, source: new SourceText(sql), paramTypes: types, paramsAllowed: opts.params,
        viewOid: (n) => this.conn.ctx.sql.viewOid(n),
      });
      const known = this.knownStatement(raw);
      plan = known ? analyzer.knownStatement(known) : analyzer.select(raw.node);
      const missing = types.findIndex((t) => t === 0);
      if (missing >= 0) {
        throw new PgError({ severity: 'ERROR', sqlstate: '42P18', message: `could not determine data type of parameter $${missing + 1}`, file: 'postgres.c', line: 711, routine: 'pg_analyze_and_rewrite_varparams' });
      }
    }
    return { name, sql, raw, paramTypes: types, plan, fromSql: opts.fromSql ?? false };
  }

  /** A registered whole statement with this parse tree, if any. */
  private knownStatement(raw: RawStatement): SqlStatementDef | undefined {
    const defs = this.conn.ctx.sql.listStatements();
    if (defs.length === 0) return undefined;
    let known = KNOWN_PRINTS.get(defs);
    if (!known || known.count !== defs.length) {
      known = { count: defs.length, prints: new Map(defs.map((d) => [fingerprint(parseSql(d.sql)[0]?.node ?? null), d])) };
      KNOWN_PRINTS.set(defs, known);
    }
    return known.prints.get(fingerprint(raw.node));
  }

  /** Parse a query string meant to hold one statement (Parse message). */
  parseOne(sql: string): RawStatement | null {
    const stmts = parseSql(sql);
    if (stmts.length > 1) {
      throw new PgError({ severity: 'ERROR', sqlstate: '42601', message: 'cannot insert multiple commands into a prepared statement', file: 'postgres.c', line: 1419, routine: 'exec_parse_message' });
    }
    return stmts[0] ?? null;
  }

  /** The result columns a statement will return, or null (NoData). */
  describe(stmt: Prepared): ResultColumn[] | null {
    if (stmt.plan) return stmt.plan.columns;
    if (stmt.raw) return this.utility.describe(this, stmt.raw);
    return null;
  }

  /**
   * exec_bind_message's work: parameters converted from their wire formats, result formats
   * checked against the columns, and the portal started (privileges checked, as ExecutorStart does).
   */
  async bind(portalName: string, stmt: Prepared, paramFormats: number[], values: Array<Buffer | null>, resultFormats: number[]): Promise<Portal> {
    const nparams = stmt.paramTypes.length;
    if (values.length !== nparams) {
      throw protocolViolation(`bind message supplies ${values.length} parameters, but prepared statement "${stmt.name}" requires ${nparams}`, { line: 1674, routine: 'exec_bind_message' });
    }
    if (paramFormats.length > 1 && paramFormats.length !== values.length) {
      throw protocolViolation(`bind message has ${paramFormats.length} parameter formats but ${values.length} parameters`, { line: 1652, routine: 'exec_bind_message' });
    }
    const params = values.map((v, i) => this.convertParam(portalName, i, stmt.paramTypes[i]!, paramFormats.length === 1 ? paramFormats[0]! : paramFormats[i] ?? 0, v));
    return this.startPortal(portalName, stmt, params, resultFormats);
  }

  /** PortalStart with parameter values already in hand (EXECUTE, a simple Query): plan, describe, check privileges. */
  async startPortal(portalName: string, stmt: Prepared, params: SqlValue[], resultFormats: number[]): Promise<Portal> {
    const env = this.env();
    const plan = stmt.plan ? await foldConstants(stmt.plan, params, env) : null;
    const columns = this.describe(stmt);
    const formats = resultFormatsFor(columns, resultFormats);
    if (plan) checkPermissions(plan, env);
    return { name: portalName, stmt, params, plan, columns, formats, rows: null, cursor: 0, tag: null, done: false };
  }

  private convertParam(portal: string, i: number, type: number, format: number, v: Buffer | null): SqlValue {
    if (v === null) return null;
    const oid = type === 0 ? OID.text : type;
    const where = `${portal === '' ? 'unnamed portal' : `portal "${portal}"`} parameter $${i + 1}`;
    try {
      if (!typeByOid(oid)) throw new PgError({ severity: 'ERROR', sqlstate: '0A000', message: `pg-authsim does not simulate parameters of type ${oid}` });
      if (format === 1) return binaryIn(oid, v);
      if (format !== 0) throw protocolViolation(`unsupported format code: ${format}`, { line: 1840, routine: 'exec_bind_message' });
      // Text parameters are converted from client_encoding like any client string.
      const bad = invalidUtf8(v);
      if (bad) throw new PgError({ severity: 'ERROR', sqlstate: '22021', message: `invalid byte sequence for encoding "UTF8": ${bad.shown}`, context: where, file: 'mbutils.c', line: 1798, routine: 'report_invalid_encoding_int' });
      return textIn(oid, v.toString('utf8'));
    } catch (err) {
      if (err instanceof BinaryFormatError) {
        throw new PgError({ severity: 'ERROR', sqlstate: '08P01', message: 'insufficient data left in message', context: where, file: 'pqformat.c', line: 533, routine: 'pq_copymsgbytes' });
      }
      if (err instanceof PgError && err.context === undefined) {
        // log_parameter_max_length_on_error = 0 (the default) shows the value as '...'.
        err.context = format === 0 ? `${where} = '...'` : where;
      }
      throw err;
    }
  }

  /** exec_execute_message / PortalRun: up to maxRows rows (0 = all). */
  async execute(portal: Portal, maxRows: number): Promise<Fetched> {
    if (!portal.stmt.raw) return { rows: [], tag: null, empty: true };
    if (!portal.done && portal.rows === null) {
      if (portal.plan) {
        portal.rows = await runSelect(portal.plan, portal.params, this.env());
        portal.tag = 'SELECT';
      } else {
        const r = await this.utility.run(this, portal.stmt.raw, portal.stmt.sql);
        portal.rows = r.rows;
        portal.tag = r.tag;
        if (r.columns && !portal.columns) portal.columns = r.columns;
      }
    }
    const all = portal.rows ?? [];
    const end = maxRows > 0 ? Math.min(all.length, portal.cursor + maxRows) : all.length;
    const rows = all.slice(portal.cursor, end);
    portal.cursor = end;
    // A row limit that is reached suspends the portal, even when no row is left (the executor cannot tell).
    if (maxRows > 0 && rows.length === maxRows && portal.tag === 'SELECT') return { rows, tag: null, empty: false };
    portal.done = true;
    const tag = portal.tag === 'SELECT' ? `SELECT ${rows.length}` : portal.tag ?? '';
    return { rows, tag, empty: false };
  }

  // ---- what statements run with ------------------------------------------------------------------

  env(): ExecEnv {
    return { call: this.callContext(), io: this.settings.io(), now: this.txStart };
  }

  callContext(): SessionCallContext {
    const session = this;
    return {
      user: this.user.name,
      userOid: this.user.oid,
      superuser: this.user.superuser,
      database: this.conn.port.database_name,
      pid: this.conn.pid,
      sessionUser: this.user.name,
      port: this.conn.port,
      transactionStart: this.txStart,
      statementStart: this.stmtStart,
      now: () => new Date(session.conn.ctx.clock.now()),
      setting: (name) => session.settings.tryShow(name) ?? undefined,
      showSetting: (name, missingOk) => (missingOk ? session.settings.tryShow(name) : session.settings.show(name)),
      setSetting: (name, value, isLocal) => {
        session.settings.set(name, value, { local: isLocal && session.inBlock });
        return session.settings.show(name);
      },
      notice: (fields) => session.notice(fields),
      settingRows: () => session.settings.rows(),
    };
  }

  /** ereport(NOTICE/WARNING/...): to the client and/or the log by client_min_messages / log_min_messages. */
  notice(fields: Omit<PgErrorFields, 'severity'> & { severity: 'NOTICE' | 'WARNING' | 'INFO' | 'LOG' | 'DEBUG1' }): void {
    const toClient = clientGets(fields.severity, this.settings.tryShow('client_min_messages') ?? 'notice');
    const toLog = logGets(fields.severity, this.settings.tryShow('log_min_messages') ?? 'warning');
    const error: PgErrorFields = { ...fields, severity: fields.severity as PgErrorFields['severity'] };
    this.conn.emit({ type: 'error', error, toClient, toLog });
    // In order with the statement's other messages, and flushed at once, as elog.c's send_message_to_frontend does.
    if (toClient) {
      this.conn.send(toNoticeResponse(error));
      this.conn.flush();
    }
  }
}

function protocolViolation(message: string, at: { line: number; routine: string }): PgError {
  return new PgError({ severity: 'ERROR', sqlstate: '08P01', message, file: 'postgres.c', ...at });
}

/** PortalSetResultFormat: no codes (all text), one code for all, or one per column. */
function resultFormatsFor(columns: ResultColumn[] | null, codes: number[]): number[] {
  const n = columns?.length ?? 0;
  if (codes.length > 1 && codes.length !== n) {
    throw new PgError({ severity: 'ERROR', sqlstate: '08P01', message: `bind message has ${codes.length} result formats but query has ${n} columns`, file: 'pquery.c', line: 643, routine: 'PortalSetResultFormat' });
  }
  for (const c of codes) {
    if (c !== 0 && c !== 1) throw new PgError({ severity: 'ERROR', sqlstate: '22023', message: `unsupported format code: ${c}` });
  }
  return Array.from({ length: n }, (_, i) => (codes.length === 0 ? 0 : codes.length === 1 ? codes[0]! : codes[i]!));
}

/** client_min_messages order: DEBUG < LOG < NOTICE < WARNING < ERROR; INFO always reaches the client. */
const CLIENT_RANK: Record<string, number> = { debug5: 0, debug4: 0, debug3: 0, debug2: 0, debug1: 1, log: 2, notice: 3, warning: 4, error: 5 };
/** log_min_messages order: DEBUG < INFO < NOTICE < WARNING < ERROR < LOG < FATAL. */
const LOG_RANK: Record<string, number> = { debug5: 0, debug4: 0, debug3: 0, debug2: 0, debug1: 1, info: 2, notice: 3, warning: 4, error: 5, log: 6, fatal: 7, panic: 8 };

function clientGets(severity: string, min: string): boolean {
  const s = severity.toLowerCase();
  if (s === 'info') return true;
  return (CLIENT_RANK[s] ?? 3) >= (CLIENT_RANK[min.toLowerCase()] ?? 3);
}

function logGets(severity: string, min: string): boolean {
  return (LOG_RANK[severity.toLowerCase()] ?? 3) >= (LOG_RANK[min.toLowerCase()] ?? 4);
}
