/**
 * be-secure-openssl.c's be_tls_open_server, on node:tls: run the server side
 * of a TLS handshake over an accepted stream and report what OpenSSL would
 * have reported (the reason string after `could not accept SSL connection: `).
 */
import type { Duplex } from 'node:stream';
import * as tls from 'node:tls';
import { createHash, X509Certificate } from 'node:crypto';
import { tlsServerEndPointHash } from '../common/cert-hash.js';
import type { PgMajor, TlsMaterial } from './settings.js';

export type HandshakeOutcome = { ok: true; socket: tls.TLSSocket } | { ok: false; reason: string };

interface Waiter { settle(o: HandshakeOutcome): void; onKeylog: ((line: string) => void) | undefined }

/**
 * One tls.Server per TLS configuration, never listening: every backend hands it
 * its socket, as PostgreSQL's backends share one SSL_CTX. Building the context
 * (parsing the key and certificates) once instead of per connection is most of
 * what a handshake used to cost besides the handshake itself. The server, not a
 * bare TLSSocket, is what makes node verify a client certificate (`authorized`).
 */
export class TlsAcceptor {
  private readonly server: tls.Server;
  private readonly waiting = new Map<object, Waiter>();
  /** tls-server-end-point channel binding data: the hash of our certificate, computed once. */
  readonly serverEndPoint: Buffer;

  constructor(material: TlsMaterial, major: PgMajor) {
    this.serverEndPoint = tlsServerEndPointHash(new X509Certificate(material.cert).raw);
    this.server = tls.createServer({
      cert: material.cert, key: material.key, ...(material.ca ? { ca: material.ca } : {}),
      minVersion: material.minVersion, ...(material.maxVersion ? { maxVersion: material.maxVersion } : {}),
      // PostgreSQL asks for a client certificate only when ssl_ca_file is set.
      requestCert: material.ca !== null,
      rejectUnauthorized: false,
      // No handshake deadline of its own: authentication_timeout covers the handshake.
      handshakeTimeout: 0,
      // ssl_ecdh_curve (default prime256v1): the one ECDHE group, as PostgreSQL configures its SSL_CTX.
      ecdhCurve: material.ecdhCurve ?? 'prime256v1',
      // 17+ accepts only the "postgresql" ALPN protocol (a client offering others gets no_application_protocol).
      ...(major >= 17 ? { ALPNCallback: ({ protocols }: { protocols: string[] }) => (protocols.includes('postgresql') ? 'postgresql' : undefined) } : {}),
    });
    this.server.on('secureConnection', (s: tls.TLSSocket) => this.waiterOf(s)?.settle({ ok: true, socket: s }));
    this.server.on('tlsClientError', (e: Error & { reason?: string; code?: string; syscall?: string }, s: tls.TLSSocket) => this.waiterOf(s)?.settle({ ok: false, reason: opensslReason(e) }));
  }

  /** Handshakes under way that want their key log (capture); node emits it only while someone listens. */
  private keylogWanted = 0;
  private readonly onKeylog = (line: Buffer, s: tls.TLSSocket): void => this.waiterOf(s)?.onKeylog?.(line.toString('latin1').trimEnd());

  /**
   * The connection a TLSSocket belongs to: node keeps the stream it wraps as the
   * handle's `_parentWrap` (the net.Socket itself, or a JSStreamSocket around a JS stream).
   */
  private waiterOf(s: tls.TLSSocket): Waiter | undefined {
    const wrap = (s as unknown as { _handle?: { _parentWrap?: { stream?: object } } })._handle?._parentWrap;
    if (!wrap) return undefined;
    return this.waiting.get(wrap) ?? (wrap.stream ? this.waiting.get(wrap.stream) : undefined);
  }

