/**
 * What Go's crypto/tls and crypto/x509 (Go 1.19) say when a handshake or a certificate check
 * fails, for the Go driver models (pgx, lib/pq): the models run the handshake with node:tls,
 * whose errors carry OpenSSL's codes, and report them in Go's words.
 *
 * - crypto/x509 UnknownAuthorityError.Error(): "x509: certificate signed by unknown authority"
 *   (a chain that ends in no root of the pool, or of /etc/ssl/certs when the pool is nil).
 * - crypto/x509 HostnameError.Error(): "x509: certificate is valid for A, B, not H" (IP SANs for
 *   an IP literal, DNS SANs otherwise). Not met by the verification grid (the dev certificate
 *   covers 127.0.0.1 and localhost): written from the Go source, not measured.
 * - Go 1.19 returns these unwrapped (1.20 wraps them in "tls: failed to verify certificate: ").
 * - Certificate.Verify() checks the host name first, then builds chains (crypto/x509 verify.go).
 * - A handshake the server cuts short reads io.EOF: "EOF".
 */
import * as net from 'node:net';
import * as tls from 'node:tls';
import type { TlsResult } from './wire.js';

/** OpenSSL's codes, as node:tls reports them, for a chain that does not lead to a trusted root. */
export const UNTRUSTED_CHAIN = new Set([
  'SELF_SIGNED_CERT_IN_CHAIN', 'DEPTH_ZERO_SELF_SIGNED_CERT', 'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY', 'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
]);

export const GO_UNKNOWN_AUTHORITY = 'x509: certificate signed by unknown authority';

/** HostnameError.Error() for a certificate whose subjectAltName is `san` (Node's "DNS:a, IP Address:b" form). */
export function goHostnameError(host: string, san: string | undefined): string {
  const entries = (san ?? '').split(', ').filter((s) => s !== '');
  const ips = entries.filter((e) => e.startsWith('IP Address:')).map((e) => goIpString(e.slice('IP Address:'.length)));
  const dns = entries.filter((e) => e.startsWith('DNS:')).map((e) => e.slice('DNS:'.length));
  if (net.isIP(host) !== 0) {
    if (ips.length === 0) return `x509: cannot validate certificate for ${host} because it doesn't contain any IP SANs`;
    return `x509: certificate is valid for ${ips.join(', ')}, not ${host}`;
  }
  if (dns.length === 0) return `x509: certificate is not valid for any names, but wanted to match ${host}`;
  return `x509: certificate is valid for ${dns.join(', ')}, not ${host}`;
}

/** net.IP.String(): IPv6 in its shortest form (OpenSSL prints 0:0:0:0:0:0:0:1). */
function goIpString(ip: string): string {
  if (!ip.includes(':')) return ip;
  const groups = ip.split(':').map((g) => g.replace(/^0+(?=.)/, '').toLowerCase());
  // The longest run of two or more zero groups becomes '::'.
  let best = -1;
  let bestLen = 1;
  for (let i = 0; i < groups.length;) {
    if (groups[i] !== '0') { i++; continue; }
    let j = i;
    while (j < groups.length && groups[j] === '0') j++;
    if (j - i > bestLen) { best = i; bestLen = j - i; }
    i = j;
  }
  if (best < 0) return groups.join(':');
  return `${groups.slice(0, best).join(':')}::${groups.slice(best + bestLen).join(':')}`;
}

/** x509 VerifyHostname() against node:tls's parsed certificate: null when it covers `name`. */
function hostnameError(name: string, peer: tls.PeerCertificate | undefined): string | null {
  if (!peer) return null;
  return tls.checkServerIdentity(name, peer) === undefined ? null : goHostnameError(name, peer.subjectaltname);
}

/**
 * Certificate.Verify() with DNSName = `name` (null: the chain only), in Go's order: the host
 * name first, then the chain (crypto/x509 verify.go). Go's error text, or null when it passes.
 * `authorizationError` is node:tls's verdict on the chain (OpenSSL's code).
 */
export function goCertificateCheck(name: string | null, peer: tls.PeerCertificate | undefined, authorizationError: string | null): string | null {
  const wrongName = name === null ? null : hostnameError(name, peer);
  if (wrongName) return wrongName;
  if (authorizationError) return UNTRUSTED_CHAIN.has(authorizationError) ? GO_UNKNOWN_AUTHORITY : `x509: ${authorizationError}`;
  return null;
}

/** A check inside the handshake, for DriverSocket.startTls(): Go's text as the error's message. */
export function goHandshakeCheck(name: string | null): (peer: tls.PeerCertificate | undefined, authorizationError: string | null) => (Error & { code: string }) | null {
  return (peer, authorizationError) => {
    const text = goCertificateCheck(name, peer, authorizationError);
    return text === null ? null : Object.assign(new Error(text), { code: GO_CHECK_FAILED });
  };
}
const GO_CHECK_FAILED = 'GO_X509_CHECK';

/** A failed handshake as Go reports it: the check's own text, or io.EOF for a handshake the server cut short. */
export function goTlsError(e: Error & { code?: string }): string {
  return e.code === GO_CHECK_FAILED ? e.message : 'EOF';
}
