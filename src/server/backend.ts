/**
 * One simulated backend process: the life of a single connection from
 * accept() to exit, in PostgreSQL's order (BackendInitialize →
 * ProcessStartupPacket → InitProcess → PerformAuthentication → InitPostgres →
 * PostgresMain).
 */
import type { Duplex } from 'node:stream';
import * as tls from 'node:tls';
import { match } from 'ts-pattern';
import { PgError, type PgErrorFields } from '../errors.js';
import type { EventBody, ServerEvent } from '../events.js';
import { newPort, type MutablePort } from '../port.js';
import { MessageReader } from '../wire/reader.js';
import { encodeBackend, toErrorResponse, toLegacyErrorResponse } from '../wire/codec.js';
import type { BackendMessage } from '../wire/messages.js';
import { ProcExit } from './exits.js';
import type { ServerContext } from './context.js';
import { processStartupPacket } from '../startup/process-startup-packet.js';
import { performAuthentication } from '../auth/client-authentication.js';
import { initPostgres } from '../session/init-postgres.js';
import { postgresMain } from '../session/postgres-main.js';
import type { Session } from '../session/session.js';
import { tlsServerEndPointHash } from '../auth/scram.js';
import { currentBackend } from './current.js';
import { withPrefix } from './prefixed-stream.js';

/** Which of PostgreSQL's two authentication_timeout windows is running. */
type TimerPhase = 'startup' | 'authentication';

export type BackendPhase =
  | { name: 'startup' }
  | { name: 'authentication' }
  | { name: 'session' }
  | { name: 'exited' };

export class Backend {
  readonly pid: number;
  /** The cancel key; 18 makes it 32 bytes for clients that speak protocol 3.2. */
  cancelKey: Buffer;
  readonly port: MutablePort;
  readonly reader: MessageReader;
  phase: BackendPhase = { name: 'startup' };
  /** Protocol version the client asked for; errors are formatted for it (FrontendProtocol). */
  frontendProtocol = { major: 3, minor: 0 };
  /** Output to the client is switched off once authentication times out (whereToSendOutput = DestNone). */
  outputToClient = true;
  /** Holds a PGPROC slot (counts against max_connections). */
  holdsProc = false;
  sessionStart: number;
  tlsSocket: tls.TLSSocket | null = null;
  /** The session (its GUCs, transaction, statements) once InitPostgres has applied the startup packet. */
  session: Session | null = null;
  /** Set while the authentication timer is armed; hooks sleep against it. */
  interrupt: AbortSignal | null = null;

  private stream: Duplex;
  private pending: Buffer[] = [];
  private timer: { cancel(): void } | null = null;
  private timerAbort: AbortController | null = null;
  private closed = false;

  constructor(
    readonly ctx: ServerContext,
    readonly id: number,
    private readonly raw: Duplex,
    remoteHost: string,
    remotePort: number | null,
  ) {
    this.pid = ctx.allocatePid();
    this.cancelKey = ctx.random.bytes(4);
    this.port = newPort(this.pid, remoteHost, remotePort === null ? '' : String(remotePort));
    this.stream = raw;
    this.reader = new MessageReader(raw);
    this.sessionStart = ctx.clock.now();
    // A socket error surfaces as EOF on our reads; keep it from becoming an unhandled 'error'.
    raw.on('error', () => {});
  }

  get settings() { return this.ctx.settings; }

  emit(body: EventBody): ServerEvent {
    return this.ctx.emit(body, this);
  }

  log(severity: 'LOG' | 'WARNING' | 'DEBUG1' | 'DEBUG2', message: string, extra: { detail?: string; hint?: string; sqlstate?: string } = {}): void {
    this.emit({ type: 'log', severity, message, ...extra });
  }

  /** ereport(COMMERROR): logged, never sent; the connection is then dropped. */
  commError(message: string, extra: { detail?: string; hint?: string } = {}): ProcExit {
    this.emit({ type: 'error', error: { severity: 'LOG', sqlstate: '08P01', message, ...extra }, toClient: false, toLog: true });
    return new ProcExit('comm-error', message);
  }

  run(): Promise<void> {
    return currentBackend.run(this, () => this.lifecycle());
  }

  private async lifecycle(): Promise<void> {
    try {
      this.emit({ type: 'connection-received', remoteHost: this.port.remote_host, remotePort: this.port.remote_port === '' ? null : Number(this.port.remote_port) });
      this.armTimer('startup');
      await processStartupPacket(this);
      this.disarmTimer();
      this.initProcess();
      this.phase = { name: 'authentication' };
      this.armTimer('authentication');
      await performAuthentication(this);
      this.disarmTimer();
      this.phase = { name: 'session' };
      await initPostgres(this);
      await postgresMain(this, this.session!);
    } catch (err) {
      await this.handleExit(err);
    } finally {
      this.cleanup();
    }
  }

