/**
 * PostgresMain's command loop: read a message (SocketBackend), run it — a simple Query, or the
 * extended protocol's Parse/Bind/Describe/Execute/Close/Flush/Sync — and recover from an
 * ERROR as PostgreSQL does: report it, abort the transaction (a block fails, an implicit one
 * rolls back), and in the extended protocol skip everything up to the next Sync.
 */
import { PgError, type PgErrorFields } from '../errors.js';
import { ProcExit } from '../server/exits.js';
import { MessageBuffer, toErrorResponse, PQ_LARGE_MESSAGE_LIMIT, PQ_SMALL_MESSAGE_LIMIT } from '../wire/codec.js';
import { invalidUtf8, stringToBytes } from '../bytes.js';
import { loadParser, parseSql } from '../sql/parser.js';
import type { ClientConnection } from '../connection.js';
import type { Portal, Session } from './session.js';
import { noSuchStatement } from './utility.js';
import { dataRow, rowDescription } from './results.js';

/** Message types SocketBackend accepts, with pq_getmessage's limit for each. */
const LIMITS: Record<string, number> = {
  Q: PQ_LARGE_MESSAGE_LIMIT, F: PQ_LARGE_MESSAGE_LIMIT, P: PQ_LARGE_MESSAGE_LIMIT, B: PQ_LARGE_MESSAGE_LIMIT, d: PQ_LARGE_MESSAGE_LIMIT,
  X: PQ_SMALL_MESSAGE_LIMIT, C: PQ_SMALL_MESSAGE_LIMIT, D: PQ_SMALL_MESSAGE_LIMIT, E: PQ_SMALL_MESSAGE_LIMIT, H: PQ_SMALL_MESSAGE_LIMIT,
  S: PQ_SMALL_MESSAGE_LIMIT, c: PQ_SMALL_MESSAGE_LIMIT, f: PQ_SMALL_MESSAGE_LIMIT,
};
const EXTENDED = new Set(['P', 'B', 'C', 'D', 'E', 'H', 'S']);

export async function postgresMain(conn: ClientConnection, session: Session): Promise<void> {
  await loadParser();
  const loop = new CommandLoop(conn, session);
  await loop.run();
}

class CommandLoop {
  private sendReadyForQuery = false;
  private ignoreTillSync = false;
  private doingExtended = false;
  /** debug_query_string: what the log's STATEMENT: line shows for an error. */
  private statementText: string | null = null;

  constructor(private readonly conn: ClientConnection, private readonly session: Session) {}

  async run(): Promise<never> {
    for (;;) {
      if (this.sendReadyForQuery) {
        this.readyForQuery();
        this.sendReadyForQuery = false;
      }
      const type = await this.readCommand();
      if (this.ignoreTillSync) continue;
      this.session.settings.catchUpWithReload();
      try {
        await this.dispatch(type.char, new MessageBuffer(type.body, 'ERROR'));
      } catch (err) {
        this.recover(err);
      }
    }
  }

  /** SocketBackend(): the type byte, validated before the length is read, then the body. */
  private async readCommand(): Promise<{ char: string; body: Buffer }> {
    const byte = await this.conn.readMessageType();
    if (byte === null) throw new ProcExit('eof');
    const char = String.fromCharCode(byte);
    const limit = LIMITS[char];
    if (limit === undefined) {
      throw new PgError({ severity: 'FATAL', sqlstate: '08P01', message: `invalid frontend message type ${byte}`, file: 'postgres.c', line: 446, routine: 'SocketBackend' });
    }
    this.doingExtended = EXTENDED.has(char);
    if (char === 'S' || char === 'X') this.ignoreTillSync = false;
    const read = await this.conn.readMessageBody(limit);
    if (read.kind !== 'body') {
      this.conn.logCommError(read.kind === 'eof-in-length' ? 'unexpected EOF within message length word' : read.kind === 'invalid-length' ? 'invalid message length' : 'incomplete message from client');
      throw new ProcExit('comm-error');
    }
    return { char, body: read.body };
  }

