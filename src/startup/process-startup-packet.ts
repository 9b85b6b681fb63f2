/**
 * ProcessStartupPacket: the pre-authentication dialogue. SSLRequest and
 * GSSENCRequest may each be answered once; then comes CancelRequest or the
 * StartupMessage proper, whose parameters fill in the Port.
 */
import { match, P } from 'ts-pattern';
import { asciiLower, bytesToString, stringToBytes } from '../bytes.js';
import { PgError } from '../errors.js';
import type { ClientConnection } from '../connection.js';
import type { PgMajor } from '../server/settings.js';
import { ProcExit } from '../server/exits.js';
import {
  CANCEL_REQUEST_CODE, NEGOTIATE_SSL_CODE, NEGOTIATE_GSS_CODE, parseStartupPacket,
} from '../wire/codec.js';
import { processCancelRequest } from './cancel.js';


const NAMEDATALEN = 64;
const PROTOCOL_EARLIEST = { major: 3, minor: 0 };

/** 18 speaks protocol 3.2 (longer cancel keys); 15–17 only 3.0. */
export function latestProtocol(major: PgMajor): { major: number; minor: number } {
  return { major: 3, minor: major >= 18 ? 2 : 0 };
}

/**
 * Which encryption requests have been dealt with. PostgreSQL keeps two
 * flags (ssl_done, gss_done); accepting either encryption sets both.
 */
export type Negotiation =
  | { state: 'plain' }
  | { state: 'ssl-refused' }
  | { state: 'gss-refused' }
  | { state: 'both-refused' }
  | { state: 'encrypted'; via: 'ssl' | 'gss' | 'direct-ssl' };

type Request = 'ssl' | 'gss' | 'cancel' | 'startup';

function classify(code: number): Request {
  return code === NEGOTIATE_SSL_CODE ? 'ssl' : code === NEGOTIATE_GSS_CODE ? 'gss' : code === CANCEL_REQUEST_CODE ? 'cancel' : 'startup';
}

/** An encryption request is special only until that kind has been answered. */
function mayNegotiate(n: Negotiation, req: 'ssl' | 'gss'): boolean {
  return match([n, req] as const)
    .with([{ state: 'plain' }, P._], () => true)
    .with([{ state: 'ssl-refused' }, 'gss'], () => true)
    .with([{ state: 'gss-refused' }, 'ssl'], () => true)
    .with([{ state: 'ssl-refused' }, 'ssl'], [{ state: 'gss-refused' }, 'gss'], () => false)
    .with([{ state: 'both-refused' }, P._], [{ state: 'encrypted' }, P._], () => false)
    .exhaustive();
}

function afterRefusal(n: Negotiation, req: 'ssl' | 'gss'): Negotiation {
  return match(n)
    .with({ state: 'plain' }, () => (req === 'ssl' ? { state: 'ssl-refused' } : { state: 'gss-refused' }) as Negotiation)
    .otherwise(() => ({ state: 'both-refused' }) as Negotiation);
}

export async function processStartupPacket(be: ClientConnection): Promise<void> {
  let negotiation: Negotiation = { state: 'plain' };
  if (be.settings.serverMajor >= 17) negotiation = await maybeDirectSsl(be);
  for (;;) {
    const read = await be.readStartupPacket();
    const body = match(read)
      // No bytes at all: a port probe, or a client that refused our answer. Not worth a log line.
      .with({ kind: 'eof' }, () => { throw new ProcExit('eof'); })
      .with({ kind: 'incomplete', where: 'length' }, () => {
        if (negotiation.state !== 'plain') throw new ProcExit('eof');
        throw be.commError('incomplete startup packet');
      })
      .with({ kind: 'incomplete', where: 'body' }, () => { throw be.commError('incomplete startup packet'); })
      .with({ kind: 'invalid-length' }, () => { throw be.commError('invalid length of startup packet'); })
      .with({ kind: 'packet' }, (r) => r.body)
      .exhaustive();

    const code = body.readUInt32BE(0);
    const request = classify(code);

    if (request === 'cancel') {
      processCancelRequest(be, body);
      throw new ProcExit('eof');
    }

    // Inside a direct SSL connection (17+) an SSLRequest is simply refused.
    if (request === 'ssl' && negotiation.state === 'encrypted' && negotiation.via === 'direct-ssl') {
      be.send({ type: 'EncryptionResponse', answer: 'N' });
      be.flush();
      be.emit({ type: 'ssl-request', answer: 'N' });
      continue;
    }

    if ((request === 'ssl' || request === 'gss') && mayNegotiate(negotiation, request)) {
      negotiation = await answerEncryptionRequest(be, request, negotiation);
      continue;
    }

    await processStartupMessage(be, body, code);
    return;
  }
}

