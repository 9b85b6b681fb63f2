/**
 * Encoding and decoding of protocol 3.0 messages, both directions.
 *
 * - encodeFrontend / encodeBackend turn the typed values of messages.ts into
 *   wire bytes (type byte, length word, body).
 * - decodeBackend parses a backend message body strictly, for clients and
 *   tests; anything malformed is a WireDecodeError.
 * - The server-side parsers (parsePasswordPacket, parseSASLInitialResponse,
 *   parseSASLResponse, parseQuery, parseStartupPacket) parse frontend bodies in
 *   the order PostgreSQL does and raise PostgreSQL's own errors (PgError).
 */
import { bytesToString, stringToBytes } from '../bytes.js';
import { PgError, type PgErrorFields, type Severity } from '../errors.js';
import { MessageBuffer } from './pqformat.js';
import {
  AUTH_REQ_MD5, AUTH_REQ_OK, AUTH_REQ_PASSWORD, AUTH_REQ_SASL, AUTH_REQ_SASL_CONT, AUTH_REQ_SASL_FIN,
  BACKEND_TYPE_BYTE as B, CANCEL_REQUEST_CODE, ERROR_FIELD_ORDER, FRONTEND_TYPE_BYTE as F,
  NEGOTIATE_GSS_CODE, NEGOTIATE_SSL_CODE, protocolCode, protocolVersionOf,
  type BackendMessage, type EncryptionResponse, type ErrorFields, type ErrorResponse, type FieldDescription,
  type FramedBackendMessage, type FrontendMessage, type LegacyErrorResponse, type NoticeResponse,
  type ProtocolVersion, type SASLInitialResponse, type StartupParam, type TransactionStatus,
} from './messages.js';

export * from './messages.js';
export { MessageBuffer, PQFORMAT_SOURCE } from './pqformat.js';

// ---- building bytes ---------------------------------------------------------

/** Accumulates a message body. */
class Writer {
  private parts: Buffer[] = [];

  int32(n: number): this {
    const b = Buffer.alloc(4);
    b.writeInt32BE(n | 0);
    this.parts.push(b);
    return this;
  }

  uint32(n: number): this {
    const b = Buffer.alloc(4);
    b.writeUInt32BE(n >>> 0);
    this.parts.push(b);
    return this;
  }

  int16(n: number): this {
    const b = Buffer.alloc(2);
    b.writeInt16BE(n);
    this.parts.push(b);
    return this;
  }

  bytes(b: Buffer | Uint8Array): this {
    this.parts.push(Buffer.from(b));
    return this;
  }

  /** A NUL-terminated string, byte for byte (src/bytes.ts); an embedded NUL could never be sent by PostgreSQL. */
  cstring(s: string): this {
    const b = stringToBytes(s);
    if (b.includes(0)) throw new TypeError(`string for the wire contains a NUL byte: ${JSON.stringify(s)}`);
    this.parts.push(b, Buffer.from([0]));
    return this;
  }

  byte(n: number): this {
    this.parts.push(Buffer.from([n]));
    return this;
  }

  done(): Buffer {
    return Buffer.concat(this.parts);
  }
}

/** Type byte + Int32 length (counting itself) + body. */
export function frame(type: number, body: Buffer): Buffer {
  const out = Buffer.alloc(5 + body.length);
  out[0] = type;
  out.writeInt32BE(body.length + 4, 1);
  body.copy(out, 5);
  return out;
}

/** Int32 length (counting itself) + body: the shape of every startup-phase packet. */
function frameUntyped(body: Buffer): Buffer {
  const out = Buffer.alloc(4 + body.length);
  out.writeInt32BE(body.length + 4, 0);
  body.copy(out, 4);
  return out;
}

