/**
 * The driver engine: what every driver model does on one TCP connection, start to finish,
 *
 *   connect ─▶ [SSLRequest ─▶ S/N/E] ─▶ [TLS] ─▶ StartupMessage ─▶ auth loop ─▶ ReadyForQuery
 *                                                                   └─▶ ErrorResponse / EOF / refusal
 *
 * with every fork asked of the driver's policy (AttemptSpec: what to send first, what an 'N'
 * means, the TLS options, the startup parameters, how to answer each authentication request,
 * how to report each failure and what to do with the socket), plus the loop over connections
 * (DriverDefinition.next: retry, reconnect, or stop) and the result (error wording, what the
 * application does after a rejection). Each fork is told to the trace with the driver's own
 * reason and source line. A driver model is a policy file; see README.md in this folder.
 *
 * Stable API (driver files build on it; it grows, it does not break): runDriver and
 * DriverDefinition, AttemptSpec, AuthResponder/AuthContext/AuthStep, Failure, SslAnswerAction,
 * NextStep, EngineStep, sourceTable/src, refusedBeforeConnecting, and DriverEnv's clock/onTrace.
 * Grown since: AttemptSpec.afterConnect, tls().verify (TlsVerify), afterTls's TLS result, Failure.cleanup.
 */
import * as fs from 'node:fs';
import type * as tls from 'node:tls';
import type { Duplex } from 'node:stream';
import { RealClock, type Clock } from '../../clock.js';
import { CryptoRandom, type Random } from '../../random.js';
import { PG_PROTOCOL_3_0, protocolVersionOf, type ErrorFields, type FrontendMessage, type StartupParam } from '../../wire/codec.js';
import { TransportError } from '../libpq/transport.js';
import type { ClientDecision, SourceRef } from '../trace.js';
import { DriverSocket, type TlsResult } from './wire.js';
import type { DriverScram } from './scram.js';
import type { AttemptOutcome, DriverAttempt, DriverEnv, DriverError, DriverResult, Encryption, ReadFile } from './types.js';

// ---- what a policy answers with ------------------------------------------------------------

/** How a connection ends when it does not reach ReadyForQuery. `F` is the driver's own error value. */
export interface Failure<F> {
  fail: F;
  /** Recorded in the attempt log (DriverAttempt.outcome). */
  outcome: AttemptOutcome;
  /** DriverAttempt.message / .sqlstate. */
  message?: string;
  sqlstate?: string;
  /**
   * What the driver does with the socket: a reset ('destroy'), a FIN awaited before connect()
   * settles ('end') or not ('end-async'), or nothing at all ('keep': node-postgres after a
   * client-side SCRAM failure, the server goes on waiting).
   */
  socket: 'destroy' | 'end' | 'end-async' | 'keep';
  /** What happened, in the driver's terms: the first half of the trace's retry or give-up reason. */
  why?: string;
  /** The driver walks away on purpose mid-exchange (no password): traced as a hang-up. */
  hangUp?: string;
  source?: SourceRef;
  /**
   * What the driver does on its way out, on connections of its own that are not attempts (pgconn
   * sends a CancelRequest after a read error). Run, and awaited, once the socket is dealt with.
   */
  cleanup?(open: (host: string, port: number) => Promise<DriverSocket | null>): Promise<void>;
}

/** The server's one-byte answer to SSLRequest, as the driver takes it. */
export type SslAnswerAction<F> =
  | { then: 'tls' }
  /** Send the startup packet in plaintext on this same socket. */
  | { then: 'plaintext'; why: string; source?: SourceRef }
  /** Start TLS although the server did not say S (postgres.js outside prefer). */
  | { then: 'tls-anyway'; why: string; source?: SourceRef }
  /** Drop this socket and open another in plaintext, within the same attempt (pgjdbc after 'E'). */
  | { then: 'reconnect-plaintext'; why: string; outcome: AttemptOutcome; source?: SourceRef }
  | ({ then: 'fail' } & Failure<F>);

