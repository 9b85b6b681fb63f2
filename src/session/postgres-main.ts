/** PostgresMain's command loop, reduced to the simple-query protocol. */
import { PgError, type PgErrorFields } from '../errors.js';
import type { Backend } from '../server/backend.js';
import { toErrorResponse, PQ_LARGE_MESSAGE_LIMIT } from '../wire/codec.js';
import { ProcExit } from '../server/exits.js';
import { answerQuery, typeSize } from './queries.js';

export async function postgresMain(be: Backend): Promise<void> {
  for (;;) {
    const read = await be.reader.readMessage(PQ_LARGE_MESSAGE_LIMIT);
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
    const sql = read.body.subarray(0, nul < 0 ? read.body.length : nul).toString('utf8');
    be.emit({ type: 'query', sql });
    try {
      const result = answerQuery(be, sql);
      if (result === 'empty') {
        be.send({ type: 'EmptyQueryResponse' });
      } else {
        be.send({
          type: 'RowDescription',
          fields: result.columns.map((c) => ({ name: c.name, tableOid: 0, columnAttr: 0, typeOid: c.typeOid, typeSize: typeSize(c.typeOid), typeModifier: -1, format: 0 })),
        } as never);
        for (const row of result.rows) {
          be.send({ type: 'DataRow', values: row.map((v) => (v === null ? null : Buffer.from(v, 'utf8'))) });
        }
        be.send({ type: 'CommandComplete', tag: result.tag });
      }
    } catch (err) {
      if (!(err instanceof PgError) || err.severity !== 'ERROR') throw err;
      const fields: PgErrorFields = err.fields;
      be.emit({ type: 'error', error: fields, toClient: true, toLog: true });
      be.send(toErrorResponse(fields));
    }
    be.send({ type: 'ReadyForQuery', status: 'I' });
    be.flush();
  }
}
