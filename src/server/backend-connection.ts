/**
 * The ClientConnection of one backend, over a real or in-memory socket: the
 * Port, pqcomm's receive buffer and send queue, secure_open_server, and the
 * interrupts (authentication_timeout, shutdown) that end a wait. Every
 * decision about reading, writing, waiting and closing the client's socket is
 * made here; the steps only see the ClientConnection interface.
 *
 *  - reading: only while a step waits for bytes (the socket is paused
 *    otherwise), bounded by the protocol's length limits;
 *  - waiting: every read, the TLS handshake and the hook are interruptible;
 *  - half-close: a client's FIN ends input only; replies still go out;
 *  - closing: FIN, or RST when the client sent bytes the backend never read
 *    (what the kernel does when a process exits with unread input);
 *  - socket errors are logged as PostgreSQL logs them (`could not receive
 *    data from client: …`, `could not send data to client: …`).
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
import { encodeBackend, toErrorResponse, toLegacyErrorResponse, toNoticeResponse } from '../wire/codec.js';
import type { BackendMessage, ProtocolVersion } from '../wire/messages.js';
import { ProcExit } from './exits.js';
import { noteIoActivity } from '../clock.js';
import type { ServerContext } from './context.js';
import { withPrefix } from './prefixed-stream.js';
import { WireTap, resetSocket, type Resettable } from './wire-tap.js';
import { tlsAcceptor, type TlsAcceptor, cipherBits, isRecordHeaderFailure, isVersionProblem, rfc2253, SYSCALL_ERRORS } from './secure-open.js';

/** Where the backend is: what an interrupt means depends on it. */
export type Stage = 'startup' | 'authentication' | 'session';

/**
 * An interrupt that became pending: one of the two authentication_timeout
 * windows firing, or the postmaster's shutdown signal (SIGTERM for fast
 * shutdown: `die`; SIGQUIT for immediate: `quickdie`).
 */
type Interrupt = 'startup-timeout' | 'auth-timeout' | 'die' | 'quickdie';

/** Event-loop turns a woken hook gets to return before it is abandoned. */
const HOOK_SETTLE_TURNS = 10;

/** errcode_for_socket_access(): the SQLSTATE of a failed recv()/send(). */
function socketSqlstate(code: string | undefined): string {
  return code === 'EPIPE' || code === 'ECONNRESET' ? '08006' : '58030';
}