export function encodeFrontend(msg: FrontendMessage): Buffer {
  switch (msg.type) {
    case 'SSLRequest':
      return frameUntyped(new Writer().int32(NEGOTIATE_SSL_CODE).done());
    case 'GSSENCRequest':
      return frameUntyped(new Writer().int32(NEGOTIATE_GSS_CODE).done());
    case 'CancelRequest':
      return frameUntyped(new Writer().int32(CANCEL_REQUEST_CODE).int32(msg.pid).bytes(msg.key).done());
    case 'StartupMessage': {
      const w = new Writer().uint32(protocolCode(msg.protocolVersion));
      for (const [name, value] of msg.params) w.cstring(name).cstring(value);
      return frameUntyped(w.byte(0).done());
    }
    case 'PasswordMessage':
      return frame(F.Password, new Writer().cstring(msg.password).done());
    case 'SASLInitialResponse': {
      const w = new Writer().cstring(msg.mechanism);
      if (msg.data === null) w.int32(-1);
      else w.int32(msg.data.length).bytes(msg.data);
      return frame(F.Password, w.done());
    }
    case 'SASLResponse':
      return frame(F.Password, Buffer.from(msg.data));
    case 'Query':
      return frame(F.Query, new Writer().cstring(msg.sql).done());
    case 'Parse': {
      const w = new Writer().cstring(msg.name).cstring(msg.sql).int16(msg.paramTypes.length);
      for (const t of msg.paramTypes) w.uint32(t);
      return frame(F.Parse, w.done());
    }
    case 'Bind': {
      const w = new Writer().cstring(msg.portal).cstring(msg.statement).int16(msg.paramFormats.length);
      for (const f of msg.paramFormats) w.int16(f);
      w.int16(msg.values.length);
      for (const v of msg.values) {
        if (v === null) w.int32(-1);
        else w.int32(v.length).bytes(v);
      }
      w.int16(msg.resultFormats.length);
      for (const f of msg.resultFormats) w.int16(f);
      return frame(F.Bind, w.done());
    }
    case 'Describe':
      return frame(F.Describe, new Writer().byte(msg.kind.charCodeAt(0)).cstring(msg.name).done());
    case 'Execute':
      return frame(F.Execute, new Writer().cstring(msg.portal).int32(msg.maxRows).done());
    case 'Close':
      return frame(F.Close, new Writer().byte(msg.kind.charCodeAt(0)).cstring(msg.name).done());
    case 'Sync':
      return frame(F.Sync, Buffer.alloc(0));
    case 'Flush':
      return frame(F.Flush, Buffer.alloc(0));
    case 'Terminate':
      return frame(F.Terminate, Buffer.alloc(0));
  }
}

function authRequest(code: number, payload?: Buffer): Buffer {
  const w = new Writer().int32(code);
  if (payload) w.bytes(payload);
  return frame(B.Authentication, w.done());
}

function encodeErrorFields(fields: ErrorFields): Buffer {
  const w = new Writer();
  for (const [code, key] of ERROR_FIELD_ORDER) {
    const value = fields[key];
    if (value === undefined) continue;
    w.byte(code.charCodeAt(0)).cstring(value);
  }
  return w.byte(0).done();
}

