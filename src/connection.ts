/**
 * The handle every step of a backend works through: what PostgreSQL's
 * `Port *` plus pqcomm.c, be-secure.c and the interrupt machinery are to a
 * backend process. ProcessStartupPacket, ClientAuthentication and its
 * methods, InitPostgres and PostgresMain take a ClientConnection (by
 * convention named `be`), never the Backend that runs them; they read
 * through it, write through it, and wait through it, so buffering, timeouts,
 * half-close and output rules live behind it in one place
 * (src/server/backend-connection.ts), and a step can be driven in a spec by a
 * scripted handle without sockets or a process object.
 *
 * This file only declares types and imports only types from modules that do
 * not import the steps, so the steps and the server no longer form a cycle.
 */
import type { Clock } from './clock.js';
import type { Random } from './random.js';
import type { EventBody, ServerEvent } from './events.js';
import type { MutablePort, Port } from './port.js';
import type { ServerSettings } from './server/settings.js';
import type { HbaLine } from './hba/index.js';
import type { RoleCatalog } from './roles/index.js';
import type { ClientAuthenticationHook } from './hooks/hook.js';
import type { BackendMessage, ProtocolVersion } from './wire/messages.js';
import type { MessageBodyRead, MessageRead, StartupRead } from './wire/reader.js';
import type { ProcExit } from './server/exits.js';
import type { SessionGucs } from './session/gucs.js';
import type { SqlRegistry } from './sql/registry.js';
import type { GucRegistry } from './config/guc.js';

export type BackendPhase =
  | { name: 'startup' }
  | { name: 'authentication' }
  | { name: 'session' }
  | { name: 'exited' };

/** What one backend may see of another (PGPROC and the postmaster's backend list). */
export interface BackendView {
  readonly pid: number;
  readonly cancelKey: Buffer;
  readonly phase: BackendPhase;
  readonly port: Readonly<MutablePort>;
}

/** Shared memory and the postmaster's configuration, as far as a step may look. */
export interface SharedState {
  readonly settings: ServerSettings;
  readonly clock: Clock;
  readonly random: Random;
  readonly hba: readonly HbaLine[];
  readonly roles: RoleCatalog;
  /** Functions, views and utility statements the session's SQL can reach (built-ins and extensions'). */
  readonly sql: SqlRegistry;
  /** The postmaster's parameters; each session starts from a copy of them. */
  readonly gucs: GucRegistry;
  /** The installed ClientAuthentication_hook (top of the chain), if any. */
  clientAuthenticationHook(): ClientAuthenticationHook | null;
  /** Live backends: cancel requests and per-role / per-database limits look here. */
  backends(): readonly BackendView[];
  /** Backends holding a PGPROC slot (counted against max_connections). */
  procCount(): number;
}

export type LogSeverity = 'LOG' | 'WARNING' | 'DEBUG1' | 'DEBUG2';

export interface ClientConnection {
  // ---- Port and MyProcPid ---------------------------------------------------
  readonly pid: number;
  /** The Port: remote address, startup parameters, TLS state, hba line, authn_id. */
  readonly port: MutablePort;
  readonly ctx: SharedState;
  readonly settings: ServerSettings;
  /** The cancel key handed out in BackendKeyData; 18 makes it 32 bytes for protocol 3.2 clients. */
  cancelKey: Buffer;
  /** FrontendProtocol: the version the client asked for; errors are formatted for it. */
  frontendProtocol: ProtocolVersion;
  /** The session's GUCs once InitPostgres has applied the startup packet (%a reads application_name). */
  session: SessionGucs | null;
  /** ReadyForQuery's status: idle, in a transaction block, or in a failed one. */
  transactionStatus: 'I' | 'T' | 'E';
  /** whereToSendOutput: false once authentication timed out (DestNone). */
  readonly outputToClient: boolean;

  // ---- pqcomm: receiving ----------------------------------------------------
  // Every read waits as a blocking recv() would: an interrupt (authentication_timeout,
  // shutdown) ends the wait with the error PostgreSQL would raise at that point.
  /** The framing half of ProcessStartupPacket (length word, bounds, body). */
  readStartupPacket(): Promise<StartupRead>;
  /** pq_peekbyte(). */
  peekByte(): Promise<number | null>;
  /** pq_getbyte() for a message type byte. */
  readMessageType(): Promise<number | null>;
  /** pq_getmessage() after the type byte: length word (checked against maxLength first), then body. */
  readMessageBody(maxLength: number): Promise<MessageBodyRead>;
  /** Type byte and message together (PostgresMain's ReadCommand). */
  readMessage(maxLength: number): Promise<MessageRead>;
  /** pq_buffer_has_data(): bytes received and not yet consumed. */
  bufferedLength(): number;

  // ---- pqcomm: sending ------------------------------------------------------
  /** pq_putmessage(): queued until the next flush. */
  send(msg: BackendMessage): void;
  /** pq_flush(). */
  flush(): void;
  /** sendAuthRequest(): everything but AuthenticationOk and SASLFinal is flushed at once. */
  sendAuthRequest(msg: BackendMessage): void;

  // ---- be-secure ------------------------------------------------------------
  /**
   * secure_open_server(): run the TLS handshake on the connection. Returns the
   * plaintext bytes that were already buffered before it (the caller must
   * reject them: CVE-2021-23214). `direct`: 17+'s direct SSL, no SSLRequest.
   */
  openTls(opts?: { direct?: boolean }): Promise<Buffer>;
  /** tls-server-end-point channel binding data: hash of our certificate. */
  tlsServerEndPoint(): Buffer | undefined;
  /** Bits of the negotiated symmetric cipher, as SSL_get_cipher_bits reports. */
  tlsBits(): number;

  // ---- interrupts -----------------------------------------------------------
  /** CHECK_FOR_INTERRUPTS(): raise a pending interrupt (authentication_timeout, shutdown). */
  checkForInterrupts(): void;
  /** Wait for `p` the way a backend waits in C code: a pending interrupt ends the wait with its error. */
  interruptible<T>(p: Promise<T>): Promise<T>;
  /** Aborted once an interrupt is pending; pg_usleep returns early on it. */
  readonly interrupt: AbortSignal | null;

  // ---- reporting ------------------------------------------------------------
  emit(body: EventBody): ServerEvent;
  log(severity: LogSeverity, message: string, extra?: { detail?: string; hint?: string; sqlstate?: string }): void;
  /** ereport(COMMERROR) that ends the connection: logged, never sent; throw the result. */
  commError(message: string, extra?: { detail?: string; hint?: string }): ProcExit;
  /** ereport(COMMERROR) that does not end the function: pq_getmessage's complaints. */
  logCommError(message: string): void;
  /** set_authn_id(): remember who the client proved to be; log_connections reports it. */
  setAuthnId(id: string): void;
}