/** A reply to an authentication request, or a refusal. */
export type AuthStep<F> =
  | { send: FrontendMessage[]; why: string; scram?: DriverScram | null; source?: SourceRef }
  | Failure<F>;

export interface AuthContext {
  sslInUse: boolean;
  /** The server certificate (DER) once TLS is up: tls-server-end-point input. */
  peerCertificate: Buffer | null;
  random: Random;
  /** The SASL exchange in progress, if any. */
  scram: DriverScram | null;
}

/** How a driver answers each authentication request. */
export interface AuthResponder<F> {
  cleartext(ctx: AuthContext): AuthStep<F>;
  md5(ctx: AuthContext, salt: Buffer): AuthStep<F>;
  sasl(ctx: AuthContext, mechanisms: string[]): AuthStep<F>;
  saslContinue(ctx: AuthContext, data: Buffer): AuthStep<F>;
  /** Nothing to send: null when the server's signature is accepted, else the refusal. */
  saslFinal(ctx: AuthContext, data: Buffer): { ok: true; why: string; scram?: DriverScram | null } | Failure<F>;
}

/** One TCP connection: the policy for each fork on it. */
export interface AttemptSpec<F> {
  host: string;
  port: number;
  /** What goes first on the new socket. */
  start: 'plain' | 'ssl-request' | 'direct-tls';
  /** Why (for the trace): the settings that chose `start`. */
  why: string;
  connectFailed(code: string, message: string): Failure<F>;
  /** Required with start 'ssl-request'. null: the server closed without answering. */
  sslAnswer?(answer: number | null): SslAnswerAction<F>;
  /** The driver read the answer with a whole-chunk 'data' handler, so bytes after it are lost. */
  discardAfterAnswer?: boolean;
  /**
   * tls.connect() options (the socket is added), or a failure before the handshake. `verify`:
   * the driver's own certificate check inside the handshake (Go's crypto/tls), run where
   * rejectUnauthorized's would run and failing the same way (give it with rejectUnauthorized off).
   */
  tls?(): { options: tls.ConnectionOptions; why: string; verify?: TlsVerify } | Failure<F>;
  tlsFailed?(error: Error & { code?: string }): Failure<F>;
  /** Checks after a finished handshake (pgjdbc's host name verifier, lib/pq's verify-ca); `tls` has the parsed certificate and node:tls's verdict on the chain. */
  afterTls?(peerCertificate: Buffer | null, tls: Extract<TlsResult, { ok: true }>): Promise<Failure<F> | null> | Failure<F> | null;
  /** A check once the socket is open, before anything is sent (lib/pq reads sslmode only then). */
  afterConnect?(): Failure<F> | null;
  startup(): StartupParam[];
  auth: AuthResponder<F>;
  serverError(fields: ErrorFields): Failure<F>;
  /** The server closed the socket during startup or authentication. */
  closed(): Failure<F>;
  /** Bytes no PostgreSQL server sends. */
  garbage(reason: string): Failure<F>;
}

/** A certificate check inside the handshake: an error refuses the server. */
export type TlsVerify = (peer: tls.PeerCertificate | undefined, authorizationError: string | null) => (Error & { code?: string }) | null;

export type AttemptEnd<F> =
  | { ok: true; sock: DriverSocket; attempt: DriverAttempt }
  | { ok: false; failure: Failure<F>; attempt: DriverAttempt; sock: DriverSocket | null; tlsInUse: boolean };

/** After a failed connection: another one (and why), or stop (and why), optionally reporting another failure. */
export type NextStep<F> =
  | { retry: AttemptSpec<F>; why: string; source?: SourceRef }
  | { stop: true; why: string; source?: SourceRef; fail?: F };

/** The steps the engine traces on its own, each with the driver's source line. */
export type EngineStep =
  | 'connect' | 'ssl-request' | 'direct-tls' | 'ssl-answer' | 'tls' | 'startup'
  | 'auth-cleartext' | 'auth-md5' | 'auth-sasl' | 'auth-sasl-continue' | 'auth-sasl-final'
  | 'server-error' | 'ready' | 'retry' | 'give-up';