  private async dispatch(type: string, msg: MessageBuffer): Promise<void> {
    switch (type) {
      case 'Q': {
        const sql = clientString(msg);
        msg.getEnd();
        await this.simpleQuery(sql);
        this.sendReadyForQuery = true;
        return;
      }
      case 'P': return this.parse(msg);
      case 'B': return this.bind(msg);
      case 'E': return this.execute(msg);
      case 'D': return this.describe(msg);
      case 'C': return this.close(msg);
      case 'H':
        msg.getEnd();
        this.conn.flush();
        return;
      case 'S':
        msg.getEnd();
        this.session.finishImplicit();
        this.sendReadyForQuery = true;
        return;
      case 'F':
        this.sendReadyForQuery = true;
        throw new PgError({ severity: 'ERROR', sqlstate: '0A000', message: 'pg-authsim does not simulate the fastpath function call interface' });
      case 'X':
        throw new ProcExit('terminate');
      default:
        // CopyData/CopyDone/CopyFail outside COPY: accepted and ignored, per the protocol.
        return;
    }
  }

  /** ReadyForQuery, preceded by ParameterStatus for every reported setting that changed. */
  private readyForQuery(): void {
    for (const [name, value] of this.session.settings.changedReports()) this.conn.send({ type: 'ParameterStatus', name, value });
    const status = this.session.status();
    // The handle's copy of the status, for anything that looks at the connection from outside.
    this.conn.transactionStatus = status;
    this.conn.send({ type: 'ReadyForQuery', status });
    this.conn.flush();
  }

  /**
   * The error handler of PostgresMain's sigsetjmp block. An exception that is not a PgError
   * (extension code that throws an Error) is what elog(ERROR) without errcode is in C: XX000.
   */
  private recover(err: unknown): void {
    if (err instanceof ProcExit || (err instanceof PgError && err.severity !== 'ERROR')) throw err;
    const fields: PgErrorFields = err instanceof PgError
      ? err.fields
      : { severity: 'ERROR', sqlstate: 'XX000', message: err instanceof Error ? err.message : String(err) };
    this.conn.emit({ type: 'error', error: fields, toClient: true, toLog: true, ...(this.statementText !== null ? { statement: this.statementText } : {}) });
    // send_message_to_frontend flushes at once, so a client waiting on a Flush (not a Sync) hears it.
    this.conn.send(toErrorResponse(fields));
    this.conn.flush();
    this.session.abortOnError();
    this.session.inImplicitBlock = false;
    if (this.doingExtended) this.ignoreTillSync = true;
    if (!this.ignoreTillSync) this.sendReadyForQuery = true;
  }

  // ---- the simple query protocol --------------------------------------------------------------

  /** exec_simple_query(). */
  private async simpleQuery(sql: string): Promise<void> {
    const s = this.session;
    this.statementText = sql;
    s.currentSql = sql;
    this.conn.emit({ type: 'query', sql, protocol: 'simple' });
    // A Query replaces the unnamed statement of the extended protocol.
    s.statements.delete('');
    s.startStatement();
    const statements = parseSql(sql);
    if (statements.length === 0) {
      this.conn.send({ type: 'EmptyQueryResponse' });
      s.finishImplicit();
      return;
    }
    s.inImplicitBlock = statements.length > 1;
    for (const raw of statements) {
      s.startStatement();
      s.checkNotAborted(raw, { line: 1081, routine: 'exec_simple_query' });
      const prepared = s.analyse('', sql, raw, [], { params: false });
      const portal = await s.startPortal('', prepared, [], []);
      // A SELECT describes its rows when the executor starts; a utility statement only once it has run.
      if (prepared.plan && portal.columns) this.conn.send(rowDescription(portal.columns, portal.formats));
      const fetched = await s.execute(portal, 0);
      if (!prepared.plan && portal.columns) this.conn.send(rowDescription(portal.columns, portal.columns.map(() => 0)));
      const env = s.env();
      for (const row of fetched.rows) this.conn.send(dataRow(portal.columns ?? [], portal.columns?.map(() => 0) ?? [], row, env));
      this.conn.send({ type: 'CommandComplete', tag: fetched.tag ?? '' });
    }
    s.inImplicitBlock = false;
    s.finishImplicit();
  }

