/** PostgresMain's command loop, reduced to the simple-query protocol. */
import { bytesToString, stringToBytes } from '../bytes.js';
import { PgError, type PgErrorFields } from '../errors.js';
import type { ClientConnection } from '../connection.js';
import { toErrorResponse, PQ_LARGE_MESSAGE_LIMIT } from '../wire/codec.js';
import { ProcExit } from '../server/exits.js';
import { answerQuery, typeSize } from './queries.js';

export async function postgresMain(be: ClientConnection): Promise<void> {
  for (;;) {
    const read = await be.readMessage(PQ_LARGE_MESSAGE_LIMIT);
    if (read.kind === 'eof') throw new ProcExit('eof');
    if (read.kind !== 'message') {
      be.logCommError(read.kind === 'eof-in-length' ? 'unexpected EOF within message length word' : read.kind === 'invalid-length' ? 'invalid message length' : 'incomplete message from client');
      throw new ProcExit('comm-error');
    }
    const type = String.fromCharCode(read.type);
    if (type === 'X') throw new ProcExit('terminate');
    if (type !== 'Q') {
      throw new PgError({ severity: 'FATAL', sqlstate: '08P01', message: `invalid frontend message type ${read.type}`, file: 'postgres.c', line: 4795, routine: 'PostgresMain' });
    }
    const nul = read.body.indexOf(0);
    const sql = bytesToString(read.body.subarray(0, nul < 0 ? read.body.length : nul));
    be.emit({ type: 'query', sql });
    const statements = splitStatements(sql);
    if (statements.length === 0) be.send({ type: 'EmptyQueryResponse' });
    for (const statement of statements) {
      if (!execStatement(be, statement)) break;
    }
    be.send({ type: 'ReadyForQuery', status: be.transactionStatus });
    be.flush();
  }
}

/** One statement of a simple Query; false stops the rest of the string, as an error does in PostgreSQL. */
function execStatement(be: ClientConnection, sql: string): boolean {
  try {
    if (be.transactionStatus === 'E' && !/^\s*(rollback|abort|commit|end)\b/i.test(sql)) {
      throw new PgError({ severity: 'ERROR', sqlstate: '25P02', message: 'current transaction is aborted, commands ignored until end of transaction block', file: 'postgres.c', routine: 'exec_simple_query' });
    }
    const result = answerQuery(be, sql);
    if (result === 'empty') {
      be.send({ type: 'EmptyQueryResponse' });
      return true;
    }
    if (result.columns.length > 0) {
      be.send({
        type: 'RowDescription',
        fields: result.columns.map((c) => ({ name: c.name, tableOid: 0, columnAttr: 0, typeOid: c.typeOid, typeSize: typeSize(c.typeOid), typeModifier: -1, format: 0 })),
      });
      for (const row of result.rows) {
        be.send({ type: 'DataRow', values: row.map((v) => (v === null ? null : stringToBytes(v))) });
      }
    }
    // COMMIT of a failed transaction block reports ROLLBACK, as PostgreSQL does.
    const tag = result.tag === 'COMMIT' && be.transactionStatus === 'E' ? 'ROLLBACK' : result.tag;
    if (result.transaction === 'begin') be.transactionStatus = 'T';
    if (result.transaction === 'end') be.transactionStatus = 'I';
    be.send({ type: 'CommandComplete', tag });
    return true;
  } catch (err) {
    if (!(err instanceof PgError) || err.severity !== 'ERROR') throw err;
    const fields: PgErrorFields = err.fields;
    be.emit({ type: 'error', error: fields, toClient: true, toLog: true });
    be.send(toErrorResponse(fields));
    if (be.transactionStatus === 'T') be.transactionStatus = 'E';
    return false;
  }
}

/** Split a simple Query string at semicolons outside quotes; empty statements vanish. */
export function splitStatements(sql: string): string[] {
  const out: string[] = [];
  let cur = '';
  let quote: string | null = null;
  for (const ch of sql) {
    if (quote) {
      if (ch === quote) quote = null;
    } else if (ch === "'" || ch === '"') {
      quote = ch;
    } else if (ch === ';') {
      if (cur.trim()) out.push(cur.trim());
      cur = '';
      continue;
    }
    cur += ch;
  }
  if (cur.trim()) out.push(cur.trim());
  return out;
}
