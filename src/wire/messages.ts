/**
 * Typed values for the PostgreSQL frontend/backend protocol 3.0 messages that
 * matter while a connection is being established (plus the few needed for a
 * simple query afterwards), and the protocol's fixed numbers.
 *
 * Each message is a plain object discriminated by `type`, named as in the
 * "Message Formats" chapter of the PostgreSQL documentation.
 */

// ---- protocol constants (pqcomm.h, auth.h, auth-sasl.c) -------------------

/** 1234.5678: the "version" of a CancelRequest packet. */
export const CANCEL_REQUEST_CODE = 80877102;
/** 1234.5679: SSLRequest. */
export const NEGOTIATE_SSL_CODE = 80877103;
/** 1234.5680: GSSENCRequest. */
export const NEGOTIATE_GSS_CODE = 80877104;
/** Protocol 3.0 as sent in a StartupMessage (PG_PROTOCOL(3,0)). */
export const PG_PROTOCOL_3_0 = 196608;
/** Largest startup-packet body (the length word minus its own 4 bytes). */
export const MAX_STARTUP_PACKET_LENGTH = 10000;
/** PG15's CancelRequest body: code, PID and a 4-byte key. Any other length is "invalid length of startup packet". */
export const CANCEL_REQUEST_BODY_LENGTH = 12;
/** maxlen the server passes to pq_getmessage() for password packets (counts the length word). */
export const PG_MAX_AUTH_TOKEN_LENGTH = 65535;
/** maxlen for SASL messages (counts the length word). */
export const PG_MAX_SASL_MESSAGE_LENGTH = 1024;
/** maxlen the main loop uses for most message types (pqcomm.h). */
export const PQ_SMALL_MESSAGE_LIMIT = 10000;
/** maxlen for Query, Bind, CopyData and the like: MaxAllocSize - 1. */
export const PQ_LARGE_MESSAGE_LIMIT = 0x3fffffff - 1;

/** AuthenticationRequest codes (the Int32 after 'R'). */
export const AUTH_REQ_OK = 0;
export const AUTH_REQ_PASSWORD = 3;
export const AUTH_REQ_MD5 = 5;
export const AUTH_REQ_SASL = 10;
export const AUTH_REQ_SASL_CONT = 11;
export const AUTH_REQ_SASL_FIN = 12;

export interface ProtocolVersion {
  major: number;
  minor: number;
}

/** Split a startup packet's first Int32 the way PG_PROTOCOL_MAJOR/MINOR do. */
export function protocolVersionOf(code: number): ProtocolVersion {
  return { major: (code >>> 16) & 0xffff, minor: code & 0xffff };
}

export function protocolCode(v: ProtocolVersion): number {
  return ((v.major & 0xffff) * 0x10000) + (v.minor & 0xffff);
}

/** A startup parameter, in the order the client sent it. */
export type StartupParam = [name: string, value: string];

// ---- frontend (client → server) -------------------------------------------

export interface SSLRequest { type: 'SSLRequest' }
export interface GSSENCRequest { type: 'GSSENCRequest' }
/** `key` is 4 bytes under protocol 3.0 (PostgreSQL 18 with 3.2 allows up to 256). */
export interface CancelRequest { type: 'CancelRequest'; pid: number; key: Buffer }
export interface StartupMessage { type: 'StartupMessage'; protocolVersion: ProtocolVersion; params: StartupParam[] }
export interface PasswordMessage { type: 'PasswordMessage'; password: string }
/** `data` null is the Int32 -1 "no initial response". */
export interface SASLInitialResponse { type: 'SASLInitialResponse'; mechanism: string; data: Buffer | null }
export interface SASLResponse { type: 'SASLResponse'; data: Buffer }
export interface Query { type: 'Query'; sql: string }
/** Extended query protocol: `paramTypes` 0 leaves a type for the server to infer. */
export interface Parse { type: 'Parse'; name: string; sql: string; paramTypes: number[] }
/** `values` in their formats' encodings (null is SQL NULL); format codes as the protocol allows (none, one for all, one each). */
export interface Bind { type: 'Bind'; portal: string; statement: string; paramFormats: number[]; values: Array<Buffer | null>; resultFormats: number[] }
export interface Describe { type: 'Describe'; kind: 'S' | 'P'; name: string }
/** `maxRows` 0 fetches everything. */
export interface Execute { type: 'Execute'; portal: string; maxRows: number }
export interface Close { type: 'Close'; kind: 'S' | 'P'; name: string }
export interface Sync { type: 'Sync' }
export interface Flush { type: 'Flush' }
export interface Terminate { type: 'Terminate' }