  /** InitProcess(): no free PGPROC means too many clients, before any authentication. */
  private initProcess(): void {
    if (this.ctx.procCount() >= this.settings.maxConnections) {
      throw new PgError({ severity: 'FATAL', sqlstate: '53300', message: 'sorry, too many clients already', file: 'proc.c', line: 357, routine: 'InitProcess' });
    }
    this.holdsProc = true;
  }

  // ---- timers -------------------------------------------------------------

  private armTimer(phase: TimerPhase): void {
    this.disarmTimer();
    const ac = new AbortController();
    this.timerAbort = ac;
    this.interrupt = phase === 'authentication' ? ac.signal : null;
    this.timer = this.ctx.clock.setTimer(this.settings.authenticationTimeoutMs, () => ac.abort(phase));
  }

  private disarmTimer(): void {
    this.timer?.cancel();
    this.timer = null;
    this.timerAbort = null;
    this.interrupt = null;
  }

  /** The timeout as PostgreSQL would raise it at the next CHECK_FOR_INTERRUPTS, or null. */
  pendingTimeout(): TimerPhase | null {
    const ac = this.timerAbort;
    return ac?.signal.aborted ? (ac.signal.reason as TimerPhase) : null;
  }

  /** CHECK_FOR_INTERRUPTS(): raise the authentication timeout if it fired. */
  checkForInterrupts(): void {
    const fired = this.pendingTimeout();
    if (fired) throw this.timeoutError(fired);
  }

  private timeoutError(phase: TimerPhase): Error {
    return match(phase)
      // Startup-packet timeout: the backend just _exit(1)s, nothing logged.
      .with('startup', () => new ProcExit('timeout'))
      .with('authentication', () => {
        this.outputToClient = false;
        return new PgError({ severity: 'FATAL', sqlstate: '57014', message: 'canceling authentication due to timeout', file: 'postgres.c', routine: 'ProcessInterrupts' });
      })
      .exhaustive();
  }

  /** Await a read while the timer may fire, as a blocking recv() interrupted by SIGALRM would. */
  async interruptible<T>(p: Promise<T>): Promise<T> {
    const ac = this.timerAbort;
    if (!ac) return p;
    if (ac.signal.aborted) throw this.timeoutError(ac.signal.reason as TimerPhase);
    return new Promise<T>((resolve, reject) => {
      const onAbort = () => reject(this.timeoutError(ac.signal.reason as TimerPhase));
      ac.signal.addEventListener('abort', onAbort, { once: true });
      p.then(
        (v) => { ac.signal.removeEventListener('abort', onAbort); resolve(v); },
        (e) => { ac.signal.removeEventListener('abort', onAbort); reject(e); },
      );
    });
  }

  // ---- output -------------------------------------------------------------

  /** Queue a message (pq_putmessage); it goes out with the next flush. */
  send(msg: BackendMessage): void {
    this.pending.push(encodeBackend(msg));
  }


  flush(): void {
    if (this.pending.length === 0) return;
    const data = Buffer.concat(this.pending);
    this.pending = [];
    if (!this.outputToClient || this.closed || this.stream.destroyed || this.stream.writableEnded) return;
    this.stream.write(data);
  }

  /** sendAuthRequest(): everything but AuthenticationOk and SASLFinal is flushed at once. */
  sendAuthRequest(msg: BackendMessage): void {
    this.send(msg);
    this.emit({ type: 'auth-request', request: msg.type });
    if (msg.type !== 'AuthenticationOk' && msg.type !== 'AuthenticationSASLFinal') this.flush();
  }

  /** ereport(COMMERROR) that does not end the function: pq_getmessage's complaints. */
  logCommError(message: string): void {
    this.emit({ type: 'error', error: { severity: 'LOG', sqlstate: '08P01', message }, toClient: false, toLog: true });
  }

  /** set_authn_id(): remember who the client proved to be; log_connections reports it. */
  setAuthnId(id: string): void {
    this.port.authn_id = id;
    this.emit({ type: 'authenticated', identity: id, method: this.port.hba?.auth_method ?? '', hbaFile: this.port.hba?.source_file ?? this.settings.hbaPath, lineNumber: this.port.hba?.line_number ?? 0 });
  }

  /** tls-server-end-point channel binding data: hash of our certificate. */
  tlsServerEndPoint(): Buffer | undefined {
    const cert = this.tlsSocket?.getX509Certificate?.();
    return cert ? tlsServerEndPointHash(cert.raw) : undefined;
  }

  // ---- TLS ----------------------------------------------------------------