  // ---- the extended query protocol ------------------------------------------------------------

  /** exec_parse_message(). */
  private async parse(msg: MessageBuffer): Promise<void> {
    const name = clientString(msg);
    const sql = clientString(msg);
    const n = msg.getInt16();
    const types: number[] = [];
    for (let i = 0; i < n; i++) types.push(msg.getInt32() >>> 0);
    msg.getEnd();
    const s = this.session;
    this.statementText = sql;
    s.currentSql = sql;
    this.conn.emit({ type: 'query', sql, protocol: 'extended', statement: name });
    s.startStatement();
    if (name === '') s.statements.delete('');
    const raw = s.parseOne(sql);
    s.checkNotAborted(raw, { line: 1439, routine: 'exec_parse_message' });
    const prepared = s.analyse(name, sql, raw, types, { params: true });
    if (name !== '' && s.statements.has(name)) {
      throw new PgError({ severity: 'ERROR', sqlstate: '42P05', message: `prepared statement "${name}" already exists`, file: 'prepare.c', line: 412, routine: 'StorePreparedStatement' });
    }
    s.statements.set(name, prepared);
    this.conn.send({ type: 'ParseComplete' });
  }

  /** exec_bind_message(). */
  private async bind(msg: MessageBuffer): Promise<void> {
    const portalName = clientString(msg);
    const stmtName = clientString(msg);
    const nf = msg.getInt16();
    const paramFormats: number[] = [];
    for (let i = 0; i < nf; i++) paramFormats.push(msg.getInt16());
    const np = msg.getInt16();
    if (nf > 1 && nf !== np) {
      throw new PgError({ severity: 'ERROR', sqlstate: '08P01', message: `bind message has ${nf} parameter formats but ${np} parameters`, file: 'postgres.c', line: 1652, routine: 'exec_bind_message' });
    }
    const s = this.session;
    const stmt = s.statements.get(stmtName);
    if (!stmt) throw noSuchStatement(stmtName);
    this.statementText = stmt.sql;
    const values: Array<Buffer | null> = [];
    for (let i = 0; i < np; i++) {
      const len = msg.getInt32();
      values.push(len === -1 ? null : msg.getBytes(len));
    }
    const nr = msg.getInt16();
    const resultFormats: number[] = [];
    for (let i = 0; i < nr; i++) resultFormats.push(msg.getInt16());
    msg.getEnd();
    s.startStatement();
    if (values.length !== stmt.paramTypes.length) {
      throw new PgError({ severity: 'ERROR', sqlstate: '08P01', message: `bind message supplies ${values.length} parameters, but prepared statement "${stmtName}" requires ${stmt.paramTypes.length}`, file: 'postgres.c', line: 1674, routine: 'exec_bind_message' });
    }
    // A transaction exit without parameters is all a failed block may bind.
    s.checkNotAborted(values.length > 0 ? null : stmt.raw, { line: 1700, routine: 'exec_bind_message' });
    if (portalName !== '' && s.portals.has(portalName)) {
      throw new PgError({ severity: 'ERROR', sqlstate: '42P03', message: `cursor "${portalName}" already exists`, file: 'portalmem.c', routine: 'CreatePortal' });
    }
    s.portals.delete(portalName);
    const portal = await s.bind(portalName, stmt, paramFormats, values, resultFormats);
    s.portals.set(portalName, portal);
    this.conn.send({ type: 'BindComplete' });
  }

