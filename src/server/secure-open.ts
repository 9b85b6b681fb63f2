/**
 * be-secure-openssl.c's be_tls_open_server, on node:tls: run the server side
 * of a TLS handshake over an accepted stream and report what OpenSSL would
 * have reported (the reason string after `could not accept SSL connection: `).
 */
import type { Duplex } from 'node:stream';
import * as tls from 'node:tls';
import type { PgMajor, TlsMaterial } from './settings.js';

export type HandshakeOutcome = { ok: true; socket: tls.TLSSocket } | { ok: false; reason: string };

/**
 * Start the handshake on `transport`; resolves when it succeeds, fails, or the
 * client hangs up (`hangUpSource` reports that for streams that are not a net.Socket).
 * `onKeylog` receives the TLS secrets as NSS key log lines (for packet captures).
 */
export function acceptTls(transport: Duplex, hangUpSource: Duplex, material: TlsMaterial, major: PgMajor, onKeylog?: (line: string) => void): Promise<HandshakeOutcome> {
  // A bare TLSSocket never finds out whether the client certificate verified
  // (node only sets `authorized` for sockets a tls.Server accepted), so hand
  // the socket to a one-connection tls.Server that never listens.
  const acceptor = tls.createServer({
    cert: material.cert, key: material.key, ...(material.ca ? { ca: material.ca } : {}),
    minVersion: material.minVersion, ...(material.maxVersion ? { maxVersion: material.maxVersion } : {}),
    // PostgreSQL asks for a client certificate only when ssl_ca_file is set.
    requestCert: material.ca !== null,
    rejectUnauthorized: false,
    // No handshake deadline of its own: authentication_timeout covers the handshake.
    handshakeTimeout: 0,
    // 17+ accepts only the "postgresql" ALPN protocol (a client offering others gets no_application_protocol).
    ...(major >= 17 ? { ALPNCallback: ({ protocols }: { protocols: string[] }) => (protocols.includes('postgresql') ? 'postgresql' : undefined) } : {}),
  });
  // A stream that is not a net.Socket (the in-memory transport) reports a hang-up only as 'end'/'close'.
  let hangUp = (): void => {};
  const handshake = new Promise<HandshakeOutcome>((resolve) => {
    acceptor.once('secureConnection', (s: tls.TLSSocket) => resolve({ ok: true, socket: s }));
    acceptor.once('tlsClientError', (e: Error & { reason?: string; code?: string; syscall?: string }) => resolve({ ok: false, reason: opensslReason(e) }));
    hangUp = () => resolve({ ok: false, reason: 'EOF detected' });
    hangUpSource.once('end', hangUp);
    hangUpSource.once('close', hangUp);
  }).finally(() => { hangUpSource.off('end', hangUp); hangUpSource.off('close', hangUp); });
  if (onKeylog) acceptor.on('keylog', (line: Buffer) => onKeylog(line.toString('latin1').trimEnd()));
  acceptor.emit('connection', transport);
  return handshake;
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