  /**
   * Upgrade the accepted socket to TLS (secure_open_server). Returns the bytes
   * that were already buffered in plaintext, which the caller must reject.
   */
  async openTls(opts: { direct?: boolean } = {}): Promise<Buffer> {
    const tlsConf = this.settings.tls;
    if (!tlsConf) throw new Error('openTls without TLS material');
    const major = this.settings.serverMajor;
    const leftover = this.reader.detach();
    // 17+ hands bytes it already read to OpenSSL: the ClientHello of a direct SSL
    // connection, or plaintext pipelined after an SSLRequest (which then fails the handshake).
    const feedLeftover = opts.direct === true || (major >= 17 && leftover.length > 0);
    const transport = feedLeftover ? withPrefix(leftover, this.raw) : this.raw;
    // A bare TLSSocket never finds out whether the client certificate verified
    // (node only sets `authorized` for sockets a tls.Server accepted), so hand
    // the socket to a one-connection tls.Server that never listens.
    const acceptor = tls.createServer({
      cert: tlsConf.cert, key: tlsConf.key, ...(tlsConf.ca ? { ca: tlsConf.ca } : {}),
      minVersion: tlsConf.minVersion, ...(tlsConf.maxVersion ? { maxVersion: tlsConf.maxVersion } : {}),
      // PostgreSQL asks for a client certificate only when ssl_ca_file is set.
      requestCert: tlsConf.ca !== null,
      rejectUnauthorized: false,
      // No handshake deadline of its own: authentication_timeout covers the handshake.
      handshakeTimeout: 0,
      // 17+ accepts only the "postgresql" ALPN protocol (a client offering others gets no_application_protocol).
      ...(major >= 17 ? { ALPNCallback: ({ protocols }: { protocols: string[] }) => (protocols.includes('postgresql') ? 'postgresql' : undefined) } : {}),
    });
    type Outcome = { ok: true; socket: tls.TLSSocket } | { ok: false; reason: string };
    // A stream that is not a net.Socket (the in-memory transport) reports a hang-up only as 'end'/'close'.
    let hangUp = (): void => {};
    const handshake = new Promise<Outcome>((resolve) => {
      acceptor.once('secureConnection', (s: tls.TLSSocket) => resolve({ ok: true, socket: s }));
      acceptor.once('tlsClientError', (e: Error & { reason?: string; code?: string; syscall?: string }) => resolve({ ok: false, reason: opensslReason(e) }));
      hangUp = () => resolve({ ok: false, reason: 'EOF detected' });
      this.raw.once('end', hangUp);
      this.raw.once('close', hangUp);
    }).finally(() => { this.raw.off('end', hangUp); this.raw.off('close', hangUp); });
    acceptor.emit('connection', transport);
    const outcome = await this.interruptible(handshake);
    if (!outcome.ok) {
      const failure = this.tlsFailure(outcome.reason);
      if (feedLeftover && !opts.direct) this.logCommError('buffered unencrypted data remains after negotiating SSL connection');
      throw failure;
    }
    const socket = outcome.socket;
    socket.on('error', () => {});
    this.tlsSocket = socket;
    // A certificate that was presented but does not verify fails the handshake in PostgreSQL (SSL_VERIFY_PEER).
    const peer = socket.getPeerX509Certificate?.();
    if (peer && !socket.authorized) {
      throw this.tlsFailure('certificate verify failed');
    }
    if (opts.direct && !socket.alpnProtocol) {
      throw this.commError('received direct SSL connection request without ALPN protocol negotiation extension');
    }
    this.stream = socket;
    this.reader.attach(socket);
    const cipher = socket.getCipher();
    const protocol = socket.getProtocol() ?? 'unknown';
    this.port.ssl_in_use = true;
    this.port.ssl_protocol = protocol;
    // PostgreSQL logs OpenSSL's cipher names (SSL_get_cipher), not the IANA ones.
    this.port.ssl_cipher = cipher.name;
    if (peer) {
      const dn = rfc2253(peer.subject);
      const cn = /^CN=(.*)$/m.exec(peer.subject)?.[1] ?? null;
      this.port.peer_dn = dn;
      this.port.peer_cn = cn;
      this.port.peer_cert_valid = socket.authorized;
    }
    this.emit({
      type: 'tls-established',
      protocol,
      cipher: this.port.ssl_cipher,
      bits: cipherBits(this.port.ssl_cipher),
      peerCertificate: peer ? { subject: this.port.peer_dn ?? '', cn: this.port.peer_cn, verified: socket.authorized } : null,
    });
    return feedLeftover ? Buffer.alloc(0) : leftover;
  }