  /** exec_execute_message(). */
  private async execute(msg: MessageBuffer): Promise<void> {
    const name = clientString(msg);
    const maxRows = msg.getInt32();
    msg.getEnd();
    const s = this.session;
    const portal = s.portals.get(name);
    if (!portal) {
      throw new PgError({ severity: 'ERROR', sqlstate: '34000', message: `portal "${name}" does not exist`, file: 'postgres.c', line: 2071, routine: 'exec_execute_message' });
    }
    this.statementText = portal.stmt.sql;
    s.currentSql = portal.stmt.sql;
    if (!portal.stmt.raw) {
      this.conn.send({ type: 'EmptyQueryResponse' });
      return;
    }
    s.checkNotAborted(portal.stmt.raw, { line: 2104, routine: 'exec_execute_message' });
    s.startStatement();
    const fetched = await s.execute(portal, maxRows);
    this.sendRows(portal, fetched.rows);
    if (fetched.tag === null) this.conn.send({ type: 'PortalSuspended' });
    else this.conn.send({ type: 'CommandComplete', tag: fetched.tag });
  }

  private sendRows(portal: Portal, rows: ReadonlyArray<ReadonlyArray<unknown>>): void {
    const env = this.session.env();
    for (const row of rows) this.conn.send(dataRow(portal.columns ?? [], portal.formats, row as never, env));
  }

  /** exec_describe_statement_message / exec_describe_portal_message. */
  private describe(msg: MessageBuffer): void {
    const kind = msg.getByte();
    const name = clientString(msg);
    msg.getEnd();
    const s = this.session;
    s.startStatement();
    if (kind === 0x53 /* S */) {
      const stmt = s.statements.get(name);
      if (!stmt) throw noSuchStatement(name);
      this.statementText = stmt.sql;
      const columns = s.describe(stmt);
      if (columns) s.checkNotAborted(null, { line: 2570, routine: 'exec_describe_statement_message' });
      this.conn.send({ type: 'ParameterDescription', types: stmt.paramTypes });
      this.conn.send(columns ? rowDescription(columns, []) : { type: 'NoData' });
      return;
    }
    if (kind === 0x50 /* P */) {
      const portal = s.portals.get(name);
      if (!portal) {
        throw new PgError({ severity: 'ERROR', sqlstate: '34000', message: `portal "${name}" does not exist`, file: 'postgres.c', line: 2669, routine: 'exec_describe_portal_message' });
      }
      this.statementText = portal.stmt.sql;
      if (portal.columns) s.checkNotAborted(null, { line: 2680, routine: 'exec_describe_portal_message' });
      this.conn.send(portal.columns ? rowDescription(portal.columns, portal.formats) : { type: 'NoData' });
      return;
    }
    throw new PgError({ severity: 'ERROR', sqlstate: '08P01', message: `invalid DESCRIBE message subtype ${kind}`, file: 'postgres.c', line: 4837, routine: 'PostgresMain' });
  }

  /** Close: a statement or portal that does not exist is not an error. */
  private close(msg: MessageBuffer): void {
    const kind = msg.getByte();
    const name = clientString(msg);
    msg.getEnd();
    if (kind === 0x53) this.session.statements.delete(name);
    else if (kind === 0x50) this.session.portals.delete(name);
    else throw new PgError({ severity: 'ERROR', sqlstate: '08P01', message: `invalid CLOSE message subtype ${kind}`, file: 'postgres.c', line: 4802, routine: 'PostgresMain' });
    this.conn.send({ type: 'CloseComplete' });
  }
}

/**
 * pq_getmsgstring() once the session has a database: the client's string converted to the
 * database encoding, which (client_encoding = server_encoding = UTF8) verifies it is UTF-8.
 */
function clientString(msg: MessageBuffer): string {
  const s = msg.getString();
  const bad = invalidUtf8(stringToBytes(s));
  if (bad) {
    throw new PgError({ severity: 'ERROR', sqlstate: '22021', message: `invalid byte sequence for encoding "UTF8": ${bad.shown}`, file: 'mbutils.c', line: 1798, routine: 'report_invalid_encoding_int' });
  }
  return s;
}