/**
 * 17+: a connection whose first byte is a TLS handshake record (0x16) starts
 * TLS at once, without an SSLRequest. Without SSL it is dropped silently.
 */
async function maybeDirectSsl(be: ClientConnection): Promise<Negotiation> {
  const first = await be.peekByte();
  if (first !== 0x16) return { state: 'plain' };
  if (!be.settings.ssl || !be.settings.tls) throw new ProcExit('eof');
  await be.openTls({ direct: true });
  be.emit({ type: 'direct-ssl' });
  return { state: 'encrypted', via: 'direct-ssl' };
}

async function answerEncryptionRequest(be: ClientConnection, request: 'ssl' | 'gss', n: Negotiation): Promise<Negotiation> {
  if (request === 'gss') {
    // Built without GSSAPI, like the PostgreSQL 16–18 binaries from npm.
    be.send({ type: 'EncryptionResponse', answer: 'N' });
    be.flush();
    be.emit({ type: 'gssenc-request', answer: 'N' });
    rejectBufferedPlaintext(be, be.bufferedLength() > 0, 'GSSAPI encryption');
    return afterRefusal(n, 'gss');
  }
  const accept = be.settings.ssl && be.settings.tls !== null;
  const answer = accept ? 'S' : 'N';
  be.send({ type: 'EncryptionResponse', answer });
  be.flush();
  be.emit({ type: 'ssl-request', answer });
  if (!accept) {
    rejectBufferedPlaintext(be, be.bufferedLength() > 0, 'SSL');
    return afterRefusal(n, 'ssl');
  }
  const leftover = await be.openTls();
  // PostgreSQL 15 keeps pipelined plaintext in its own buffer and complains over the new TLS session.
  rejectBufferedPlaintext(be, leftover.length > 0, 'SSL');
  return { state: 'encrypted', via: 'ssl' };
}

/** CVE-2021-23214: bytes that arrived before encryption must not be read as if they had been encrypted. */
function rejectBufferedPlaintext(be: ClientConnection, hasData: boolean, what: 'SSL' | 'GSSAPI encryption'): void {
  if (!hasData) return;
  throw new PgError({
    severity: 'FATAL',
    sqlstate: '08P01',
    message: `received unencrypted data after ${what} request`,
    detail: 'This could be either a client-software bug or evidence of an attempted man-in-the-middle attack.',
    file: 'postmaster.c',
    line: what === 'SSL' ? 2134 : 2185,
    routine: 'ProcessStartupPacket',
  });
}

