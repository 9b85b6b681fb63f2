/**
 * The ClientConnection of one backend, over a real or in-memory socket: the
 * Port, pqcomm's receive buffer and send queue, secure_open_server, and the
 * interrupts (authentication_timeout) that end a wait. Every decision about
 * reading, writing, waiting and closing the client's socket is made here;
 * the steps only see the ClientConnection interface.
 */
import type { Duplex } from 'node:stream';
import type * as tls from 'node:tls';
import { match } from 'ts-pattern';
import { PgError, type PgErrorFields } from '../errors.js';
import type { EventBody, ServerEvent } from '../events.js';
import { newPort, type MutablePort } from '../port.js';
import type { ClientConnection, LogSeverity } from '../connection.js';
import type { SessionGucs } from '../session/gucs.js';
import { MessageReader, type MessageBodyRead, type MessageRead, type StartupRead } from '../wire/reader.js';
import { encodeBackend, toErrorResponse, toLegacyErrorResponse } from '../wire/codec.js';
import type { BackendMessage, ProtocolVersion } from '../wire/messages.js';
import { tlsServerEndPointHash } from '../auth/scram.js';
import { ProcExit } from './exits.js';
import type { ServerContext } from './context.js';
import { withPrefix } from './prefixed-stream.js';
import { WireTap } from './wire-tap.js';
import { acceptTls, cipherBits, isVersionProblem, rfc2253 } from './secure-open.js';

/** Which of PostgreSQL's two authentication_timeout windows is running. */
export type TimerPhase = 'startup' | 'authentication';

/** strerror() for a recv() that failed. */
const RECV_ERRORS: Record<string, string> = {
  ECONNRESET: 'Connection reset by peer',
  ETIMEDOUT: 'Connection timed out',
  EPIPE: 'Broken pipe',
};

export class BackendConnection implements ClientConnection {
  readonly port: MutablePort;
  cancelKey: Buffer;
  frontendProtocol: ProtocolVersion = { major: 3, minor: 0 };
  session: SessionGucs | null = null;
  transactionStatus: 'I' | 'T' | 'E' = 'I';
  /** Output to the client is switched off once authentication times out (whereToSendOutput = DestNone). */
  outputToClient = true;
  readonly sessionStart: number;
  tlsSocket: tls.TLSSocket | null = null;

  private readonly raw: Duplex;
  private stream: Duplex;
  private readonly reader: MessageReader;
  /** Whether this connection's bytes are reported as `wire` events. */
  private readonly capturing: boolean;
  private pending: Buffer[] = [];
  private timer: { cancel(): void } | null = null;
  private timerAbort: AbortController | null = null;
  private timerPhase: TimerPhase | null = null;
  private closed = false;

  constructor(
    readonly ctx: ServerContext,
    readonly pid: number,
    /** Connection number in the event stream. */
    readonly id: number,
    socket: Duplex,
    remoteHost: string,
    remotePort: number | null,
  ) {
    this.cancelKey = ctx.random.bytes(4);
    this.port = newPort(pid, remoteHost, remotePort === null ? '' : String(remotePort));
    this.sessionStart = ctx.clock.now();
    // A socket error surfaces as EOF on our reads; keep it from becoming an unhandled 'error'.
    socket.on('error', () => {});
    this.capturing = ctx.captureWire;
    this.raw = this.capturing
      ? new WireTap(socket, {
        bytes: (from, data) => this.emit({ type: 'wire', from, layer: 'tcp', data }),
        closed: (from, how) => this.emit({ type: 'wire-close', from, how }),
      })
      : socket;
    this.raw.on('error', () => {});
    this.stream = this.raw;
    this.reader = new MessageReader(this.raw);
  }

  get settings() { return this.ctx.settings; }

  // ---- reporting --------------------------------------------------------------

  emit(body: EventBody): ServerEvent {
    return this.ctx.emit(body, this);
  }

  log(severity: LogSeverity, message: string, extra: { detail?: string; hint?: string; sqlstate?: string } = {}): void {
    this.emit({ type: 'log', severity, message, ...extra });
  }

  commError(message: string, extra: { detail?: string; hint?: string } = {}): ProcExit {
    this.logCommError(message, extra);
    return new ProcExit('comm-error', message);
  }

  logCommError(message: string, extra: { detail?: string; hint?: string } = {}): void {
    this.emit({ type: 'error', error: { severity: 'LOG', sqlstate: '08P01', message, ...extra }, toClient: false, toLog: true });
  }

  setAuthnId(id: string): void {
    this.port.authn_id = id;
    this.emit({ type: 'authenticated', identity: id, method: this.port.hba?.auth_method ?? '', hbaFile: this.port.hba?.source_file ?? this.settings.hbaPath, lineNumber: this.port.hba?.line_number ?? 0 });
  }

  /** ereport(FATAL) at exit: log it, and send it in the client's protocol unless output is off. */
  reportFatal(fields: PgErrorFields): void {
    const toClient = this.outputToClient && fields.severity !== 'LOG';
    this.emit({ type: 'error', error: fields, toClient, toLog: true });
    if (!toClient) return;
    // Pre-3.0 clients get the old unframed format.
    this.send(this.frontendProtocol.major < 3 ? toLegacyErrorResponse(fields) : toErrorResponse(fields));
    this.flush();
  }

  // ---- interrupts -------------------------------------------------------------

  /** Start one of the authentication_timeout windows (startup packet, then authentication). */
  armTimer(phase: TimerPhase): void {
    this.disarmTimer();
    const ac = new AbortController();
    this.timerAbort = ac;
    this.timerPhase = phase;
    this.timer = this.ctx.clock.setTimer(this.settings.authenticationTimeoutMs, () => ac.abort(phase));
  }