export interface DriverDefinition<F> {
  /** Profile name (trace `client`). */
  driver: string;
  /** Where each step lives in the driver's source (installed version). */
  sources: Partial<Record<EngineStep, SourceRef>> & { connect: SourceRef };
  first: AttemptSpec<F>;
  /** After a failed connection. Default: stop. */
  next?(end: Extract<AttemptEnd<F>, { ok: false }>, history: ReadonlyArray<Extract<AttemptEnd<F>, { ok: false }>>): NextStep<F>;
  /** The driver's error for the failure it reports. */
  report(fail: F): DriverError;
  /** Leave the session open (success) instead of the driver's goodbye. */
  keepOpen?: boolean;
  /** A failure that left the socket open ('keep'): what the application does then (node-postgres). */
  afterRejection?: 'end' | 'destroy' | 'keep-open';
}

// ---- the run ------------------------------------------------------------------------------

type AuthEvent =
  | { e: 'cleartext' } | { e: 'md5'; salt: Buffer } | { e: 'sasl'; mechanisms: string[] }
  | { e: 'sasl-continue'; data: Buffer } | { e: 'sasl-final'; data: Buffer } | { e: 'auth-ok' }
  /** ParameterStatus, BackendKeyData, NoticeResponse, NegotiateProtocolVersion: nothing to decide. */
  | { e: 'info' } | { e: 'ready' } | { e: 'error'; fields: ErrorFields } | { e: 'eof' }
  /** Unexpected or malformed bytes (not produced by a PostgreSQL server). */
  | { e: 'garbage'; reason: string };

async function nextAuthEvent(sock: DriverSocket): Promise<AuthEvent> {
  const r = await sock.read();
  if (r.kind === 'eof') return { e: 'eof' };
  if (r.kind === 'garbage') return { e: 'garbage', reason: r.reason };
  const m = r.msg;
  switch (m.type) {
    case 'AuthenticationCleartextPassword': return { e: 'cleartext' };
    case 'AuthenticationMD5Password': return { e: 'md5', salt: m.salt };
    case 'AuthenticationSASL': return { e: 'sasl', mechanisms: m.mechanisms };
    case 'AuthenticationSASLContinue': return { e: 'sasl-continue', data: m.data };
    case 'AuthenticationSASLFinal': return { e: 'sasl-final', data: m.data };
    case 'AuthenticationOk': return { e: 'auth-ok' };
    case 'ReadyForQuery': return { e: 'ready' };
    case 'ErrorResponse': return { e: 'error', fields: m.fields };
    case 'ParameterStatus':
    case 'BackendKeyData':
    case 'NoticeResponse':
    case 'NegotiateProtocolVersion':
      return { e: 'info' };
    default:
      return { e: 'garbage', reason: `unexpected ${m.type} while connecting` };
  }
}

export function startupMessage(params: StartupParam[]): FrontendMessage {
  return { type: 'StartupMessage', protocolVersion: protocolVersionOf(PG_PROTOCOL_3_0), params };
}

const isFailure = <F>(x: object): x is Failure<F> => 'outcome' in x && 'fail' in x;

/** One connect() call of one driver: its connections, its trace, its result. */
export class DriverRun<F> {
  readonly attempts: DriverAttempt[] = [];
  readonly random: Random;
  private readonly clock: Clock;
  private lastDecision: ClientDecision | null = null;

  constructor(private readonly d: DriverDefinition<F>, private readonly env: DriverEnv) {
    this.random = randomOf(env);
    this.clock = env.clock ?? new RealClock();
  }