export function encodeBackend(msg: BackendMessage): Buffer {
  switch (msg.type) {
    case 'AuthenticationOk':
      return authRequest(AUTH_REQ_OK);
    case 'AuthenticationCleartextPassword':
      return authRequest(AUTH_REQ_PASSWORD);
    case 'AuthenticationMD5Password':
      if (msg.salt.length !== 4) throw new RangeError(`MD5 salt must be 4 bytes, got ${msg.salt.length}`);
      return authRequest(AUTH_REQ_MD5, msg.salt);
    case 'AuthenticationSASL': {
      // Each mechanism NUL-terminated, then one more NUL to end the list.
      const w = new Writer();
      for (const m of msg.mechanisms) w.cstring(m);
      return authRequest(AUTH_REQ_SASL, w.byte(0).done());
    }
    case 'AuthenticationSASLContinue':
      return authRequest(AUTH_REQ_SASL_CONT, msg.data);
    case 'AuthenticationSASLFinal':
      return authRequest(AUTH_REQ_SASL_FIN, msg.data);
    case 'ErrorResponse':
      return frame(B.ErrorResponse, encodeErrorFields(msg.fields));
    case 'NoticeResponse':
      return frame(B.NoticeResponse, encodeErrorFields(msg.fields));
    case 'ParameterStatus':
      return frame(B.ParameterStatus, new Writer().cstring(msg.name).cstring(msg.value).done());
    case 'BackendKeyData':
      return frame(B.BackendKeyData, new Writer().int32(msg.pid).bytes(msg.key).done());
    case 'ReadyForQuery':
      return frame(B.ReadyForQuery, Buffer.from(msg.status, 'latin1'));
    case 'RowDescription': {
      const w = new Writer().int16(msg.fields.length);
      for (const f of msg.fields) {
        w.cstring(f.name).uint32(f.tableOid).int16(f.columnAttr).uint32(f.typeOid)
          .int16(f.typeSize).int32(f.typeModifier).int16(f.format);
      }
      return frame(B.RowDescription, w.done());
    }
    case 'DataRow': {
      const w = new Writer().int16(msg.values.length);
      for (const v of msg.values) {
        if (v === null) w.int32(-1);
        else w.int32(v.length).bytes(v);
      }
      return frame(B.DataRow, w.done());
    }
    case 'CommandComplete':
      return frame(B.CommandComplete, new Writer().cstring(msg.tag).done());
    case 'EmptyQueryResponse':
      return frame(B.EmptyQueryResponse, Buffer.alloc(0));
    case 'ParseComplete':
      return frame(B.ParseComplete, Buffer.alloc(0));
    case 'BindComplete':
      return frame(B.BindComplete, Buffer.alloc(0));
    case 'CloseComplete':
      return frame(B.CloseComplete, Buffer.alloc(0));
    case 'NoData':
      return frame(B.NoData, Buffer.alloc(0));
    case 'PortalSuspended':
      return frame(B.PortalSuspended, Buffer.alloc(0));
    case 'ParameterDescription': {
      const w = new Writer().int16(msg.types.length);
      for (const t of msg.types) w.uint32(t);
      return frame(B.ParameterDescription, w.done());
    }
    case 'NegotiateProtocolVersion': {
      const w = new Writer()
        .uint32(protocolCode({ major: 3, minor: msg.newestMinorVersion }))
        .int32(msg.unrecognizedOptions.length);
      for (const name of msg.unrecognizedOptions) w.cstring(name);
      return frame(B.NegotiateProtocolVersion, w.done());
    }
    case 'EncryptionResponse':
      return Buffer.from(msg.answer, 'latin1');
    case 'LegacyErrorResponse':
      // elog.c's old-style message: "%s:  %s\n", sent with its NUL and no length word.
      return Buffer.concat([Buffer.from('E'), new Writer().cstring(`${msg.severity}:  ${msg.message}\n`).done()]);
  }
}

// ---- PgError → ErrorResponse ---------------------------------------------

/**
 * The fields PostgreSQL puts on the wire for an ereport: S and V both carry
 * the severity, CONTEXT goes out as W, and errdetail_log never leaves the
 * server.
 */
export function errorFieldsFrom(err: PgErrorFields): ErrorFields {
  const f: ErrorFields = {
    severity: err.severity,
    severityNonLocalized: err.severity,
    code: err.sqlstate,
    message: err.message,
  };
  if (err.detail !== undefined) f.detail = err.detail;
  if (err.hint !== undefined) f.hint = err.hint;
  if (err.context !== undefined) f.where = err.context;
  if (err.position !== undefined) f.position = String(err.position);
  if (err.file !== undefined) f.file = err.file;
  if (err.line !== undefined) f.line = String(err.line);
  if (err.routine !== undefined) f.routine = err.routine;
  return f;
}

export function toErrorResponse(err: PgErrorFields): ErrorResponse {
  return { type: 'ErrorResponse', fields: errorFieldsFrom(err) };
}

export function toNoticeResponse(err: PgErrorFields): NoticeResponse {
  return { type: 'NoticeResponse', fields: errorFieldsFrom(err) };
}

/** The pre-3.0 rendering of an error, for clients that asked for protocol major < 3. */
export function toLegacyErrorResponse(err: Pick<PgErrorFields, 'severity' | 'message'>): LegacyErrorResponse {
  return { type: 'LegacyErrorResponse', severity: err.severity, message: err.message };
}

// ---- decoding backend messages (client side) --------------------------------

/** A backend message that does not parse. Client-side only; the server never raises this. */
export class WireDecodeError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'WireDecodeError';
  }
}