async function processStartupMessage(be: ClientConnection, body: Buffer, code: number): Promise<void> {
  const major = code >>> 16;
  const minor = code & 0xffff;
  // FrontendProtocol is set before the check so the error goes out in the client's format.
  be.frontendProtocol = { major, minor };
  const PROTOCOL_LATEST = latestProtocol(be.settings.serverMajor);
  if (major < PROTOCOL_EARLIEST.major || major > PROTOCOL_LATEST.major) {
    throw new PgError({
      severity: 'FATAL',
      sqlstate: '0A000',
      message: `unsupported frontend protocol ${major}.${minor}: server supports ${PROTOCOL_EARLIEST.major}.${PROTOCOL_EARLIEST.minor} to ${PROTOCOL_LATEST.major}.${PROTOCOL_LATEST.minor}`,
      file: 'postmaster.c', line: 2220, routine: 'ProcessStartupPacket',
    });
  }

  const port = be.port;
  const gucs: Array<[string, string]> = [];
  const unrecognized: string[] = [];
  // The Port fills in while the packet is scanned, so an error part-way shows what was known (%u/%d).
  const packet = parseStartupPacket(body, {
    onParam: (name, value, raw) => {
      if (name === 'database') port.database_name = value;
      else if (name === 'user') port.user_name = value;
      else if (name === 'options') port.cmdline_options = value;
      else if (name === 'replication') {
        if (!isReplicationValue(value)) {
          throw new PgError({
            severity: 'FATAL', sqlstate: '22023',
            message: `invalid value for parameter "replication": "${value}"`,
            hint: 'Valid values are: "false", 0, "true", 1, "database".',
            file: 'postmaster.c', line: 2284, routine: 'ProcessStartupPacket',
          });
        }
      } else if (name.startsWith('_pq_.')) unrecognized.push(name);
      else {
        gucs.push([name, value]);
        if (name === 'application_name') port.application_name = cleanAscii(raw.value, be.settings.serverMajor);
      }
    },
  });
  if (minor > PROTOCOL_LATEST.minor || unrecognized.length > 0) {
    const newestMinor = Math.min(minor, PROTOCOL_LATEST.minor);
    be.send({ type: 'NegotiateProtocolVersion', newestMinorVersion: newestMinor, unrecognizedOptions: unrecognized });
    be.emit({ type: 'protocol-negotiated', newestMinor, unrecognizedOptions: unrecognized });
  }
  port.guc_options = gucs;
  if (port.user_name === '') {
    throw new PgError({
      severity: 'FATAL', sqlstate: '28000',
      message: 'no PostgreSQL user name specified in startup packet',
      file: 'postmaster.c', line: 2349, routine: 'ProcessStartupPacket',
    });
  }
  if (port.database_name === '') port.database_name = port.user_name;
  port.user_name = clipName(port.user_name);
  port.database_name = clipName(port.database_name);
  be.emit({
    type: 'startup-packet',
    protocol: `${major}.${minor}`,
    user: port.user_name,
    database: port.database_name,
    options: Object.fromEntries(packet.kind === 'StartupMessage' ? packet.params : []),
    rawParams: packet.kind === 'StartupMessage' ? packet.rawParams : [],
  });
}

function isReplicationValue(v: string): boolean {
  if (v === 'database') return true;
  return parseBool(v) !== null;
}

/** parse_bool(): case-insensitive prefixes of true/false/yes/no, on/off (at least 2 chars), 1/0. */
export function parseBool(v: string): boolean | null {
  const s = asciiLower(v);
  if (s.length === 0) return null;
  const prefixOf = (word: string, min = 1) => s.length >= min && word.startsWith(s);
  if (prefixOf('true') || prefixOf('yes')) return true;
  if (prefixOf('false') || prefixOf('no')) return false;
  if (s === 'on') return true;
  if (prefixOf('off', 2)) return false;
  if (s === '1') return true;
  if (s === '0') return false;
  return null;
}

/**
 * pg_clean_ascii: bytes outside printable ASCII become '?' in 15 and `\xNN`
 * escapes from 16 on.
 */
export function cleanAscii(bytes: Buffer, major: PgMajor = 15): string {
  let out = '';
  if (major >= 16) {
    for (const b of bytes) out += b < 32 || b > 126 ? `\\x${b.toString(16).padStart(2, '0')}` : String.fromCharCode(b);
    return out;
  }
  for (const b of bytes) out += b < 32 || b > 126 ? '?' : String.fromCharCode(b);
  return out;
}

/**
 * ProcessStartupPacket's truncation to NAMEDATALEN-1 bytes: a plain cut, even inside a
 * multibyte character (no database encoding is known yet; observed on 15.20: 40 × 'é'
 * becomes 31 × 'é' and a lone 0xC3).
 */
export function clipName(s: string): string {
  const bytes = stringToBytes(s);
  if (bytes.length < NAMEDATALEN) return s;
  return bytesToString(bytes.subarray(0, NAMEDATALEN - 1));
}