  /** Tell the trace. `attempt`: the connection in progress (or the one that just ended). */
  trace(decision: ClientDecision, step: EngineStep, reason: string, source?: SourceRef, ended = false): void {
    this.lastDecision = decision;
    const listener = this.env.onTrace;
    if (!listener) return;
    listener({
      type: 'client-decision', time: this.clock.now(), client: this.d.driver,
      attempt: Math.max(1, this.attempts.length + (ended ? 0 : 1)), decision, reason,
      source: source ?? this.d.sources[step] ?? this.d.sources.connect, rule: `${this.d.driver}.${step}`,
    });
  }

  private record(encryption: Encryption, sslRequested: boolean, outcome: AttemptOutcome, extra: { sqlstate?: string | undefined; message?: string | undefined } = {}): DriverAttempt {
    const a: DriverAttempt = { encryption, sslRequested, outcome };
    if (extra.sqlstate !== undefined) a.sqlstate = extra.sqlstate;
    if (extra.message !== undefined) a.message = extra.message;
    this.attempts.push(a);
    return a;
  }

  private async open(host: string, port: number): Promise<{ ok: true; sock: DriverSocket } | { ok: false; code: string; message: string }> {
    let raw: Duplex;
    try {
      raw = await this.env.transport.open(host, port);
    } catch (err) {
      const code = err instanceof TransportError ? err.code : ((err as { code?: string }).code ?? 'ECONNREFUSED');
      return { ok: false, code, message: `connect ${code} ${host}:${port}` };
    }
    return { ok: true, sock: new DriverSocket(raw) };
  }