/** Strict reader for decodeBackend: every shortfall or leftover is an error. */
class Cursor {
  private at = 0;
  constructor(private readonly buf: Buffer, private readonly what: string) {}

  private need(n: number): void {
    if (n < 0 || this.at + n > this.buf.length) {
      throw new WireDecodeError(`${this.what}: message too short (need ${n} bytes at offset ${this.at} of ${this.buf.length})`);
    }
  }

  int32(): number { this.need(4); const v = this.buf.readInt32BE(this.at); this.at += 4; return v; }
  uint32(): number { this.need(4); const v = this.buf.readUInt32BE(this.at); this.at += 4; return v; }
  int16(): number { this.need(2); const v = this.buf.readInt16BE(this.at); this.at += 2; return v; }
  byte(): number { this.need(1); return this.buf[this.at++]!; }
  bytes(n: number): Buffer { this.need(n); const v = Buffer.from(this.buf.subarray(this.at, this.at + n)); this.at += n; return v; }
  rest(): Buffer { return this.bytes(this.buf.length - this.at); }

  cstring(): string {
    const end = this.buf.indexOf(0, this.at);
    if (end < 0) throw new WireDecodeError(`${this.what}: unterminated string at offset ${this.at}`);
    const v = bytesToString(this.buf.subarray(this.at, end));
    this.at = end + 1;
    return v;
  }

  end(): void {
    if (this.at !== this.buf.length) {
      throw new WireDecodeError(`${this.what}: ${this.buf.length - this.at} unexpected trailing bytes`);
    }
  }
}

const FIELD_KEY_BY_CODE = new Map(ERROR_FIELD_ORDER.map(([code, key]) => [code.charCodeAt(0), key]));

function decodeErrorFields(c: Cursor, what: string): ErrorFields {
  const out: Partial<ErrorFields> = {};
  for (;;) {
    const code = c.byte();
    if (code === 0) break;
    const value = c.cstring();
    const key = FIELD_KEY_BY_CODE.get(code);
    // The protocol says to ignore field types one does not know.
    if (key !== undefined) out[key] = value;
  }
  if (out.severity === undefined || out.code === undefined || out.message === undefined) {
    throw new WireDecodeError(`${what}: missing S, C or M field`);
  }
  return out as ErrorFields;
}

function decodeAuthentication(c: Cursor): FramedBackendMessage {
  const code = c.int32();
  switch (code) {
    case AUTH_REQ_OK: return { type: 'AuthenticationOk' };
    case AUTH_REQ_PASSWORD: return { type: 'AuthenticationCleartextPassword' };
    case AUTH_REQ_MD5: return { type: 'AuthenticationMD5Password', salt: c.bytes(4) };
    case AUTH_REQ_SASL: {
      const mechanisms: string[] = [];
      for (;;) {
        const m = c.cstring();
        if (m === '') break;
        mechanisms.push(m);
      }
      return { type: 'AuthenticationSASL', mechanisms };
    }
    case AUTH_REQ_SASL_CONT: return { type: 'AuthenticationSASLContinue', data: c.rest() };
    case AUTH_REQ_SASL_FIN: return { type: 'AuthenticationSASLFinal', data: c.rest() };
    default: throw new WireDecodeError(`Authentication: unsupported request code ${code}`);
  }
}