function strerror(err: NodeJS.ErrnoException): string {
  return (err.code ? SYSCALL_ERRORS[err.code] : undefined) ?? err.message;
}

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

  /** The accepted socket; only close() ends it. */
  private readonly socket: Duplex & Resettable;
  /** The socket, or the tap in front of it (capture, TLS). */
  private raw: Duplex;
  private tap: WireTap | null = null;
  private acceptor: TlsAcceptor | null = null;
  private stream: Duplex;
  /** Bytes a failed TLS handshake left unread (OpenSSL stops after a bad record header). */
  private tlsUnread = 0;
  private readonly reader: MessageReader;
  /** Whether this connection's bytes are reported as `wire` events. */
  private readonly capturing: boolean;
  private pending: Buffer[] = [];
  private stage: Stage = 'startup';
  private timer: { cancel(): void } | null = null;
  private pendingInterrupt: Interrupt | null = null;
  /** Aborted when an interrupt becomes pending: waits end, pg_usleep returns early. */
  private readonly wakeup = new AbortController();
  private recvErrorLogged = false;
  private socketError: NodeJS.ErrnoException | null = null;
  private sendErrorLogged = false;
  /** The last write handed to the socket, settled when the socket took it (or failed). */
  private lastWrite: Promise<void> = Promise.resolve();
  private closed = false;

  constructor(
    readonly ctx: ServerContext,
    readonly pid: number,
    /** Connection number in the event stream. */
    readonly id: number,
    socket: Duplex,
    remoteHost: string,
    remotePort: number | null,
    readonly canAcceptConnections: 'ok' | 'shutdown' = 'ok',
  ) {
    this.cancelKey = ctx.random.bytes(4);
    this.port = newPort(pid, remoteHost, remotePort === null ? '' : String(remotePort));
    this.sessionStart = ctx.clock.now();
    // A socket error surfaces as EOF on our reads or as a failed send; kept here for the log line.
    socket.on('error', (err: NodeJS.ErrnoException) => { this.socketError ??= err; });
    this.capturing = ctx.captureWire;
    if (this.capturing) {
      this.tap = new WireTap(socket, {
        bytes: (from, data) => this.emit({ type: 'wire', from, layer: 'tcp', data }),
        closed: (from, how) => this.emit({ type: 'wire-close', from, how }),
      });
    }
    this.socket = socket;
    this.raw = this.tap ?? socket;
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
    // Pre-3.0 clients get the old unframed format; 0.0 (FrontendProtocol not set) counts as modern (15.20's elog.c).
    const { major, minor } = this.frontendProtocol;
    const legacy = major < 3 && !(major === 0 && minor === 0);
    this.send(legacy ? toLegacyErrorResponse(fields) : toErrorResponse(fields));
    this.flush();
  }

  // ---- interrupts -------------------------------------------------------------

  /**
   * Move to the next stage of the backend's life, arming the authentication_timeout
   * window that stage has (startup packet, authentication) or none (session).
   */
  enter(stage: Stage): void {
    this.stage = stage;
    this.timer?.cancel();
    this.timer = null;
    if (stage === 'session') return;
    const kind: Interrupt = stage === 'startup' ? 'startup-timeout' : 'auth-timeout';
    this.timer = this.ctx.clock.setTimer(this.settings.authenticationTimeoutMs, () => this.raise(kind));
  }

  /** The postmaster's SIGTERM (fast shutdown): the next wait or check ends the backend. */
  die(): void {
    this.raise('die');
  }

  /**
   * The postmaster's SIGQUIT (immediate shutdown): quickdie() tells a client in a
   * session, in a WARNING only the client sees, and the backend exits at once.
   */
  quickDie(): void {
    if (this.closed || this.pendingInterrupt === 'quickdie') return;
    if (this.stage === 'session' && this.outputToClient) {
      const notice: PgErrorFields = { severity: 'WARNING', sqlstate: '57P01', message: 'terminating connection due to immediate shutdown command', file: 'postgres.c', line: 2907, routine: 'quickdie' };
      this.emit({ type: 'error', error: notice, toClient: true, toLog: false });
      this.pending = [];
      this.send(toNoticeResponse(notice));
      this.flush();
    }
    this.outputToClient = false;
    this.pendingInterrupt = 'quickdie';
    if (!this.wakeup.signal.aborted) this.wakeup.abort('quickdie');
  }

  /** Whether a shutdown signal (rather than a timeout) ended the backend. */
  get shutDown(): boolean {
    return this.pendingInterrupt === 'die' || this.pendingInterrupt === 'quickdie';
  }

  private raise(kind: Interrupt): void {
    if (this.closed) return;
    // A shutdown outranks a timeout that nobody has acted on yet (ProcDiePending is one flag).
    if (this.pendingInterrupt === null || (kind === 'die' && this.pendingInterrupt !== 'quickdie')) this.pendingInterrupt = kind;
    if (!this.wakeup.signal.aborted) this.wakeup.abort(kind);
  }

  get interrupt(): AbortSignal {
    return this.wakeup.signal;
  }

  checkForInterrupts(): void {
    if (this.pendingInterrupt) throw this.interruptError(this.pendingInterrupt);
  }

  /** What ProcessInterrupts() raises for a pending interrupt, at this stage. */
  private interruptError(kind: Interrupt): Error {
    return match(kind)
      // Startup-packet timeout and SIGTERM before the startup packet is through: _exit(1), nothing logged.
      .with('startup-timeout', () => new ProcExit('timeout'))
      .with('quickdie', () => new ProcExit('shutdown'))
      .with('auth-timeout', () => this.authCancel())
      .with('die', () => match(this.stage)
        .with('startup', () => new ProcExit('shutdown'))
        // 15 reports any SIGTERM during authentication as the timeout (ClientAuthInProgress).
        .with('authentication', () => this.authCancel())
        .with('session', () => new PgError({ severity: 'FATAL', sqlstate: '57P01', message: 'terminating connection due to administrator command', file: 'postgres.c', line: 3211, routine: 'ProcessInterrupts' }))
        .exhaustive())
      .exhaustive();
  }

  private authCancel(): PgError {
    this.outputToClient = false;
    return new PgError({ severity: 'FATAL', sqlstate: '57014', message: 'canceling authentication due to timeout', file: 'postgres.c', routine: 'ProcessInterrupts' });
  }

  async interruptible<T>(p: Promise<T>, opts: { letSettle?: boolean } = {}): Promise<T> {
    if (this.pendingInterrupt) {
      p.catch(() => {});
      throw this.interruptError(this.pendingInterrupt);
    }
    const signal = this.wakeup.signal;
    const outcome = await new Promise<{ ok: true; value: T } | { ok: false; error: unknown } | null>((resolve) => {
      const onWake = () => resolve(null);
      signal.addEventListener('abort', onWake, { once: true });
      p.then(
        (value) => { signal.removeEventListener('abort', onWake); resolve({ ok: true, value }); },
        (error: unknown) => { signal.removeEventListener('abort', onWake); resolve({ ok: false, error }); },
      );
    });
    if (outcome) {
      if (outcome.ok) return outcome.value;
      throw outcome.error;
    }
    // Woken by an interrupt. Code that sleeps interruptibly (a hook in pg_usleep) returns
    // when woken, as C code does; give it a few turns before abandoning the wait.
    if (opts.letSettle && this.pendingInterrupt !== 'quickdie') {
      const settled = await settleWithin(p, HOOK_SETTLE_TURNS);
      if (settled) {
        if (settled.ok) return settled.value;
        throw settled.error;
      }
    }
    p.catch(() => {});
    throw this.interruptError(this.pendingInterrupt!);
  }

  // ---- receiving --------------------------------------------------------------

  readStartupPacket(): Promise<StartupRead> { return this.recv(this.reader.readStartupPacket()); }
  peekByte(): Promise<number | null> { return this.recv(this.reader.peekByte()); }
  readMessageType(): Promise<number | null> { return this.recv(this.reader.readMessageType()); }
  readMessageBody(maxLength: number): Promise<MessageBodyRead> { return this.recv(this.reader.readMessageBody(maxLength)); }
  readMessage(maxLength: number): Promise<MessageRead> { return this.recv(this.reader.readMessage(maxLength)); }
  bufferedLength(): number { return this.reader.bufferedLength(); }

  /** A read as pq_recvbuf does it: interruptible, and a failed recv() is logged before the caller sees EOF. */
  private async recv<T>(read: Promise<T>): Promise<T> {
    const result = await this.interruptible(read);
    if (this.recvErrorLogged || !isEof(result)) return result;
    let err = this.reader.error as NodeJS.ErrnoException | null;
    // Under TLS an EOF without the client's close_notify is a failed recv too (be_tls_read makes it ECONNRESET).
    if (!err && this.tlsSocket && this.tap && !this.tap.clientSentCloseNotify) err = Object.assign(new Error('EOF without close_notify'), { code: 'ECONNRESET' });
    if (err) {
      this.recvErrorLogged = true;
      this.emit({ type: 'error', error: { severity: 'LOG', sqlstate: socketSqlstate(err.code), message: `could not receive data from client: ${strerror(err)}` }, toClient: false, toLog: true });
    }
    return result;
  }

  // ---- sending ----------------------------------------------------------------

  send(msg: BackendMessage): void {
    this.pending.push(encodeBackend(msg));
  }

  flush(): void {
    if (this.pending.length === 0) return;
    const data = Buffer.concat(this.pending);
    this.pending = [];
    if (!this.outputToClient || this.closed) return;
    if (this.stream.destroyed || this.stream.writableEnded) {
      // The socket failed while nothing was reading or writing it (the client's RST):
      // this send is where PostgreSQL finds out.
      if (this.socketError) this.sendFailed(this.socketError);
      return;
    }
    if (this.capturing && this.tlsSocket) this.emit({ type: 'wire', from: 'server', layer: 'tls', data });
    this.lastWrite = new Promise<void>((resolve) => {
      this.stream.write(data, (err?: Error | null) => {
        const e = err as NodeJS.ErrnoException | null | undefined;
        // A stream destroyed under the write only says so; the socket's own error says why.
        if (e) this.sendFailed(e.code === 'ERR_STREAM_DESTROYED' ? this.socketError ?? e : e);
        resolve();
      });
    });
  }

  /** internal_flush()'s complaint, once per connection. */
  private sendFailed(err: NodeJS.ErrnoException): void {
    if (this.sendErrorLogged || err.code === 'ERR_STREAM_DESTROYED') return;
    this.sendErrorLogged = true;
    this.emit({ type: 'error', error: { severity: 'LOG', sqlstate: socketSqlstate(err.code), message: `could not send data to client: ${strerror(err)}` }, toClient: false, toLog: true });
  }

  sendAuthRequest(msg: BackendMessage): void {
    this.send(msg);
    this.emit({ type: 'auth-request', request: msg.type });
    if (msg.type !== 'AuthenticationOk' && msg.type !== 'AuthenticationSASLFinal') this.flush();
  }

  // ---- TLS --------------------------------------------------------------------

  tlsServerEndPoint(): Buffer | undefined {
    return this.tlsSocket ? this.acceptor?.serverEndPoint : undefined;
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
    // TLS always runs over the tap, a JS stream that follows the client's records: PostgreSQL
    // logs a TLS stream that ends without close_notify as a reset, and a refused first record
    // leaves its body unread (RST). Node's native TLS would be cheaper but sees neither.
    if (!this.tap) {
      this.tap = new WireTap(this.raw);
      this.tap.on('error', () => {});
    }
    this.raw = this.tap;
    this.tap.watchTls(feedLeftover ? leftover : undefined);
    const transport = feedLeftover ? withPrefix(leftover, this.raw) : this.raw;
    this.acceptor = tlsAcceptor(material, major);
    const outcome = await this.interruptible(this.acceptor.accept(transport, this.raw, this.capturing ? (line) => this.emit({ type: 'tls-keylog', line }) : undefined));
    if (!outcome.ok) {
      // A first record OpenSSL refuses by its header was read 5 bytes deep; the rest stays in the kernel.
      if (isRecordHeaderFailure(outcome.reason)) this.tlsUnread = Math.max(0, this.tap.tlsBytesFromClient - 5);
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

  /**
   * The backend is exiting: flush what is queued and stop reading at once;
   * then the socket goes as the kernel would let it go at exit: FIN, or RST
   * when the client sent bytes the backend never read. Resolves when the
   * socket is gone.
   */
  close(): Promise<void> {
    if (this.closed) return Promise.resolve();
    this.timer?.cancel();
    this.timer = null;
    this.flush();
    this.closed = true;
    const unread = this.reader.unreadByBackend() + this.tlsUnread;
    this.reader.close({ keepPaused: true });
    return this.teardown(unread);
  }

  /** What the kernel does with the socket once the backend has exited. */
  private async teardown(unread: number): Promise<void> {
    const s = this.stream;
    const socket = this.socket;
    let fallback: NodeJS.Timeout | undefined;
    const drop = () => { clearTimeout(fallback); s.destroy(); this.tap?.destroy(); socket.destroy(); };
    if (unread > 0 && !socket.destroyed) {
      // RST discards what has not left yet: let the last reply reach the socket first
      // (PostgreSQL's send() had returned), but not wait on a peer that never reads.
      await Promise.race([this.lastWrite, new Promise<void>((r) => { fallback = setTimeout(r, 1000); fallback.unref(); })]);
      if (this.tap) this.tap.resetAndDestroy();
      else resetSocket(socket);
      drop();
      return;
    }
    if (s.destroyed || s.writableEnded) { drop(); return; }
    // FIN after what is queued (and TLS's close_notify); the socket goes once that is out.
    if (this.tap) this.tap.endsSocket = true;
    await new Promise<void>((resolve) => {
      const done = () => { drop(); resolve(); };
      s.once('close', done);
      s.end(() => setImmediate(done));
      // A peer that never lets our last bytes drain is dropped after a moment.
      fallback = setTimeout(done, 1000);
      fallback.unref();
    });
  }

  /** Drop the socket at once. */
  destroy(): void {
    this.socket.destroy();
  }
}

/** Whether a read came back empty-handed: EOF before or inside what it wanted. */
function isEof(result: unknown): boolean {
  if (result === null) return true;
  const kind = (result as { kind?: string } | undefined)?.kind;
  return kind === 'eof' || kind === 'incomplete' || kind === 'eof-in-length';
}

/**
 * p's outcome if it settles within `turns` event-loop turns, else null. The
 * backend counts as busy meanwhile, so a virtual clock does not jump ahead.
 */
async function settleWithin<T>(p: Promise<T>, turns: number): Promise<{ ok: true; value: T } | { ok: false; error: unknown } | null> {
  let outcome: { ok: true; value: T } | { ok: false; error: unknown } | null = null;
  p.then((value) => { outcome = { ok: true, value }; }, (error: unknown) => { outcome = { ok: false, error }; });
  for (let i = 0; i < turns && outcome === null; i++) {
    noteIoActivity();
    await new Promise<void>((r) => setImmediate(r));
  }
  return outcome;
}
