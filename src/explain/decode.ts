/**
 * The protocol messages inside a connection's bytes, decoded with the project's wire
 * codec: startup packets until the StartupMessage, the one-byte answer to SSLRequest
 * and GSSENCRequest, typed messages after that, and TLS records skipped on the TCP layer
 * once TLS is on (their plaintext arrives on the 'tls' layer).
 */
import {
  decodeBackend, decodeFrontend, parseStartupPacket, NEGOTIATE_SSL_CODE, NEGOTIATE_GSS_CODE,
  type FramedBackendMessage, type FrontendMessage, type PasswordMessageKind,
} from '../wire/codec.js';
import type { ConnectionBytes, Side } from '../capture/streams.js';

export interface DecodedMessage {
  order: number;
  time: number;
  connection: number;
  from: Side;
  /** Sent inside TLS. */
  encrypted: boolean;
  /** The protocol's name for it: SSLRequest, StartupMessage, AuthenticationSASL, ErrorResponse, ... */
  name: string;
  /** One line for a learner: the message and what matters in it. */
  text: string;
  /** For ErrorResponse/NoticeResponse: severity and SQLSTATE. */
  severity?: string;
  sqlstate?: string;
}

interface Direction { buf: Buffer; startupPhase: boolean }

/** Decode one connection. Bytes that do not parse end that direction with one `undecodable` message. */
export function decodeConnection(c: ConnectionBytes): DecodedMessage[] {
  const out: DecodedMessage[] = [];
  // Per layer, per direction.
  const dirs = new Map<string, Direction>();
  const dir = (layer: string, from: Side): Direction => {
    const key = `${layer}/${from}`;
    let d = dirs.get(key);
    if (!d) { d = { buf: Buffer.alloc(0), startupPhase: from === 'client' }; dirs.set(key, d); }
    return d;
  };
  let awaitingAnswer: 'SSLRequest' | 'GSSENCRequest' | null = null;
  let tcpIsTls = false;
  let passwordKind: PasswordMessageKind = 'PasswordMessage';
  const broken = new Set<string>();

  for (const ch of c.chunks) {
    if (ch.layer === 'tcp' && tcpIsTls) continue;
    const key = `${ch.layer}/${ch.from}`;
    if (broken.has(key)) continue;
    const d = dir(ch.layer, ch.from);
    d.buf = Buffer.concat([d.buf, ch.data]);
    const emit = (name: string, text: string, extra: Partial<DecodedMessage> = {}) => out.push({
      order: ch.order, time: ch.time, connection: c.connection, from: ch.from, encrypted: ch.layer === 'tls', name, text, ...extra,
    });
    try {
      for (;;) {
        if (ch.from === 'server' && ch.layer === 'tcp' && awaitingAnswer) {
          if (d.buf.length < 1) break;
          const answer = String.fromCharCode(d.buf[0]!);
          d.buf = d.buf.subarray(1);
          emit('EncryptionResponse', `${answer}${answer === 'N' ? ` (no ${awaitingAnswer === 'SSLRequest' ? 'SSL' : 'GSSAPI encryption'})` : answer === 'S' ? ' (go ahead with TLS)' : ''}`);
          awaitingAnswer = null;
          if (answer === 'S' || answer === 'G') { tcpIsTls = true; break; }
          continue;
        }
        if (ch.from === 'client' && d.startupPhase) {
          if (ch.layer === 'tcp' && d.buf.length >= 1 && d.buf[0] === 0x16) {
            // A TLS ClientHello with no SSLRequest before it: direct SSL (17+).
            emit('DirectSSL', 'TLS ClientHello without SSLRequest (direct SSL, ALPN "postgresql")');
            tcpIsTls = true;
            break;
          }
          if (d.buf.length < 8) break;
          const len = d.buf.readUInt32BE(0);
          if (d.buf.length < len) break;
          const body = d.buf.subarray(4, len);
          d.buf = d.buf.subarray(len);
          const code = body.readUInt32BE(0);
          if (code === NEGOTIATE_SSL_CODE || code === NEGOTIATE_GSS_CODE) {
            const name = code === NEGOTIATE_SSL_CODE ? 'SSLRequest' : 'GSSENCRequest';
            emit(name, name);
            awaitingAnswer = name;
            continue;
          }
          const p = parseStartupPacket(Buffer.from(body));
          if (p.kind === 'StartupMessage') {
            const params = p.params.map(([k, v]) => `${k}=${v}`).join(' ');
            const v = p.protocolVersion;
            emit('StartupMessage', `StartupMessage${v.major !== 3 || v.minor !== 0 ? ` protocol ${v.major}.${v.minor}` : ''} ${params}`.trimEnd());
            d.startupPhase = false;
          } else if (p.kind === 'CancelRequest') {
            emit('CancelRequest', `CancelRequest pid=${p.pid}`);
          } else {
            emit(p.kind, `${p.kind} ${p.protocolVersion.major}.${p.protocolVersion.minor}`);
          }
          continue;
        }
        if (d.buf.length < 5) break;
        const type = d.buf[0]!;
        const len = d.buf.readUInt32BE(1);
        if (d.buf.length < 1 + len) break;
        const body = Buffer.from(d.buf.subarray(5, 1 + len));
        d.buf = d.buf.subarray(1 + len);
        if (ch.from === 'server') {
          const m = decodeBackend(type, body);
          if (m.type === 'AuthenticationSASL') passwordKind = 'SASLInitialResponse';
          else if (m.type === 'AuthenticationSASLContinue') passwordKind = 'SASLResponse';
          else if (m.type === 'AuthenticationCleartextPassword' || m.type === 'AuthenticationMD5Password') passwordKind = 'PasswordMessage';
          const extra = m.type === 'ErrorResponse' || m.type === 'NoticeResponse' ? { severity: m.fields.severity, sqlstate: m.fields.code } : {};
          emit(m.type, describeBackend(m), extra);
        } else {
          const m = decodeFrontend(type, body, passwordKind);
          emit(m.type, describeFrontend(m, passwordKind));
        }
      }
    } catch (err) {
      broken.add(key);
      emit('undecodable', `${d.buf.length} bytes that do not parse (${err instanceof Error ? err.message : String(err)})`);
    }
  }
  return out;
}