/** Decode a framed backend message from its type byte and body (the bytes after the length word). */
export function decodeBackend(type: number, body: Buffer): FramedBackendMessage {
  const name = String.fromCharCode(type);
  const c = new Cursor(body, `backend message '${name}'`);
  let msg: FramedBackendMessage;
  switch (type) {
    case B.Authentication:
      msg = decodeAuthentication(c);
      break;
    case B.ErrorResponse:
      msg = { type: 'ErrorResponse', fields: decodeErrorFields(c, 'ErrorResponse') };
      break;
    case B.NoticeResponse:
      msg = { type: 'NoticeResponse', fields: decodeErrorFields(c, 'NoticeResponse') };
      break;
    case B.ParameterStatus:
      msg = { type: 'ParameterStatus', name: c.cstring(), value: c.cstring() };
      break;
    case B.BackendKeyData:
      msg = { type: 'BackendKeyData', pid: c.int32(), key: c.rest() };
      break;
    case B.ReadyForQuery: {
      const status = String.fromCharCode(c.byte());
      if (status !== 'I' && status !== 'T' && status !== 'E') {
        throw new WireDecodeError(`ReadyForQuery: unknown transaction status ${JSON.stringify(status)}`);
      }
      msg = { type: 'ReadyForQuery', status: status as TransactionStatus };
      break;
    }
    case B.RowDescription: {
      const n = c.int16();
      const fields: FieldDescription[] = [];
      for (let i = 0; i < n; i++) {
        fields.push({
          name: c.cstring(), tableOid: c.uint32(), columnAttr: c.int16(), typeOid: c.uint32(),
          typeSize: c.int16(), typeModifier: c.int32(), format: c.int16(),
        });
      }
      msg = { type: 'RowDescription', fields };
      break;
    }
    case B.DataRow: {
      const n = c.int16();
      const values: Array<Buffer | null> = [];
      for (let i = 0; i < n; i++) {
        const len = c.int32();
        values.push(len === -1 ? null : c.bytes(len));
      }
      msg = { type: 'DataRow', values };
      break;
    }
    case B.CommandComplete:
      msg = { type: 'CommandComplete', tag: c.cstring() };
      break;
    case B.EmptyQueryResponse:
      msg = { type: 'EmptyQueryResponse' };
      break;
    case B.ParseComplete: msg = { type: 'ParseComplete' }; break;
    case B.BindComplete: msg = { type: 'BindComplete' }; break;
    case B.CloseComplete: msg = { type: 'CloseComplete' }; break;
    case B.NoData: msg = { type: 'NoData' }; break;
    case B.PortalSuspended: msg = { type: 'PortalSuspended' }; break;
    case B.ParameterDescription: {
      const n = c.int16();
      const types: number[] = [];
      for (let i = 0; i < n; i++) types.push(c.uint32());
      msg = { type: 'ParameterDescription', types };
      break;
    }
    case B.NegotiateProtocolVersion: {
      const version = protocolVersionOf(c.uint32());
      if (version.major !== 3) throw new WireDecodeError(`NegotiateProtocolVersion: major version ${version.major}`);
      const n = c.int32();
      if (n < 0) throw new WireDecodeError(`NegotiateProtocolVersion: negative option count ${n}`);
      const unrecognizedOptions: string[] = [];
      for (let i = 0; i < n; i++) unrecognizedOptions.push(c.cstring());
      msg = { type: 'NegotiateProtocolVersion', newestMinorVersion: version.minor, unrecognizedOptions };
      break;
    }
    default:
      throw new WireDecodeError(`unknown backend message type ${JSON.stringify(name)} (${type})`);
  }
  c.end();
  return msg;
}

/** The one-byte answer to SSLRequest or GSSENCRequest. */
export function decodeEncryptionResponse(byte: number): EncryptionResponse {
  const answer = String.fromCharCode(byte);
  if (answer !== 'S' && answer !== 'N' && answer !== 'G') {
    throw new WireDecodeError(`not an encryption negotiation answer: ${byte}`);
  }
  return { type: 'EncryptionResponse', answer };
}

/** Parse an old-style error: 'E' + "<SEVERITY>:  <message>\n" + NUL. `bytes` includes the 'E' and the NUL. */
export function decodeLegacyErrorResponse(bytes: Buffer): LegacyErrorResponse {
  if (bytes[0] !== B.ErrorResponse || bytes[bytes.length - 1] !== 0) {
    throw new WireDecodeError('legacy error: expected "E" ... NUL');
  }
  const text = bytesToString(bytes.subarray(1, bytes.length - 1));
  const m = /^([A-Z]+): {2}([\s\S]*)\n$/.exec(text);
  if (!m) throw new WireDecodeError(`legacy error: unexpected text ${JSON.stringify(text)}`);
  return { type: 'LegacyErrorResponse', severity: m[1]!, message: m[2]! };
}

// ---- server side: frontend message bodies ---------------------------------

/** recv_password_packet()'s locations in PostgreSQL 15.20, measured. */
const RECV_PASSWORD_PACKET = { file: 'auth.c', routine: 'recv_password_packet' } as const;

