/**
 * Everything observable about a connection is an event. Logs, assertions,
 * tables and diagrams are views over this stream.
 */
import type { PgErrorFields } from './errors.js';
import type { HookSlotName } from './hooks/hook.js';
import type { LogRecord } from './log/format.js';

export type StatusName = 'OK' | 'ERROR' | 'EOF';

/** Severities of reports below ERROR. */
export type LogEventSeverity = 'LOG' | 'WARNING' | 'NOTICE' | 'INFO' | 'DEBUG1' | 'DEBUG2' | 'DEBUG3' | 'DEBUG4' | 'DEBUG5';

export type EventBody =
  | { type: 'server-started'; addresses: string[] }
  | { type: 'server-stopped' }
  | { type: 'connection-received'; remoteHost: string; remotePort: number | null }
  | { type: 'ssl-request'; answer: 'S' | 'N' }
  | { type: 'gssenc-request'; answer: 'G' | 'N' }
  /** 17+: TLS started without an SSLRequest (first byte 0x16, ALPN "postgresql"). */
  | { type: 'direct-ssl' }
  | { type: 'tls-established'; protocol: string; cipher: string; bits: number; peerCertificate: { subject: string; cn: string | null; verified: boolean } | null }
  | { type: 'cancel-request'; targetPid: number; result: 'signalled' | 'wrong-key' | 'no-such-process' }
  /**
   * The StartupMessage. `user`, `database` (clipped to NAMEDATALEN-1 bytes) and `options` are the
   * client's bytes as strings (src/bytes.ts: equal strings iff equal bytes); `rawParams` holds
   * every name/value pair exactly as sent, in order.
   */
  | { type: 'startup-packet'; protocol: string; user: string; database: string; options: Record<string, string>; rawParams: Array<[name: Buffer, value: Buffer]> }
  | { type: 'protocol-negotiated'; newestMinor: number; unrecognizedOptions: string[] }
  | { type: 'hba-matched'; lineNumber: number; rawLine: string; method: string }
  | { type: 'hba-no-match' }
  | { type: 'auth-request'; request: string }
  | { type: 'auth-response'; message: string }
  /** `connection authenticated`: an identity from set_authn_id(), or (17+, `form: 'user'`) the user of a method that set none. */
  | { type: 'authenticated'; identity: string; method: string; hbaFile: string; lineNumber: number; form?: 'identity' | 'user' }
  | { type: 'hook-invoked'; hook: string; status: StatusName; sslInUse: boolean }
  | { type: 'hook-returned'; hook: string }
  /** Another hook slot (check_password_hook, shmem_*_hook) was entered, with what it was told. */
  | { type: 'hook-entered'; slot: HookSlotName; hook: string; args: Record<string, string | number | boolean | null> }
  | { type: 'hook-left'; slot: HookSlotName; hook: string; outcome: 'returned' | 'error' }
  /** A callback registered with before_shmem_exit/on_shmem_exit/on_proc_exit ran (LIFO per list). */
  | { type: 'exit-callback'; list: 'before_shmem_exit' | 'on_shmem_exit' | 'on_proc_exit'; extension: string }
  /** The postmaster re-read its configuration (SIGHUP, pg_reload_conf(), cluster.reload()). */
  | { type: 'reload'; trigger: 'sighup' | 'pg_reload_conf' | 'api'; hbaReloaded: boolean }
  | { type: 'auth-outcome'; status: StatusName; method: string }
  /** PerformAuthentication finished: the `connection authorized` log line. Post-auth checks may still fail. */
  | { type: 'connection-authorized'; user: string; database: string; applicationName: string | null; ssl: { protocol: string; cipher: string; bits: number } | null }
  /** ParameterStatus, BackendKeyData and the first ReadyForQuery went out. */
  | { type: 'session-started'; user: string; database: string }
  /** A Query message, or the Parse of an extended-protocol statement (`statement` names it). */
  | { type: 'query'; sql: string; protocol?: 'simple' | 'extended'; statement?: string }
  /**
   * An ereport(): `toClient`/`toLog` say where PostgreSQL would send it. `statement` is the
   * client's query string when log_min_error_statement logs it (the STATEMENT: line).
   */
  | { type: 'error'; error: PgErrorFields; toClient: boolean; toLog: boolean; statement?: string }
  /**
   * A report below ERROR (LOG/WARNING/NOTICE/INFO/DEBUGn). `toLog`/`toClient`, when present,
   * are where log_min_messages and client_min_messages sent it (reports made through the
   * extension error API); without them LOG and WARNING are logged and DEBUG is not.
   */
  | { type: 'log'; severity: LogEventSeverity; message: string; detail?: string; hint?: string; context?: string; sqlstate?: string; toLog?: boolean; toClient?: boolean }
  /** A session that reached ReadyForQuery ended (log_disconnections). */
  | { type: 'session-ended'; user: string; database: string; sessionMs: number }
  | { type: 'connection-closed'; reason: 'terminate' | 'eof' | 'fatal' | 'timeout' | 'shutdown' | 'socket-error' }
  /**
   * Bytes as they crossed the connection, only while the server captures the wire
   * (`PgServer.captureWire`): `layer: 'tcp'` is what a packet capture sees (TLS records
   * included), `layer: 'tls'` the plaintext inside TLS. `from` says who sent them.
   */
  | { type: 'wire'; from: 'client' | 'server'; layer: 'tcp' | 'tls'; data: Buffer }
  /**
   * How one direction of the TCP connection ended, only while the server captures the wire:
   * `from` is the side that closed, `how` is `fin` (it ended its writing; the other side may
   * still send) or `rst` (the connection was reset: by the client, or by the server exiting
   * with unread input). One event per side at most; their order (seq) says who closed first.
   * A side that closes after the server has let go of the socket (the client's answering FIN
   * once the backend has exited) is not seen: a capture writer adds it when it turns these
   * into the FIN/ACK or RST segments of the teardown.
   */
  | { type: 'wire-close'; from: 'client' | 'server'; how: 'fin' | 'rst' }
  /** One NSS key log line (SSLKEYLOGFILE format) of this connection's TLS, only while the server captures the wire. */
  | { type: 'tls-keylog'; line: string };

export type EventType = EventBody['type'];

export interface EventEnvelope {
  /** Order across the whole server. */
  seq: number;
  /** Clock time in ms since the epoch. */
  time: number;
  /** Simulated backend PID, or the postmaster's for server-level events. */
  pid: number;
  /** Connection number, 0 for server-level events. */
  connection: number;
  /** Who we are talking to, for log_line_prefix. */
  user?: string;
  database?: string;
  remoteHost?: string;
  remotePort?: number | null;
  applicationName?: string;
  sessionStart?: number;
  /**
   * Set only while an emit_log_hook is installed: the log records this event writes after the
   * hook saw them (records it hid with output_to_server = false are left out, changed text is
   * kept), and which hook hid what. The server log view prints `logRecords` instead of working
   * them out again.
   */
  logRecords?: LogRecord[];
  hiddenBy?: Array<{ hook: string; message: string }>;
}

export type ServerEvent = EventEnvelope & EventBody;
export type EventOf<T extends EventType> = EventEnvelope & Extract<EventBody, { type: T }>;

export type EventListener = (e: ServerEvent) => void;
