/**
 * What a client model tells about itself while it connects: every fork in its
 * connection logic, with the reason and where that rule lives in the real
 * driver's source. Views (explain, diagrams, the web explorer) interleave these
 * with the server's events by clock time.
 *
 * Contract between the client engine (src/clients) and the views (src/explain, src/web).
 */

/** Where a rule lives in the real driver: file, function, and line in the version the model follows. */
export interface SourceRef {
  /** e.g. 'src/interfaces/libpq/fe-connect.c' or 'pgconn/config.go'. */
  file: string;
  function?: string;
  line?: number;
  /** The release the line number belongs to, e.g. 'libpq 15.20', 'pgx v4.18.1'. */
  version: string;
}

export type ClientDecision =
  /** Open a TCP connection (first, or another host/address). */
  | 'connect'
  /** Send SSLRequest (or GSSENCRequest) before the startup packet. */
  | 'request-ssl'
  | 'request-gssenc'
  /** Start TLS at once (sslnegotiation=direct). */
  | 'direct-ssl'
  /** The server accepted the SSLRequest ('S'): run the TLS handshake on this connection. */
  | 'start-tls'
  /** Send the StartupMessage (over TLS, or in plaintext when the settings allow or ask for that). */
  | 'send-startup'
  /** Go on in plaintext on the same connection (e.g. SSLRequest answered N under prefer). */
  | 'continue-plaintext'
  /** Refuse to go on (e.g. N under require). */
  | 'give-up'
  /** Drop this connection and open a new one to the same server with other encryption (prefer/allow retry). */
  | 'retry-new-connection'
  /** Move to the next host or address. */
  | 'next-host'
  /** Hang up deliberately (no password to send, psql then prompts). */
  | 'hang-up'
  /** Ask the user for a password (psql) and reconnect. */
  | 'prompt-password'
  /** Choose an authentication mechanism or response (SCRAM-SHA-256-PLUS vs SCRAM-SHA-256, cleartext, md5). */
  | 'auth-response'
  /** Connection established and accepted. */
  | 'done';

export interface ClientTraceEvent {
  type: 'client-decision';
  /** Clock time in ms (the same clock the server uses in-process). */
  time: number;
  /** Which driver model: 'psql', 'pg', 'pgjdbc', ... */
  client: string;
  /** 1-based TCP connection number within this connect() call. */
  attempt: number;
  decision: ClientDecision;
  /** One sentence a learner can follow: why the driver did this, in terms of what it saw and its settings. */
  reason: string;
  source: SourceRef;
  /**
   * A stable name for the rule applied (e.g. 'libpq.server-error.retry-without-ssl'), so tools
   * can compare two runs (`explain --compare`) without comparing sentences.
   */
  rule?: string;
}

export type ClientTraceListener = (e: ClientTraceEvent) => void;