/**
 * The body of a 'p' message answering a password or md5 request, checked as
 * recv_password_packet() checks it: the string must fill the body exactly
 * (08P01 `invalid password packet size`), and an empty password is refused
 * (28P01 `empty password returned by client`). Returns the password bytes
 * without their NUL; no encoding conversion is applied, as in PostgreSQL.
 */
export function parsePasswordPacket(body: Buffer, severity: Severity = 'FATAL'): Buffer {
  const nul = body.indexOf(0);
  const strlen = nul < 0 ? body.length : nul;
  if (strlen + 1 !== body.length) {
    throw new PgError({ severity, sqlstate: '08P01', message: 'invalid password packet size', ...RECV_PASSWORD_PACKET, line: 739 });
  }
  if (body.length === 1) {
    throw new PgError({ severity, sqlstate: '28P01', message: 'empty password returned by client', ...RECV_PASSWORD_PACKET, line: 757 });
  }
  return Buffer.from(body.subarray(0, strlen));
}

/**
 * The first SASL message (SASLInitialResponse), read in CheckSASLAuth's order:
 * mechanism name, then (after the mechanism has been vetted) the Int32 length
 * and data, then the end-of-message check. PostgreSQL validates the mechanism
 * between the name and the length, so a bad mechanism wins over a truncated
 * length (observed on 15.20); pass `checkMechanism` to reproduce that order.
 */
export function parseSASLInitialResponse(
  body: Buffer,
  checkMechanism?: (mechanism: string) => void,
  severity: Severity = 'FATAL',
): Omit<SASLInitialResponse, 'type'> {
  const buf = new MessageBuffer(body, severity);
  const mechanism = bytesToString(buf.getRawString());
  checkMechanism?.(mechanism);
  const len = buf.getInt32();
  const data = len === -1 ? null : buf.getBytes(len);
  buf.getEnd();
  return { mechanism, data };
}

/** A later SASL message (SASLResponse): the whole body is the data. */
export function parseSASLResponse(body: Buffer, severity: Severity = 'FATAL'): Buffer {
  const buf = new MessageBuffer(body, severity);
  const data = buf.getBytes(body.length);
  buf.getEnd();
  return data;
}

/** A simple Query: one string filling the body (pq_getmsgstring + pq_getmsgend). ERROR, as in the main loop. */
export function parseQuery(body: Buffer, severity: Severity = 'ERROR'): string {
  const buf = new MessageBuffer(body, severity);
  const sql = buf.getString();
  buf.getEnd();
  return sql;
}

/** How a 'p' message is to be read; the server knows from the state of the exchange. */
export type PasswordMessageKind = 'PasswordMessage' | 'SASLInitialResponse' | 'SASLResponse';

/**
 * Decode a typed frontend message (for test servers and transcripts). 'p' is
 * ambiguous on the wire, so `p` says which of its three forms to expect.
 */
export function decodeFrontend(type: number, body: Buffer, p: PasswordMessageKind = 'PasswordMessage'): FrontendMessage {
  switch (type) {
    case F.Password:
      if (p === 'SASLInitialResponse') return { type: 'SASLInitialResponse', ...parseSASLInitialResponse(body) };
      if (p === 'SASLResponse') return { type: 'SASLResponse', data: parseSASLResponse(body) };
      return { type: 'PasswordMessage', password: bytesToString(parsePasswordPacket(body)) };
    case F.Query:
      return { type: 'Query', sql: parseQuery(body) };
    case F.Terminate:
      return { type: 'Terminate' };
    default:
      throw new WireDecodeError(`unknown frontend message type ${JSON.stringify(String.fromCharCode(type))} (${type})`);
  }
}

// ---- server side: the startup packet ---------------------------------------

/** ProcessStartupPacket's terminator check, with PostgreSQL 15.20's F/L/R. */
export function startupLayoutError(): PgError {
  return new PgError({
    severity: 'FATAL', sqlstate: '08P01',
    message: 'invalid startup packet layout: expected terminator as last byte',
    file: 'postmaster.c', line: 2332, routine: 'ProcessStartupPacket',
  });
}

interface PacketHead { code: number; protocolVersion: ProtocolVersion }