  /** One TCP connection (two, when the policy asks for a plaintext reconnect after the SSL answer). */
  async attempt(spec: AttemptSpec<F>): Promise<AttemptEnd<F>> {
    const retrying = this.lastDecision === 'retry-new-connection';
    this.trace('connect', 'connect', `${this.d.driver} opens a TCP connection to ${spec.host}, port ${spec.port}${retrying ? ', for the retry' : ''}.`);
    let opened = await this.open(spec.host, spec.port);
    let encryption: Encryption = 'plain';
    let sslRequested = false;
    const end = async (f: Failure<F>, sock: DriverSocket | null): Promise<AttemptEnd<F>> => {
      const attempt = this.record(encryption, sslRequested, f.outcome, { sqlstate: f.sqlstate, message: f.message });
      if (f.hangUp) this.trace('hang-up', 'give-up', f.hangUp, f.source, true);
      let kept: DriverSocket | null = null;
      if (sock) {
        if (f.socket === 'destroy') sock.destroy();
        else if (f.socket === 'end') await sock.end();
        else if (f.socket === 'end-async') void sock.end();
        else kept = sock;
      }
      if (f.cleanup) await f.cleanup(async (h, p) => { const o = await this.open(h, p); return o.ok ? o.sock : null; });
      return { ok: false, failure: f, attempt, sock: kept, tlsInUse: sock?.sslInUse ?? false };
    };
    if (!opened.ok) {
      encryption = 'plain';
      return end(spec.connectFailed(opened.code, opened.message), null);
    }
    let sock = opened.sock;
    const refusedAtOnce = spec.afterConnect?.();
    if (refusedAtOnce) return end(refusedAtOnce, sock);

    // Encryption: SSLRequest and its answer, or TLS at once, or nothing.
    let goTls = spec.start === 'direct-tls';
    if (spec.start === 'direct-tls') {
      this.trace('direct-ssl', 'direct-tls', spec.why);
    } else if (spec.start === 'ssl-request') {
      this.trace('request-ssl', 'ssl-request', spec.why);
      sslRequested = true;
      encryption = 'ssl';
      sock.send({ type: 'SSLRequest' });
      const answer = await sock.readByte();
      if (answer !== null && spec.discardAfterAnswer) sock.discardBuffered();
      const action = spec.sslAnswer!(answer);
      switch (action.then) {
        case 'tls':
          this.trace('start-tls', 'ssl-answer', `The server answered S: ${this.d.driver} starts the TLS handshake on this connection.`);
          goTls = true;
          break;
        case 'tls-anyway':
          this.trace('start-tls', 'ssl-answer', action.why, action.source);
          goTls = true;
          break;
        case 'plaintext':
          this.trace('continue-plaintext', 'ssl-answer', action.why, action.source);
          encryption = 'plain';
          break;
        case 'reconnect-plaintext': {
          this.record('ssl', true, action.outcome);
          this.trace('retry-new-connection', 'ssl-answer', action.why, action.source, true);
          sock.destroy();
          this.trace('connect', 'connect', `${this.d.driver} opens a new TCP connection to ${spec.host}, port ${spec.port}, in plaintext.`);
          opened = await this.open(spec.host, spec.port);
          encryption = 'plain';
          sslRequested = false;
          if (!opened.ok) return end(spec.connectFailed(opened.code, opened.message), null);
          sock = opened.sock;
          break;
        }
        case 'fail':
          return end(action, sock);
      }
    } else {
      this.trace('send-startup', 'startup', spec.why);
    }

    if (goTls) {
      encryption = 'ssl';
      const setup = spec.tls!();
      if (isFailure<F>(setup)) return end(setup, sock);
      const r = await sock.startTls(setup.options, setup.verify);
      if (!r.ok) return end(spec.tlsFailed!(r.error), null);
      const refused = await spec.afterTls?.(r.peerCertificate, r);
      if (refused) return end(refused, sock);
      this.trace('send-startup', 'startup', `TLS is up (${setup.why}): ${this.d.driver} sends the startup packet inside it.`);
    } else if (spec.start === 'ssl-request') {
      this.trace('send-startup', 'startup', `${this.d.driver} sends the startup packet in plaintext on the same connection.`);
    }
    sock.send(startupMessage(spec.startup()));

    // The authentication exchange, up to ReadyForQuery.
    const ctx: AuthContext = { sslInUse: sock.sslInUse, peerCertificate: sock.peerCertificate, random: this.random, scram: null };
    for (;;) {
      const ev = await nextAuthEvent(sock);
      let step: AuthStep<F> | { ok: true; why: string; scram?: DriverScram | null } | null = null;
      let at: EngineStep = 'auth-sasl';
      switch (ev.e) {
        case 'cleartext': at = 'auth-cleartext'; step = spec.auth.cleartext(ctx); break;
        case 'md5': at = 'auth-md5'; step = spec.auth.md5(ctx, ev.salt); break;
        case 'sasl': at = 'auth-sasl'; step = spec.auth.sasl(ctx, ev.mechanisms); break;
        case 'sasl-continue': at = 'auth-sasl-continue'; step = spec.auth.saslContinue(ctx, ev.data); break;
        case 'sasl-final': at = 'auth-sasl-final'; step = spec.auth.saslFinal(ctx, ev.data); break;
        case 'auth-ok': case 'info': continue;
        case 'ready': {
          const attempt = this.record(encryption, sslRequested, 'authenticated');
          this.trace('done', 'ready', `Authenticated and ready for queries (ReadyForQuery), ${sock.sslInUse ? 'over TLS' : 'in plaintext'}.`, undefined, true);
          return { ok: true, sock, attempt };
        }
        case 'error': return end(spec.serverError(ev.fields), sock);
        case 'eof': return end(spec.closed(), sock);
        case 'garbage': return end(spec.garbage(ev.reason), sock);
      }
      if (isFailure<F>(step)) return end(step, sock);
      if ('scram' in step) ctx.scram = step.scram ?? null;
      if ('send' in step) {
        sock.send(...step.send);
        this.trace('auth-response', at, step.why, step.source);
      } else {
        this.trace('auth-response', at, step.why);
      }
    }
  }