  /**
   * Start the handshake on `transport`; resolves when it succeeds, fails, or the
   * client hangs up (`hangUpSource` reports that for streams that are not a net.Socket).
   * `onKeylog` receives the TLS secrets as NSS key log lines (for packet captures).
   */
  accept(transport: Duplex, hangUpSource: Duplex, onKeylog?: (line: string) => void): Promise<HandshakeOutcome> {
    // A FIN during the handshake must fail it (node reports that only on a socket that is not
    // half-open); once the session is up, a client's close only ends its input again.
    transport.allowHalfOpen = false;
    let hangUp = (): void => {};
    const handshake = new Promise<HandshakeOutcome>((resolve) => {
      const settle = (o: HandshakeOutcome) => {
        if (!this.waiting.delete(transport)) return;
        if (o.ok) {
          o.socket.allowHalfOpen = true;
          transport.allowHalfOpen = true;
        }
        resolve(o);
      };
      this.waiting.set(transport, { settle, onKeylog });
      // A stream that is not a net.Socket (the in-memory transport) reports a hang-up only as 'end'/'close'.
      hangUp = () => settle({ ok: false, reason: 'EOF detected' });
      hangUpSource.once('end', hangUp);
      hangUpSource.once('close', hangUp);
    }).finally(() => {
      this.waiting.delete(transport);
      hangUpSource.off('end', hangUp);
      hangUpSource.off('close', hangUp);
    });
    if (onKeylog) {
      if (this.keylogWanted++ === 0) this.server.on('keylog', this.onKeylog);
      void handshake.finally(() => { if (--this.keylogWanted === 0) this.server.off('keylog', this.onKeylog); });
    }
    this.server.emit('connection', transport);
    return handshake;
  }
}

/**
 * Acceptors by what their context is built from. A server started from the same files gets
 * the acceptor the last one used (a suite that starts a server per test builds one context,
 * not one per test); new content (a reload that re-read changed certificates) gets a new one.
 */
const acceptors = new Map<string, TlsAcceptor>();
const MAX_ACCEPTORS = 32;
const materialKeys = new WeakMap<TlsMaterial, string>();

function materialKey(m: TlsMaterial): string {
  let k = materialKeys.get(m);
  if (k === undefined) {
    const h = createHash('sha256');
    for (const part of [m.cert, m.key, m.ca]) {
      h.update(part === null ? '-' : `${part.length}:`);
      if (part !== null) h.update(part);
    }
    k = `${h.digest('hex')}|${m.minVersion}|${m.maxVersion ?? ''}|${m.ecdhCurve ?? ''}`;
    materialKeys.set(m, k);
  }
  return k;
}

/** The acceptor for this TLS material and server major (17+ adds ALPN). */
export function tlsAcceptor(material: TlsMaterial, major: PgMajor): TlsAcceptor {
  const key = `${materialKey(material)}|${major}`;
  let a = acceptors.get(key);
  if (a) {
    // Most recently used last, so the oldest goes first when the cache is full.
    acceptors.delete(key);
  } else {
    a = new TlsAcceptor(material, major);
    if (acceptors.size >= MAX_ACCEPTORS) acceptors.delete(acceptors.keys().next().value!);
  }
  acceptors.set(key, a);
  return a;
}

/** The text after `could not accept SSL connection: `: OpenSSL's reason, `EOF detected`, or strerror(errno). */
export function opensslReason(e: Error & { reason?: string; code?: string; syscall?: string }): string {
  if (e.reason) return e.reason;
  // node reports a peer that closed mid-handshake as a "socket hang up" with code ECONNRESET but no syscall.
  if (/socket hang up|EOF/i.test(e.message) || (e.code === 'ECONNRESET' && !e.syscall)) return 'EOF detected';
  const strerror = e.code ? SYSCALL_ERRORS[e.code] : undefined;
  return strerror ?? e.message;
}

/** glibc's strerror() for the errors a recv()/send() can give. */
export const SYSCALL_ERRORS: Record<string, string> = {
  ECONNRESET: 'Connection reset by peer',
  EPIPE: 'Broken pipe',
  ETIMEDOUT: 'Connection timed out',
};

/** Whether an OpenSSL reason is about protocol versions (PostgreSQL then adds a HINT naming the range). */
export function isVersionProblem(reason: string): boolean {
  return /wrong version number|unsupported protocol|version too low|version too high|no protocols available/i.test(reason);
}

/** OpenSSL rejections of a record by its 5-byte header alone (ssl3_get_record), before reading its body. */
export function isRecordHeaderFailure(reason: string): boolean {
  return /wrong version number|http request|https proxy request|packet length too long|record layer failure/i.test(reason);
}

/** X509_NAME_print_ex with XN_FLAG_RFC2253: most specific RDN first, comma separated. */
export function rfc2253(subject: string): string {
  return subject.split('\n').filter(Boolean).reverse().join(',');
}

/** bits of the negotiated symmetric cipher, as SSL_get_cipher_bits reports. */
export function cipherBits(name: string): number {
  if (/CHACHA20|AES_256|AES256/i.test(name)) return 256;
  if (/AES_128|AES128/i.test(name)) return 128;
  return 0;
}
