/**
 * Pieces every driver model shares: the startup message, one backend message read as an
 * authentication-phase event, the attempt log, and opening a TCP connection through the
 * transport.
 */
import * as fs from 'node:fs';
import type { Duplex } from 'node:stream';
import { CryptoRandom, type Random } from '../../random.js';
import { PG_PROTOCOL_3_0, protocolVersionOf, type ErrorFields, type FrontendMessage, type StartupParam } from '../../wire/codec.js';
import { TransportError } from '../libpq/transport.js';
import { DriverSocket } from './wire.js';
import type { AttemptOutcome, DriverAttempt, DriverEnv, Encryption, ReadFile } from './types.js';

export type AuthEvent =
  | { e: 'cleartext' }
  | { e: 'md5'; salt: Buffer }
  | { e: 'sasl'; mechanisms: string[] }
  | { e: 'sasl-continue'; data: Buffer }
  | { e: 'sasl-final'; data: Buffer }
  | { e: 'auth-ok' }
  /** ParameterStatus, BackendKeyData, NoticeResponse, NegotiateProtocolVersion: nothing to decide. */
  | { e: 'info' }
  | { e: 'ready' }
  | { e: 'error'; fields: ErrorFields }
  | { e: 'eof' }
  /** Unexpected or malformed bytes (not produced by a PostgreSQL server). */
  | { e: 'garbage'; reason: string };

export async function nextAuthEvent(sock: DriverSocket): Promise<AuthEvent> {
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

/** The attempts of one connect() call, one per TCP connection. */
export class AttemptLog {
  readonly attempts: DriverAttempt[] = [];

  add(encryption: Encryption, sslRequested: boolean, outcome: AttemptOutcome, extra: { sqlstate?: string; message?: string } = {}): DriverAttempt {
    const a: DriverAttempt = { encryption, sslRequested, outcome, ...extra };
    this.attempts.push(a);
    return a;
  }
}

export type Opened = { ok: true; sock: DriverSocket } | { ok: false; code: string; message: string };

/** connect(2) through the transport; Node's own wording for a refused connection. */
export async function openSocket(env: DriverEnv, host: string, port: number): Promise<Opened> {
  let raw: Duplex;
  try {
    raw = await env.transport.open(host, port);
  } catch (err) {
    const code = err instanceof TransportError ? err.code : ((err as { code?: string }).code ?? 'ECONNREFUSED');
    return { ok: false, code, message: `connect ${code} ${host}:${port}` };
  }
  return { ok: true, sock: new DriverSocket(raw) };
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