/** Packets without a type byte, sent before the StartupMessage is accepted. */
export type StartupPacketMessage = SSLRequest | GSSENCRequest | CancelRequest | StartupMessage;

export type FrontendMessage =
  | StartupPacketMessage
  | PasswordMessage
  | SASLInitialResponse
  | SASLResponse
  | Query
  | Parse
  | Bind
  | Describe
  | Execute
  | Close
  | Sync
  | Flush
  | Terminate;

// ---- backend (server → client) --------------------------------------------

export interface AuthenticationOk { type: 'AuthenticationOk' }
export interface AuthenticationCleartextPassword { type: 'AuthenticationCleartextPassword' }
export interface AuthenticationMD5Password { type: 'AuthenticationMD5Password'; salt: Buffer }
export interface AuthenticationSASL { type: 'AuthenticationSASL'; mechanisms: string[] }
export interface AuthenticationSASLContinue { type: 'AuthenticationSASLContinue'; data: Buffer }
export interface AuthenticationSASLFinal { type: 'AuthenticationSASLFinal'; data: Buffer }

/**
 * The fields of an ErrorResponse or NoticeResponse. Values are the wire text
 * (position and line are decimal strings, as PostgreSQL sends them).
 */
export interface ErrorFields {
  /** S: localized severity. */
  severity: string;
  /** V: severity never localized (PostgreSQL 9.6+ always sends it). */
  severityNonLocalized?: string;
  /** C: SQLSTATE. */
  code: string;
  /** M: primary message. */
  message: string;
  /** D */ detail?: string;
  /** H */ hint?: string;
  /** P */ position?: string;
  /** p */ internalPosition?: string;
  /** q */ internalQuery?: string;
  /** W: context. */ where?: string;
  /** s */ schema?: string;
  /** t */ table?: string;
  /** c */ column?: string;
  /** d */ dataType?: string;
  /** n */ constraint?: string;
  /** F */ file?: string;
  /** L */ line?: string;
  /** R */ routine?: string;
}

/**
 * Field codes in the order PostgreSQL's send_message_to_frontend() (elog.c)
 * writes them. Note that the context (W) precedes the schema/table/... fields
 * and the positions come after them: observed on 15.20 as `... M W p q F L R`
 * for an error inside EXECUTE, and `... M P F L R` for a plain syntax error.
 */
export const ERROR_FIELD_ORDER: ReadonlyArray<readonly [code: string, key: keyof ErrorFields]> = [
  ['S', 'severity'],
  ['V', 'severityNonLocalized'],
  ['C', 'code'],
  ['M', 'message'],
  ['D', 'detail'],
  ['H', 'hint'],
  ['W', 'where'],
  ['s', 'schema'],
  ['t', 'table'],
  ['c', 'column'],
  ['d', 'dataType'],
  ['n', 'constraint'],
  ['P', 'position'],
  ['p', 'internalPosition'],
  ['q', 'internalQuery'],
  ['F', 'file'],
  ['L', 'line'],
  ['R', 'routine'],
];

export interface ErrorResponse { type: 'ErrorResponse'; fields: ErrorFields }
export interface NoticeResponse { type: 'NoticeResponse'; fields: ErrorFields }
export interface ParameterStatus { type: 'ParameterStatus'; name: string; value: string }
/** `key` is 4 bytes under protocol 3.0; PostgreSQL 18 sends 32 under 3.2. */
export interface BackendKeyData { type: 'BackendKeyData'; pid: number; key: Buffer }
export type TransactionStatus = 'I' | 'T' | 'E';
export interface ReadyForQuery { type: 'ReadyForQuery'; status: TransactionStatus }