  private tlsFailure(reason: string): ProcExit {
    const versionProblem = /wrong version number|unsupported protocol|version too low|version too high|no protocols available/i.test(reason);
    const hint = versionProblem
      ? `This may indicate that the client does not support any SSL protocol version between ${this.settings.tls?.minVersion ?? 'TLSv1.2'} and ${this.settings.tls?.maxVersion ?? 'TLSv1.3'}.`
      : undefined;
    return this.commError(`could not accept SSL connection: ${reason}`, hint ? { hint } : {});
  }

  /** bits of the negotiated symmetric cipher, as SSL_get_cipher_bits reports. */
  tlsBits(): number {
    return cipherBits(this.port.ssl_cipher ?? '');
  }

  // ---- exit ---------------------------------------------------------------

  private async handleExit(err: unknown): Promise<void> {
    if (err instanceof ProcExit) {
      this.closeReason = match(err.reason)
        .with('terminate', 'timeout', 'eof', 'shutdown', (r) => r)
        .with('comm-error', 'socket-error', () => 'socket-error' as const)
        .exhaustive();
      return;
    }
    // Outside the command loop there is no error recovery, so errstart() promotes ERROR to FATAL.
    const fields: PgErrorFields = err instanceof PgError
      ? { ...err.fields, severity: err.severity === 'ERROR' ? 'FATAL' : err.severity }
      : { severity: 'FATAL', sqlstate: 'XX000', message: err instanceof Error ? err.message : String(err) };
    this.sendFatal(fields);
    this.closeReason = 'fatal';
  }

  /** ereport(FATAL): log it, send it (unless output is off), and let the caller close. */
  sendFatal(fields: PgErrorFields): void {
    const toClient = this.outputToClient && fields.severity !== 'LOG';
    this.emit({ type: 'error', error: fields, toClient, toLog: true });
    if (!toClient) return;
    // Pre-3.0 clients get the old unframed format.
    this.send(this.frontendProtocol.major < 3 ? toLegacyErrorResponse(fields) : toErrorResponse(fields));
    this.flush();
  }

  private closeReason: 'terminate' | 'eof' | 'fatal' | 'timeout' | 'shutdown' | 'socket-error' = 'eof';

  /** Close the connection from the server side (Ctrl-C / server stop). */
  terminate(): void {
    this.closeReason = 'shutdown';
    this.raw.destroy();
  }

  private cleanup(): void {
    if (this.closed) return;
    this.disarmTimer();
    this.flush();
    this.closed = true;
    this.phase = { name: 'exited' };
    this.holdsProc = false;
    this.reader.close();
    // Let the last message (and TLS close_notify) drain before the socket goes; a peer
    // that never lets it drain gets dropped anyway after a moment.
    const s = this.stream;
    const raw = this.raw;
    const drop = () => { clearTimeout(fallback); s.destroy(); raw.destroy(); };
    const fallback = setTimeout(drop, 1000);
    fallback.unref();
    if (s.destroyed || s.writableEnded) setImmediate(drop);
    else s.end(() => setImmediate(drop));
    s.once('close', () => setImmediate(drop));
    if (this.session) {
      this.emit({ type: 'session-ended', user: this.port.user_name, database: this.port.database_name, sessionMs: this.ctx.clock.now() - this.sessionStart });
    }
    this.emit({ type: 'connection-closed', reason: this.closeReason });
    this.ctx.backendExited(this);
  }
}

/** The text after `could not accept SSL connection: `: OpenSSL's reason, `EOF detected`, or strerror(errno). */
function opensslReason(e: Error & { reason?: string; code?: string; syscall?: string }): string {
  if (e.reason) return e.reason;
  // node reports a peer that closed mid-handshake as a "socket hang up" with code ECONNRESET but no syscall.
  if (/socket hang up|EOF/i.test(e.message) || (e.code === 'ECONNRESET' && !e.syscall)) return 'EOF detected';
  const strerror = e.code ? SYSCALL_ERRORS[e.code] : undefined;
  return strerror ?? e.message;
}

/** glibc's strerror() for the errors a recv()/send() during the handshake can give. */
const SYSCALL_ERRORS: Record<string, string> = {
  ECONNRESET: 'Connection reset by peer',
  EPIPE: 'Broken pipe',
  ETIMEDOUT: 'Connection timed out',
};

/** X509_NAME_print_ex with XN_FLAG_RFC2253: most specific RDN first, comma separated. */
function rfc2253(subject: string): string {
  return subject.split('\n').filter(Boolean).reverse().join(',');
}

function cipherBits(name: string): number {
  if (/CHACHA20|AES_256|AES256/i.test(name)) return 256;
  if (/AES_128|AES128/i.test(name)) return 128;
  return 0;
}