  /** A failure in words, when the policy did not say more. */
  private whatHappened(f: Failure<F>): string {
    const m = f.message ? ` (${f.message.split('\n')[0]})` : '';
    switch (f.outcome) {
      case 'connect-failed': return `The TCP connection could not be opened${m}.`;
      case 'server-error': return `The server sent an error before the session started (${f.sqlstate ?? '?'}: ${f.message ?? ''}).`;
      case 'closed': return 'The server closed the connection without an error message.';
      case 'tls-failed': return `The TLS handshake failed${m}.`;
      case 'ssl-refused': return 'The server answered N to the SSLRequest (no SSL).';
      case 'ssl-error-response': return 'The server answered the SSLRequest with an error.';
      case 'client-hangup': case 'client-error-open': return `${this.d.driver} refuses to go on${m}.`;
      default: return '';
    }
  }

  /** Connections until success or the policy stops, then the driver's result. */
  async run(): Promise<DriverResult> {
    const d = this.d;
    const failures: Array<Extract<AttemptEnd<F>, { ok: false }>> = [];
    let spec = d.first;
    for (;;) {
      const end = await this.attempt(spec);
      if (end.ok) {
        if (!d.keepOpen) await end.sock.terminate();
        return { driver: d.driver, ok: true, attempts: this.attempts };
      }
      failures.push(end);
      const next: NextStep<F> = d.next ? d.next(end, failures) : { stop: true, why: '' };
      const why = [end.failure.why ?? this.whatHappened(end.failure), next.why].filter(Boolean).join(' ');
      if ('retry' in next) {
        this.trace('retry-new-connection', 'retry', why, next.source, true);
        spec = next.retry;
        continue;
      }
      if (this.lastDecision !== 'hang-up') this.trace('give-up', 'give-up', why || `${d.driver} reports the error.`, next.source ?? end.failure.source, true);
      const result: DriverResult = { driver: d.driver, ok: false, attempts: this.attempts, error: d.report(next.fail ?? end.failure.fail) };
      const sock = end.sock;
      if (sock) {
        const policy = d.afterRejection ?? 'end';
        if (policy === 'end') await sock.terminate();
        else if (policy === 'destroy') sock.destroy();
        else result.openSocket = { end: () => sock.terminate(), destroy: () => sock.destroy() };
      }
      return result;
    }
  }
}

/** Run a driver definition: its connections, trace and result. */
export function runDriver<F>(d: DriverDefinition<F>, env: DriverEnv): Promise<DriverResult> {
  return new DriverRun(d, env).run();
}

/** A configuration error raised before any connection: no attempt, no trace beyond the give-up. */
export function refusedBeforeConnecting(driver: string, env: DriverEnv, error: DriverError, source: SourceRef): DriverResult {
  env.onTrace?.({
    type: 'client-decision', time: (env.clock ?? new RealClock()).now(), client: driver, attempt: 1, decision: 'give-up',
    reason: `${driver} refuses its settings before connecting: ${error.message.split('\n')[0]}`, source, rule: `${driver}.give-up`,
  });
  return { driver, ok: false, attempts: [], error };
}

export function randomOf(env: DriverEnv): Random {
  return env.random ?? new CryptoRandom();
}

export function readFileOf(env: DriverEnv): ReadFile {
  return env.readFile ?? ((p) => {
    try {
      return fs.readFileSync(p);
    } catch {
      return null;
    }
  });
}

export function environOf(env: DriverEnv): Readonly<Record<string, string | undefined>> {
  return env.environ ?? {};
}

/** `{file, function, line, version}` in one line. */
export function src(version: string, file: string, fn: string, line: number): SourceRef {
  return { file, function: fn, line, version };
}

/** A driver's source table: step → [function, line] in `file`, or [other file, function, line]. */
export function sourceTable<K extends string>(
  version: string, file: string, rows: Record<K, readonly [string, number] | readonly [string, string, number]>,
): Record<K, SourceRef> {
  const out = {} as Record<K, SourceRef>;
  for (const [k, row] of Object.entries(rows) as Array<[K, readonly [string, number] | readonly [string, string, number]]>) {
    out[k] = row.length === 2 ? src(version, file, row[0], row[1]) : src(version, row[0], row[1], row[2]);
  }
  return out;
}
