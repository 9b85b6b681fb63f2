/**
 * An established connection (CONNECTION_OK): the simple query protocol and Terminate.
 */
import { decodeBackend, type ErrorFields, type FieldDescription } from '../../wire/codec.js';
import { formatServerMessage, SERVER_CLOSED_UNEXPECTEDLY } from './messages.js';
import { closeGracefully, type ClientWire } from './wire.js';

export interface QueryResult {
  status: 'tuples' | 'command' | 'empty' | 'error';
  fields: FieldDescription[];
  rows: Array<Array<string | null>>;
  commandTag: string | null;
  error: ErrorFields | null;
  /** libpq's text for the error (PQresultErrorMessage), '' when there is none. */
  errorMessage: string;
}

export interface ConnectionInfo {
  /** The host as libpq displays it, the address connected to and the port. */
  host: string;
  address: string;
  port: number;
  sslInUse: boolean;
  tls: { protocol: string; cipher: string } | null;
  parameters: ReadonlyMap<string, string>;
  backendPid: number | null;
  backendKey: Buffer | null;
  /** NoticeResponse texts received while connecting, as libpq's notice processor prints them. */
  notices: string[];
  /** PQuser() */
  user: string;
  /** conn->errorMessage at success: errors from hosts or tries that failed first. */
  errorMessage: string;
}

export class LibpqConnection {
  private closed = false;
  /** Notices received during queries, in order. */
  readonly queryNotices: string[] = [];
  /** The same notices as their fields. */
  readonly queryNoticeFields: ErrorFields[] = [];

  constructor(private readonly wire: ClientWire, readonly info: ConnectionInfo) {}

  /** PQexec() over the simple protocol: one result per statement. */
  async exec(sql: string): Promise<QueryResult[]> {
    if (this.closed) throw new Error('connection is closed');
    this.wire.send({ type: 'Query', sql });
    const results: QueryResult[] = [];
    let current: QueryResult | null = null;
    const fresh = (): QueryResult => ({ status: 'command', fields: [], rows: [], commandTag: null, error: null, errorMessage: '' });
    for (;;) {
      const f = await this.wire.readFrame();
      if (f.kind === 'eof') {
        results.push({ ...fresh(), status: 'error', errorMessage: `${SERVER_CLOSED_UNEXPECTEDLY}\n` });
        this.closed = true;
        return results;
      }
      const msg = decodeBackend(f.type, f.body);
      switch (msg.type) {
        case 'RowDescription':
          current = { ...fresh(), status: 'tuples', fields: msg.fields };
          break;
        case 'DataRow':
          current ??= { ...fresh(), status: 'tuples' };
          current.rows.push(msg.values.map((v) => (v === null ? null : v.toString('utf8'))));
          break;
        case 'CommandComplete':
          current ??= fresh();
          current.commandTag = msg.tag;
          results.push(current);
          current = null;
          break;
        case 'EmptyQueryResponse':
          results.push({ ...fresh(), status: 'empty' });
          break;
        case 'ErrorResponse':
          results.push({ ...fresh(), status: 'error', error: msg.fields, errorMessage: formatServerMessage(msg.fields, true) });
          current = null;
          break;
        case 'NoticeResponse':
          this.queryNotices.push(formatServerMessage(msg.fields, false));
          this.queryNoticeFields.push(msg.fields);
          break;
        case 'ReadyForQuery':
          return results;
        default:
          break;
      }
    }
  }

  /** PQexec() returning the last result, as libpq does. */
  async query(sql: string): Promise<QueryResult> {
    const results = await this.exec(sql);
    const last = results[results.length - 1];
    if (!last) return { status: 'empty', fields: [], rows: [], commandTag: null, error: null, errorMessage: '' };
    return last;
  }

  /** PQfinish(): Terminate, then close the socket. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (!this.wire.stream.destroyed) this.wire.send({ type: 'Terminate' });
    this.wire.reader.close();
    await new Promise<void>((resolve) => closeGracefully(this.wire.stream, resolve));
  }
}