function describeBackend(m: FramedBackendMessage): string {
  switch (m.type) {
    case 'AuthenticationSASL': return `AuthenticationSASL [${m.mechanisms.join(', ')}]`;
    case 'AuthenticationSASLContinue': return `AuthenticationSASLContinue ${scramAttrs(m.data, ['r', 's', 'i'])}`;
    case 'AuthenticationSASLFinal': return `AuthenticationSASLFinal ${scramAttrs(m.data, ['v'])}`;
    case 'AuthenticationMD5Password': return `AuthenticationMD5Password salt=${m.salt.toString('hex')}`;
    case 'ErrorResponse':
    case 'NoticeResponse':
      return `${m.type} ${m.fields.severity} ${m.fields.code} ${m.fields.message}`;
    case 'ParameterStatus': return `ParameterStatus ${m.name}=${m.value}`;
    case 'BackendKeyData': return `BackendKeyData pid=${m.pid}`;
    case 'ReadyForQuery': return `ReadyForQuery ${m.status}`;
    case 'RowDescription': return `RowDescription ${m.fields.map((f) => f.name).join(', ')}`;
    case 'DataRow': return `DataRow ${m.values.map((v) => (v === null ? 'NULL' : v.toString('utf8'))).join(', ')}`;
    case 'CommandComplete': return `CommandComplete ${m.tag}`;
    case 'NegotiateProtocolVersion': return `NegotiateProtocolVersion 3.${m.newestMinorVersion}${m.unrecognizedOptions.length ? ` unrecognized ${m.unrecognizedOptions.join(', ')}` : ''}`;
    default: return m.type;
  }
}

function describeFrontend(m: FrontendMessage, kind: PasswordMessageKind): string {
  switch (m.type) {
    case 'SASLInitialResponse': {
      const gs2 = m.data ? m.data.toString('utf8').split(',')[0] ?? '' : '';
      const binding = gs2.startsWith('p=') ? `channel binding ${gs2.slice(2)}` : gs2 === 'y' ? 'no channel binding (client supports it, server offered none)' : 'no channel binding';
      return `SASLInitialResponse ${m.mechanism} (${binding})`;
    }
    case 'SASLResponse': return `SASLResponse ${scramAttrs(m.data, ['c', 'r', 'p']).replace(/p=\S+/, 'p=<proof>')}`;
    case 'PasswordMessage': return `PasswordMessage (${m.password.startsWith('md5') && m.password.length === 35 && kind === 'PasswordMessage' ? 'md5 hash' : 'cleartext password'})`;
    case 'Query': return `Query "${m.sql}"`;
    default: return m.type;
  }
}

/** `name=value` pairs of a SCRAM message, values shortened to keep a line readable. */
function scramAttrs(data: Buffer, keep: string[]): string {
  return data.toString('utf8').split(',')
    .filter((a) => keep.includes(a.slice(0, 1)) && a[1] === '=')
    .map((a) => (a.length > 18 ? `${a.slice(0, 14)}…` : a))
    .join(',');
}
