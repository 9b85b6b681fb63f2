/**
 * What every driver model returns and needs. A model is a state machine that talks to a
 * server exactly as one driver's connect() does (same packets, same retry decisions, same
 * client-side refusals), so the server side can count TCP connections and
 * ClientAuthentication_hook calls per driver without the driver installed.
 */
import type { Clock } from '../../clock.js';
import type { Random } from '../../random.js';
import type { ClientTransport } from '../libpq/transport.js';
import type { ClientTraceListener } from '../trace.js';

export type { ClientTransport } from '../libpq/transport.js';

export type Encryption = 'ssl' | 'plain';

export type AttemptOutcome =
  /** AuthenticationOk, then ReadyForQuery. */
  | 'authenticated'
  /** An ErrorResponse from the server (the attempt's `sqlstate`/`message`). */
  | 'server-error'
  /** The server answered 'N' to SSLRequest and the driver would not go on in plaintext. */
  | 'ssl-refused'
  /** The server answered SSLRequest with something other than 'S' or 'N' (an 'E' error). */
  | 'ssl-error-response'
  /** The TLS handshake failed (certificate verification included). */
  | 'tls-failed'
  /** The driver gave up by itself mid-exchange and closed the socket (pgjdbc without a password). */
  | 'client-hangup'
  /** The driver gave up by itself but left the socket open (node-postgres without a password). */
  | 'client-error-open'
  /** The server closed the socket without an ErrorResponse. */
  | 'closed'
  /** The TCP connect itself failed: the server never saw this attempt. */
  | 'connect-failed';

/** One TCP connection the driver opened. */
export interface DriverAttempt {
  /** What the connection used, or was trying to set up when it ended ('ssl' once SSLRequest was answered 'S' or TLS was attempted). */
  encryption: Encryption;
  /** Whether an SSLRequest went out on this connection. */
  sslRequested: boolean;
  outcome: AttemptOutcome;
  /** SQLSTATE of a server error. */
  sqlstate?: string;
  /** The server's message, or the driver's own text for a client-side failure. */
  message?: string;
}

export interface DriverError {
  /** The driver's own error text, as its exception or Error would carry it. */
  message: string;
  /** SQLSTATE for server errors (and pgjdbc's own PSQLState); Node's error code for socket/TLS errors. */
  code?: string;
  /** The error's class where the driver has one (DatabaseError, PostgresError, PSQLException, InvalidPasswordError, ...). */
  name?: string;
}

export interface DriverResult {
  /** Profile name (see DRIVER_PROFILES). */
  driver: string;
  ok: boolean;
  attempts: DriverAttempt[];
  error?: DriverError;
  /**
   * node-postgres only: connect() rejected but the socket is still open, and the model was
   * asked to leave it so (`afterRejection: 'keep-open'`). The server waits for the client
   * until authentication_timeout unless you end() or destroy() it.
   */
  openSocket?: { end(): Promise<void>; destroy(): void };
}

/** Reading a file a driver would read (sslrootcert, sslcert, sslkey, ~/.postgresql/root.crt). */
export type ReadFile = (path: string) => Buffer | null;

export interface DriverEnv {
  transport: ClientTransport;
  /** Nonces; CryptoRandom unless given. */
  random?: Random;
  /** The process environment the driver sees (PGSSLMODE, PGPASSWORD, PGSSL, ...). Default: empty, not process.env. */
  environ?: Readonly<Record<string, string | undefined>>;
  /** For ~/.postgresql/root.crt (asyncpg). Default: none. */
  homeDir?: string | null;
  /** Default: node:fs, null when missing. */
  readFile?: ReadFile;
  /** Time stamps of trace events (the server's clock in-process). Default: real time. */
  clock?: Clock;
  /**
   * Told every decision the driver takes (open a connection, ask for SSL, go on in plaintext,
   * answer an authentication request, retry, give up), with the reason and the line of the
   * driver's own source it follows. `client` is the profile name.
   */
  onTrace?: ClientTraceListener;
}

/** One option of a driver's vocabulary, for `pg-authsim matrix --client NAME`. */
export interface DriverOption {
  name: string;
  /** Accepted values; absent for free text (paths, names). */
  values?: readonly string[];
  /** What the driver does when the option is not given. */
  unset: string;
  description: string;
}

/** The driver-independent part of a connection request. `password: null` means none supplied at all. */
export interface ConnectRequest {
  host: string;
  port: number;
  user: string;
  database: string;
  password: string | null;
  /** Driver options by their vocabulary names (see DriverProfile.options). */
  options?: Readonly<Record<string, string>>;
}

export interface DriverProfile {
  name: string;
  aliases: readonly string[];
  /** The driver release the model follows and was checked against. */
  version: string;
  /** Where its behaviour comes from (driver source files/functions). */
  source: string;
  /** What the driver runs on: 'node' drivers trust NODE_EXTRA_CA_CERTS (from DriverEnv.environ). */
  runtime?: 'node' | 'jvm' | 'python' | 'go';
  options: readonly DriverOption[];
  /**
   * The driver's equivalent of a libpq connection option (sslnegotiation, channel_binding,
   * gssencmode, ...): options in its own vocabulary (none when the default already is the
   * same), or null when it has no equivalent.
   */
  fromLibpq?(keyword: string, value: string): Array<[string, string]> | null;
  connect(request: ConnectRequest, env: DriverEnv): Promise<DriverResult>;
}