export type ParsedStartupPacket =
  | (PacketHead & { kind: 'SSLRequest' })
  | (PacketHead & { kind: 'GSSENCRequest' })
  /**
   * `pid` is null when the body is too short to hold one; `key` is whatever
   * follows it. PostgreSQL 15 only accepts a body of exactly
   * CANCEL_REQUEST_BODY_LENGTH (12) bytes.
   */
  | (PacketHead & { kind: 'CancelRequest'; pid: number | null; key: Buffer })
  /** Major version other than 3: PostgreSQL reads no parameters and refuses it. */
  | (PacketHead & { kind: 'UnsupportedProtocol' })
  | (PacketHead & {
    kind: 'StartupMessage';
    params: StartupParam[];
    /** The same pairs as raw bytes: names are truncated and cleaned by byte in PostgreSQL. */
    rawParams: Array<[name: Buffer, value: Buffer]>;
  });

export interface ParseStartupOptions {
  /**
   * Called for each name/value pair during the scan, before the terminator is
   * checked, as ProcessStartupPacket handles each parameter (e.g. rejects a bad
   * `replication` value) inside its loop. Throwing aborts the parse.
   */
  onParam?: (name: string, value: string, raw: { name: Buffer; value: Buffer }) => void;
}

/**
 * Parse a startup packet body (everything after the length word, so at least
 * the 4-byte code) as PostgreSQL 15's ProcessStartupPacket does.
 *
 * The code decides the kind. SSLRequest and GSSENCRequest are reported as such
 * whatever their length; it is up to the caller to treat a repeated request as
 * a protocol version (1234.5679), as PostgreSQL does once ssl_done is set.
 *
 * For protocol 3.x the name/value pairs are scanned: the scan stops at an
 * empty name (the terminator) or at a name with no room left for a value, and
 * the stop must fall exactly on the last byte, or FATAL 08P01 `invalid startup
 * packet layout: expected terminator as last byte` is thrown. Strings may run
 * to the end of the body (PostgreSQL pads its copy with a NUL), which gives
 * one quirk verified on 15.20: a single non-NUL byte in the terminator's place
 * is accepted and ignored.
 */
export function parseStartupPacket(body: Buffer, opts: ParseStartupOptions = {}): ParsedStartupPacket {
  if (body.length < 4) throw new RangeError(`startup packet body of ${body.length} bytes has no code`);
  const code = body.readUInt32BE(0);
  const head: PacketHead = { code, protocolVersion: protocolVersionOf(code) };

  if (code === CANCEL_REQUEST_CODE) {
    const pid = body.length >= 8 ? body.readInt32BE(4) : null;
    return { ...head, kind: 'CancelRequest', pid, key: Buffer.from(body.subarray(Math.min(8, body.length))) };
  }
  if (code === NEGOTIATE_SSL_CODE) return { ...head, kind: 'SSLRequest' };
  if (code === NEGOTIATE_GSS_CODE) return { ...head, kind: 'GSSENCRequest' };
  if (head.protocolVersion.major !== 3) return { ...head, kind: 'UnsupportedProtocol' };

  const len = body.length;
  // C-string end within the packet, or the packet end when no NUL is left.
  const strEnd = (from: number) => {
    const i = body.indexOf(0, from);
    return i < 0 ? len : i;
  };
  const params: StartupParam[] = [];
  const rawParams: Array<[Buffer, Buffer]> = [];
  let offset = 4;
  while (offset < len) {
    if (body[offset] === 0) break; // the terminator
    const nameEnd = strEnd(offset);
    const valueOffset = nameEnd + 1;
    if (valueOffset >= len) break; // no value: the layout check below complains
    const valueEnd = strEnd(valueOffset);
    const rawName = Buffer.from(body.subarray(offset, nameEnd));
    const rawValue = Buffer.from(body.subarray(valueOffset, valueEnd));
    const name = bytesToString(rawName);
    const value = bytesToString(rawValue);
    opts.onParam?.(name, value, { name: rawName, value: rawValue });
    params.push([name, value]);
    rawParams.push([rawName, rawValue]);
    offset = valueEnd + 1;
  }
  if (offset !== len - 1) throw startupLayoutError();
  return { ...head, kind: 'StartupMessage', params, rawParams };
}