  disarmTimer(): void {
    this.timer?.cancel();
    this.timer = null;
    this.timerAbort = null;
    this.timerPhase = null;
  }

  get interrupt(): AbortSignal | null {
    return this.timerPhase === 'authentication' ? this.timerAbort!.signal : null;
  }

  /** The timeout as PostgreSQL would raise it at the next CHECK_FOR_INTERRUPTS, or null. */
  private pendingTimeout(): TimerPhase | null {
    const ac = this.timerAbort;
    return ac?.signal.aborted ? (ac.signal.reason as TimerPhase) : null;
  }

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

  // ---- receiving --------------------------------------------------------------

  async readStartupPacket(): Promise<StartupRead> {
    const read = await this.interruptible(this.reader.readStartupPacket());
    if (read.kind !== 'packet') this.logRecvError();
    return read;
  }

  /**
   * pq_recvbuf(): a recv() that failed rather than reached EOF (a reset: the client went away
   * with our bytes unread) is logged as COMMERROR `could not receive data from client: %m`
   * (errcode_for_socket_access: 08006) before the caller sees EOF. Compared with 15.20 for the
   * startup packet (lib/pq leaves a TLS connection it rejected to the process exit).
   */
  private logRecvError(): void {
    const code = (this.reader.error as (Error & { code?: string }) | null)?.code;
    const text = code ? RECV_ERRORS[code] : undefined;
    if (text) this.emit({ type: 'error', error: { severity: 'LOG', sqlstate: '08006', message: `could not receive data from client: ${text}` }, toClient: false, toLog: true });
  }
  peekByte(): Promise<number | null> { return this.interruptible(this.reader.peekByte()); }
  readMessageType(): Promise<number | null> { return this.interruptible(this.reader.readMessageType()); }
  readMessageBody(maxLength: number): Promise<MessageBodyRead> { return this.interruptible(this.reader.readMessageBody(maxLength)); }
  readMessage(maxLength: number): Promise<MessageRead> { return this.interruptible(this.reader.readMessage(maxLength)); }
  bufferedLength(): number { return this.reader.bufferedLength(); }

  // ---- sending ----------------------------------------------------------------

  send(msg: BackendMessage): void {
    this.pending.push(encodeBackend(msg));
  }

  flush(): void {
    if (this.pending.length === 0) return;
    const data = Buffer.concat(this.pending);
    this.pending = [];
    if (!this.outputToClient || this.closed || this.stream.destroyed || this.stream.writableEnded) return;
    if (this.capturing && this.tlsSocket) this.emit({ type: 'wire', from: 'server', layer: 'tls', data });
    this.stream.write(data);
  }

  sendAuthRequest(msg: BackendMessage): void {
    this.send(msg);
    this.emit({ type: 'auth-request', request: msg.type });
    if (msg.type !== 'AuthenticationOk' && msg.type !== 'AuthenticationSASLFinal') this.flush();
  }

  // ---- TLS --------------------------------------------------------------------

  tlsServerEndPoint(): Buffer | undefined {
    const cert = this.tlsSocket?.getX509Certificate?.();
    return cert ? tlsServerEndPointHash(cert.raw) : undefined;
  }

  tlsBits(): number {
    return cipherBits(this.port.ssl_cipher ?? '');
  }

  async openTls(opts: { direct?: boolean } = {}): Promise<Buffer> {
    const material = this.settings.tls;
    if (!material) throw new Error('openTls without TLS material');
    const major = this.settings.serverMajor;
    const leftover = this.reader.detach();
    // 17+ hands bytes it already read to OpenSSL: the ClientHello of a direct SSL
    // connection, or plaintext pipelined after an SSLRequest (which then fails the handshake).
    const feedLeftover = opts.direct === true || (major >= 17 && leftover.length > 0);
    const transport = feedLeftover ? withPrefix(leftover, this.raw) : this.raw;
    const outcome = await this.interruptible(acceptTls(transport, this.raw, material, major, this.capturing ? (line) => this.emit({ type: 'tls-keylog', line }) : undefined));
    if (!outcome.ok) {
      const failure = this.tlsFailure(outcome.reason);
      if (feedLeftover && !opts.direct) this.logCommError('buffered unencrypted data remains after negotiating SSL connection');
      throw failure;
    }
    const socket = outcome.socket;
    socket.on('error', () => {});
    if (this.capturing) socket.on('data', (data: Buffer) => this.emit({ type: 'wire', from: 'client', layer: 'tls', data }));
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
      this.port.peer_dn = rfc2253(peer.subject);
      this.port.peer_cn = /^CN=(.*)$/m.exec(peer.subject)?.[1] ?? null;
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
    const hint = isVersionProblem(reason)
      ? `This may indicate that the client does not support any SSL protocol version between ${this.settings.tls?.minVersion ?? 'TLSv1.2'} and ${this.settings.tls?.maxVersion ?? 'TLSv1.3'}.`
      : undefined;
    return this.commError(`could not accept SSL connection: ${reason}`, hint ? { hint } : {});
  }

  // ---- closing ----------------------------------------------------------------

  /** The backend is exiting: flush what is queued, stop reading, and let the socket go. */
  close(): void {
    if (this.closed) return;
    this.disarmTimer();
    this.flush();
    this.closed = true;
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
  }

  /** Drop the socket at once (server stop). */
  destroy(): void {
    this.raw.destroy();
  }
}