export interface FieldDescription {
  name: string;
  tableOid: number;
  columnAttr: number;
  typeOid: number;
  typeSize: number;
  typeModifier: number;
  /** 0 text, 1 binary. */
  format: number;
}
export interface RowDescription { type: 'RowDescription'; fields: FieldDescription[] }
export interface DataRow { type: 'DataRow'; values: Array<Buffer | null> }
export interface CommandComplete { type: 'CommandComplete'; tag: string }
export interface EmptyQueryResponse { type: 'EmptyQueryResponse' }
/** Extended query protocol replies: '1', '2', '3', 'n', 's' (no body) and 't'. */
export interface ParseComplete { type: 'ParseComplete' }
export interface BindComplete { type: 'BindComplete' }
export interface CloseComplete { type: 'CloseComplete' }
export interface NoData { type: 'NoData' }
export interface PortalSuspended { type: 'PortalSuspended' }
/** Parameter type OIDs of a prepared statement (0 where one was left unspecified and never resolved). */
export interface ParameterDescription { type: 'ParameterDescription'; types: number[] }
/**
 * 'v'. On the wire: Int32 newest supported version (always major 3), Int32
 * count, then the unrecognized `_pq_.` option names.
 */
export interface NegotiateProtocolVersion {
  type: 'NegotiateProtocolVersion';
  newestMinorVersion: number;
  unrecognizedOptions: string[];
}

/** Messages with a type byte and a length word. */
export type FramedBackendMessage =
  | AuthenticationOk
  | AuthenticationCleartextPassword
  | AuthenticationMD5Password
  | AuthenticationSASL
  | AuthenticationSASLContinue
  | AuthenticationSASLFinal
  | ErrorResponse
  | NoticeResponse
  | ParameterStatus
  | BackendKeyData
  | ReadyForQuery
  | RowDescription
  | DataRow
  | CommandComplete
  | EmptyQueryResponse
  | ParseComplete
  | BindComplete
  | CloseComplete
  | NoData
  | PortalSuspended
  | ParameterDescription
  | NegotiateProtocolVersion;

/** The single unframed byte answering SSLRequest ('S'/'N') or GSSENCRequest ('G'/'N'). */
export interface EncryptionResponse { type: 'EncryptionResponse'; answer: 'S' | 'N' | 'G' }

/**
 * The pre-3.0 error format PostgreSQL still uses for "unsupported frontend
 * protocol" when the client asked for major < 3: 'E', then
 * "<SEVERITY>:  <message>\n" and a NUL, with no length word.
 */
export interface LegacyErrorResponse { type: 'LegacyErrorResponse'; severity: string; message: string }

export type BackendMessage = FramedBackendMessage | EncryptionResponse | LegacyErrorResponse;

/** Type bytes of the framed messages above. */
export const BACKEND_TYPE_BYTE = {
  Authentication: 0x52, // R
  ErrorResponse: 0x45, // E
  NoticeResponse: 0x4e, // N
  ParameterStatus: 0x53, // S
  BackendKeyData: 0x4b, // K
  ReadyForQuery: 0x5a, // Z
  RowDescription: 0x54, // T
  DataRow: 0x44, // D
  CommandComplete: 0x43, // C
  EmptyQueryResponse: 0x49, // I
  ParseComplete: 0x31, // 1
  BindComplete: 0x32, // 2
  CloseComplete: 0x33, // 3
  NoData: 0x6e, // n
  PortalSuspended: 0x73, // s
  ParameterDescription: 0x74, // t
  NegotiateProtocolVersion: 0x76, // v
} as const;

export const FRONTEND_TYPE_BYTE = {
  /** PasswordMessage, SASLInitialResponse and SASLResponse all use 'p'. */
  Password: 0x70, // p
  Query: 0x51, // Q
  Parse: 0x50, // P
  Bind: 0x42, // B
  Describe: 0x44, // D
  Execute: 0x45, // E
  Close: 0x43, // C
  Sync: 0x53, // S
  Flush: 0x48, // H
  Terminate: 0x58, // X
} as const;
