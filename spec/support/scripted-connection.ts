/**
 * A ClientConnection with no socket and no backend behind it: input is bytes
 * pushed by the spec (or by a responder reacting to what the step sent), the
 * output is a list of messages, events are an array. Steps run against it
 * exactly as they run against a real connection, so a spec can drive
 * processStartupPacket or an authentication method message by message.
 */
import { SqlRegistry } from '../../src/sql/registry.js';
import { createGucRegistry } from '../../src/config/index.js';
import type { BackendView, ClientConnection, LogSeverity, SharedState } from '../../src/connection.js';
import type { EventBody, ServerEvent } from '../../src/events.js';
import { newPort, type MutablePort } from '../../src/port.js';
import type { SessionGucs } from '../../src/session/gucs.js';
import { MessageReader, type MessageBodyRead, type MessageRead, type StartupRead } from '../../src/wire/reader.js';
import type { BackendMessage, ProtocolVersion } from '../../src/wire/messages.js';
import { ProcExit } from '../../src/server/exits.js';
import { PgError } from '../../src/errors.js';
import { defaultSettings, type ServerSettings } from '../../src/server/settings.js';
import { VirtualClock } from '../../src/clock.js';
import { SeededRandom } from '../../src/random.js';
import { parseHbaFile } from '../../src/hba/index.js';
import { parseRolesFile } from '../../src/roles/index.js';
import type { ClientAuthenticationHook } from '../../src/hooks/hook.js';

export interface ScriptedOptions {
  hba?: string;
  roles?: string;
  settings?: Partial<ServerSettings>;
  hook?: ClientAuthenticationHook | null;
  backends?: BackendView[];
  /** Called with each flushed batch of messages; may push the client's answer. */
  respond?: (sent: BackendMessage[], conn: ScriptedConnection) => void;
}

export class ScriptedConnection implements ClientConnection {
  readonly pid = 4242;
  readonly port: MutablePort = newPort(4242, '127.0.0.1', '50000');
  readonly ctx: SharedState;
  cancelKey = Buffer.from([1, 2, 3, 4]);
  frontendProtocol: ProtocolVersion = { major: 3, minor: 0 };
  session: SessionGucs | null = null;
  transactionStatus: 'I' | 'T' | 'E' = 'I';
  outputToClient = true;
  /** Every message flushed to the client, in order. */
  readonly sent: BackendMessage[] = [];
  readonly events: EventBody[] = [];
  private queued: BackendMessage[] = [];
  private readonly reader = new MessageReader();
  private readonly abort = new AbortController();
  private seq = 0;

  constructor(private readonly opts: ScriptedOptions = {}) {
    const settings = defaultSettings(opts.settings);
    const hba = parseHbaFile(opts.hba ?? 'host all all 127.0.0.1/32 trust\n', { path: settings.hbaPath, sslEnabled: settings.ssl });
    if (!hba.ok) throw new Error(hba.errors.map((e) => e.message).join('; '));
    const roles = parseRolesFile(opts.roles ?? "CREATE ROLE test LOGIN PASSWORD 'secret';", { random: new SeededRandom(7) });
    this.ctx = {
      settings,
      clock: new VirtualClock(),
      random: new SeededRandom(1),
      hba: hba.lines,
      roles,
      clientAuthenticationHook: () => opts.hook ?? null,
      backends: () => opts.backends ?? [],
      procCount: () => 0,
      sql: new SqlRegistry(),
      gucs: createGucRegistry(),
    };
  }

  get settings(): ServerSettings { return this.ctx.settings; }

  /** What the client sends next. */
  input(bytes: Buffer): this { this.reader.push(bytes); return this; }
  /** The client hangs up (EOF after whatever was pushed). */
  hangUp(): this { this.reader.close(); return this; }
  /** Make the next (or pending) wait end as authentication_timeout would. */
  timeOut(): void { this.abort.abort('authentication'); }

  // ---- receiving ------------------------------------------------------------
  readStartupPacket(): Promise<StartupRead> { return this.interruptible(this.reader.readStartupPacket()); }
  peekByte(): Promise<number | null> { return this.interruptible(this.reader.peekByte()); }
  readMessageType(): Promise<number | null> { return this.interruptible(this.reader.readMessageType()); }
  readMessageBody(maxLength: number): Promise<MessageBodyRead> { return this.interruptible(this.reader.readMessageBody(maxLength)); }
  readMessage(maxLength: number): Promise<MessageRead> { return this.interruptible(this.reader.readMessage(maxLength)); }
  bufferedLength(): number { return this.reader.bufferedLength(); }

  // ---- sending --------------------------------------------------------------
  send(msg: BackendMessage): void { this.queued.push(msg); }
  flush(): void {
    if (this.queued.length === 0) return;
    const batch = this.queued;
    this.queued = [];
    this.sent.push(...batch);
    this.opts.respond?.(batch, this);
  }
  sendAuthRequest(msg: BackendMessage): void {
    this.send(msg);
    this.emit({ type: 'auth-request', request: msg.type });
    if (msg.type !== 'AuthenticationOk' && msg.type !== 'AuthenticationSASLFinal') this.flush();
  }
  /** Messages queued but not flushed (AuthenticationOk waits for the session's first flush). */
  get unflushed(): readonly BackendMessage[] { return this.queued; }

  // ---- TLS: a scripted connection has none ------------------------------------
  openTls(): Promise<Buffer> { return Promise.reject(new Error('ScriptedConnection has no TLS')); }
  tlsServerEndPoint(): Buffer | undefined { return undefined; }
  tlsBits(): number { return 0; }

  // ---- interrupts -------------------------------------------------------------
  get interrupt(): AbortSignal { return this.abort.signal; }
  checkForInterrupts(): void {
    if (this.abort.signal.aborted) throw this.timeoutError();
  }
  interruptible<T>(p: Promise<T>): Promise<T> {
    if (this.abort.signal.aborted) return Promise.reject(this.timeoutError());
    return new Promise<T>((resolve, reject) => {
      const onAbort = () => reject(this.timeoutError());
      this.abort.signal.addEventListener('abort', onAbort, { once: true });
      p.then((v) => { this.abort.signal.removeEventListener('abort', onAbort); resolve(v); }, reject);
    });
  }
  private timeoutError(): PgError {
    return new PgError({ severity: 'FATAL', sqlstate: '57014', message: 'canceling authentication due to timeout' });
  }

  // ---- reporting --------------------------------------------------------------
  emit(body: EventBody): ServerEvent {
    this.events.push(body);
    return { seq: ++this.seq, time: this.ctx.clock.now(), pid: this.pid, connection: 1, ...body } as ServerEvent;
  }
  log(severity: LogSeverity, message: string, extra: { detail?: string; hint?: string; sqlstate?: string } = {}): void {
    this.emit({ type: 'log', severity, message, ...extra });
  }
  commError(message: string): ProcExit {
    this.logCommError(message);
    return new ProcExit('comm-error', message);
  }
  logCommError(message: string): void {
    this.emit({ type: 'error', error: { severity: 'LOG', sqlstate: '08P01', message }, toClient: false, toLog: true });
  }
  setAuthnId(id: string): void {
    this.port.authn_id = id;
    this.emit({ type: 'authenticated', identity: id, method: this.port.hba?.auth_method ?? '', hbaFile: this.settings.hbaPath, lineNumber: this.port.hba?.line_number ?? 0 });
  }

  /** Event types in order, for compact assertions. */
  eventTypes(): string[] { return this.events.map((e) => e.type); }
}
