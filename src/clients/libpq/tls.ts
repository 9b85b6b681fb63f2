/**
 * libpq's OpenSSL side (fe-secure-openssl.c) on node:tls: which root and client
 * certificates to load (initialize_SSL), the handshake on the already-open socket
 * (open_client_SSL) and libpq's own host name check for verify-full
 * (pq_verify_peer_name_matches_certificate), with libpq's error texts.
 */
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as tls from 'node:tls';
import { X509Certificate } from 'node:crypto';
import type { Duplex } from 'node:stream';
import type { ConnHost, ConnOptions } from '../conninfo.js';
import { strerror } from './transport.js';
import { closeGracefully } from './wire.js';
import { bundledRoots, clientSecureContext } from '../tls-context.js';
import { SERVER_CLOSED_UNEXPECTEDLY } from './messages.js';

/** File access for certificates and keys; defaults to node:fs. */
export interface FileAccess {
  stat(path: string): { isFile: boolean; mode: number; uid: number } | { error: string } | null;
  read(path: string): Buffer | null;
}

export const fsFileAccess: FileAccess = {
  stat(path) {
    try {
      const st = fs.statSync(path);
      return { isFile: st.isFile(), mode: st.mode, uid: st.uid };
    } catch (err) {
      const code = (err as { code?: string }).code ?? 'EIO';
      return code === 'ENOENT' || code === 'ENOTDIR' ? null : { error: strerror(code) };
    }
  },
  read(path) {
    try {
      return fs.readFileSync(path);
    } catch {
      return null;
    }
  },
};

export interface SslSetup {
  /** Trusted roots; null means libpq does not verify the chain (no root certificate file). */
  ca: Array<string | Buffer> | null;
  cert: Buffer | null;
  key: Buffer | null;
  servername: string | null;
  minVersion: tls.SecureVersion;
  maxVersion: tls.SecureVersion | null;
}

const NOT_VERIFIED_HINT = 'Either provide the file or change sslmode to disable server certificate verification.';

function secureVersion(v: string | null, fallback: tls.SecureVersion): tls.SecureVersion {
  if (v === null) return fallback;
  const found = (['TLSv1', 'TLSv1.1', 'TLSv1.2', 'TLSv1.3'] as const).find((x) => x.toLowerCase() === v.toLowerCase());
  return found ?? fallback;
}

/** Host names get SNI; IP addresses (all digits and dots, or any ':') do not. */
function sniName(o: ConnOptions, host: ConnHost): string | null {
  const h = host.host;
  if (!o.sslsni || h === null || h === '' || host.type === 'unix') return null;
  if (/^[0-9.]+$/.test(h) || h.includes(':')) return null;
  return h;
}

/** initialize_SSL(): runs after the server said 'S', so its failures cost a TCP connection. */
export function initializeSsl(
  o: ConnOptions, host: ConnHost, homeDir: string | null, files: FileAccess = fsFileAccess,
): { ok: true; setup: SslSetup } | { ok: false; error: string } {
  let ca: Array<string | Buffer> | null = null;
  if (o.version >= 16 && o.sslrootcert === 'system') {
    // OpenSSL's default verify paths; Node's bundled store is the closest stand-in.
    ca = bundledRoots();
  } else {
    const rootPath = o.sslrootcert ?? (homeDir !== null ? `${homeDir}/.postgresql/root.crt` : '');
    const st = rootPath !== '' ? files.stat(rootPath) : null;
    if (st !== null && !('error' in st)) {
      const pem = files.read(rootPath);
      if (pem === null || !pem.toString('latin1').includes('-----BEGIN CERTIFICATE-----')) {
        return { ok: false, error: `could not read root certificate file "${rootPath}": no certificate or crl found` };
      }
      ca = [pem];
    } else if (o.sslmode === 'verify-ca' || o.sslmode === 'verify-full') {
      if (rootPath === '') return { ok: false, error: `could not get home directory to locate root certificate file\n${NOT_VERIFIED_HINT}` };
      return { ok: false, error: `root certificate file "${rootPath}" does not exist\n${NOT_VERIFIED_HINT}` };
    }
  }

  let cert: Buffer | null = null;
  let key: Buffer | null = null;
  const certPath = o.sslcert ?? (homeDir !== null ? `${homeDir}/.postgresql/postgresql.crt` : '');
  if (o.sslcertmode !== 'disable' && certPath !== '') {
    const st = files.stat(certPath);
    if (st !== null && 'error' in st) return { ok: false, error: `could not open certificate file "${certPath}": ${st.error}` };
    if (st !== null) {
      cert = files.read(certPath);
      if (cert === null) return { ok: false, error: `could not read certificate file "${certPath}": no certificate or crl found` };
      const keyPath = o.sslkey ?? (homeDir !== null ? `${homeDir}/.postgresql/postgresql.key` : '');
      const kst = keyPath !== '' ? files.stat(keyPath) : null;
      if (kst === null || 'error' in kst) return { ok: false, error: `certificate present, but not private key file "${keyPath}"` };
      if (!kst.isFile) return { ok: false, error: `private key file "${keyPath}" is not a regular file` };
      const euid = typeof process.geteuid === 'function' ? process.geteuid() : -1;
      if ((kst.uid === euid && (kst.mode & 0o077) !== 0) || (kst.uid === 0 && (kst.mode & 0o037) !== 0)) {
        return {
          ok: false,
          error: `private key file "${keyPath}" has group or world access; file must have permissions u=rw (0600) or less if owned by the current user, or permissions u=rw,g=r (0640) or less if owned by root`,
        };
      }
      key = files.read(keyPath);
      if (key === null) return { ok: false, error: `could not load private key file "${keyPath}": no such file` };
    }
  }

  return {
    ok: true,
    setup: {
      ca,
      cert,
      key,
      servername: sniName(o, host),
      minVersion: secureVersion(o.sslMinProtocolVersion, 'TLSv1.2'),
      maxVersion: o.sslMaxProtocolVersion === null ? null : secureVersion(o.sslMaxProtocolVersion, 'TLSv1.3'),
    },
  };
}

/** OpenSSL's X509 verification failures all read "certificate verify failed" in libpq. */
const VERIFY_ERRORS = new Set([
  'UNABLE_TO_GET_ISSUER_CERT', 'UNABLE_TO_GET_CRL', 'UNABLE_TO_DECRYPT_CERT_SIGNATURE', 'UNABLE_TO_DECRYPT_CRL_SIGNATURE',
  'UNABLE_TO_DECODE_ISSUER_PUBLIC_KEY', 'CERT_SIGNATURE_FAILURE', 'CRL_SIGNATURE_FAILURE', 'CERT_NOT_YET_VALID', 'CERT_HAS_EXPIRED',
  'CRL_NOT_YET_VALID', 'CRL_HAS_EXPIRED', 'ERROR_IN_CERT_NOT_BEFORE_FIELD', 'ERROR_IN_CERT_NOT_AFTER_FIELD',
  'DEPTH_ZERO_SELF_SIGNED_CERT', 'SELF_SIGNED_CERT_IN_CHAIN', 'UNABLE_TO_GET_ISSUER_CERT_LOCALLY', 'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'CERT_CHAIN_TOO_LONG', 'CERT_REVOKED', 'INVALID_CA', 'PATH_LENGTH_EXCEEDED', 'INVALID_PURPOSE', 'CERT_UNTRUSTED', 'CERT_REJECTED',
]);

const VERSION_REASONS = new Set([
  'no protocols available', 'unsupported protocol', 'bad protocol version number', 'unknown protocol', 'unknown ssl version',
  'unsupported ssl version', 'wrong ssl version', 'wrong version number', 'tlsv1 alert protocol version', 'version too high', 'version too low',
]);

function handshakeError(err: unknown, o: ConnOptions, eof: string): string {
  const e = err as { code?: string; reason?: string; message?: string; syscall?: string };
  // A reset read by OpenSSL's socket BIO: pqsecure_raw_read() reports it, then open_client_SSL().
  if (e.code === 'ECONNRESET' && e.syscall) return `${SERVER_CLOSED_UNEXPECTEDLY}\nSSL SYSCALL error: ${strerror('ECONNRESET')}`;
  if (e.code && VERIFY_ERRORS.has(e.code)) return 'SSL error: certificate verify failed';
  if (typeof e.reason === 'string' && e.reason !== '') {
    let text = `SSL error: ${e.reason}`;
    if (VERSION_REASONS.has(e.reason)) {
      text += `\nThis may indicate that the server does not support any SSL protocol version between ${o.sslMinProtocolVersion ?? 'TLSv1'} and ${o.sslMaxProtocolVersion ?? 'TLSv1.3'}.`;
    }
    return text;
  }
  if (e.code === 'ECONNRESET' || e.code === undefined || /disconnected|socket hang up|EOF/i.test(e.message ?? '')) {
    return eof;
  }
  return `SSL SYSCALL error: ${strerror(e.code)}`;
}

export type HandshakeResult =
  | { ok: true; socket: tls.TLSSocket; peerCertificate: Buffer; clientCertSent: boolean; protocol: string; cipher: string; alpnProtocol: string | null }
  | { ok: false; error: string };

/** How the libpq version and build shape the handshake. */
export interface HandshakeOptions {
  /** 17+: offer ALPN "postgresql". */
  alpn?: boolean;
  /** 17+ sslnegotiation=direct: the server must have chosen "postgresql". */
  requireAlpn?: boolean;
  /** The text for a server that hangs up mid-handshake (depends on the OpenSSL version). */
  handshakeEof?: string;
}

const HANDSHAKE_EOF = 'SSL SYSCALL error: EOF detected';

/** open_client_SSL() plus the ALPN and verify-full name checks, on the socket that got 'S' (or a direct one). */
export function openClientSsl(raw: Duplex, setup: SslSetup, o: ConnOptions, host: ConnHost, opts: HandshakeOptions = {}): Promise<HandshakeResult> {
  const eof = opts.handshakeEof ?? HANDSHAKE_EOF;
  return new Promise((resolve) => {
    const socket = tls.connect({
      socket: raw as net.Socket,
      ...(opts.alpn ? { ALPNProtocols: ['postgresql'] } : {}),
      // libpq's SSL_CTX: roots, client certificate and protocol range, shared across connections.
      secureContext: clientSecureContext({
        ca: setup.ca ?? undefined,
        ...(setup.cert && setup.key ? { cert: setup.cert, key: setup.key } : {}),
        minVersion: setup.minVersion,
        maxVersion: setup.maxVersion ?? undefined,
      }),
      ...(setup.servername ? { servername: setup.servername } : {}),
      // Chain checks only when a root certificate was loaded; the name check is libpq's own, below.
      rejectUnauthorized: setup.ca !== null,
      checkServerIdentity: () => undefined,
    });
    // node:tls builds the detailed peer certificate (the chain as objects, fingerprints and all)
    // only to hand it to checkServerIdentity, which libpq's model does not use: skip building it.
    socket.getPeerCertificate = peerCertificateForNodeCheck as tls.TLSSocket['getPeerCertificate'];
    let settled = false;
    const done = (r: HandshakeResult, gracefully = false) => {
      if (settled) return;
      settled = true;
      socket.off('error', onError);
      socket.off('close', onClose);
      if (!r.ok) {
        // After a finished handshake libpq's close still flushes its Finished and a close_notify.
        if (gracefully) closeGracefully(socket);
        else socket.destroy();
      }
      resolve(r);
    };
    const onError = (err: Error) => done({ ok: false, error: handshakeError(err, o, eof) });
    const onClose = () => done({ ok: false, error: eof });
    socket.once('error', onError);
    socket.once('close', onClose);
    socket.once('secureConnect', () => {
      const alpnProtocol = typeof socket.alpnProtocol === 'string' ? socket.alpnProtocol : null;
      if (opts.requireAlpn) {
        // The ALPN answer is what tells a direct-SSL client it reached a PostgreSQL server.
        if (alpnProtocol === null) return done({ ok: false, error: 'direct SSL connection was established without ALPN protocol negotiation extension' }, true);
        if (alpnProtocol !== 'postgresql') return done({ ok: false, error: 'SSL connection was established with unexpected ALPN protocol' }, true);
      }
      delete (socket as { getPeerCertificate?: unknown }).getPeerCertificate;
      const x509 = socket.getPeerX509Certificate();
      const der = x509?.raw;
      if (!x509 || !der) return done({ ok: false, error: 'SSL certificate could not be obtained' });
      if (o.sslmode === 'verify-full') {
        const mismatch = verifyPeerName(x509, host);
        if (mismatch !== null) return done({ ok: false, error: mismatch }, true);
      }
      const cipher = socket.getCipher();
      done({
        ok: true, socket, peerCertificate: der, clientCertSent: setup.cert !== null,
        protocol: socket.getProtocol() ?? '', cipher: cipher?.standardName ?? cipher?.name ?? '', alpnProtocol,
      });
    });
  });
}

/** What node:tls's own post-handshake check gets from getPeerCertificate(true): nothing it needs (see openClientSsl). */
function peerCertificateForNodeCheck(this: tls.TLSSocket, detailed?: boolean): tls.PeerCertificate {
  return detailed ? ({} as tls.PeerCertificate) : tls.TLSSocket.prototype.getPeerCertificate.call(this, false);
}

/** wildcard_certificate_match(): "*.example.com" covers exactly one leading label. */
function nameMatches(pattern: string, host: string): boolean {
  const p = pattern.toLowerCase();
  const h = host.toLowerCase();
  if (p === h) return true;
  if (p.length < 3 || !p.startsWith('*.')) return false;
  const suffix = p.slice(1);
  if (h.length < suffix.length || !h.endsWith(suffix)) return false;
  return !h.slice(0, h.length - suffix.length).includes('.');
}

function canonicalIp(ip: string): string {
  if (!ip.includes(':')) return ip;
  try {
    return new URL(`http://[${ip}]/`).hostname.slice(1, -1);
  } catch {
    return ip.toLowerCase();
  }
}

/** pq_verify_peer_name_matches_certificate(): null on a match, else libpq's complaint. */
export function verifyPeerName(peer: Buffer | X509Certificate, host: ConnHost): string | null {
  const hostName = host.host;
  if (hostName === null || hostName === '') return 'host name must be specified for a verified SSL connection';
  const cert = peer instanceof X509Certificate ? peer : new X509Certificate(peer);
  const hostIp = net.isIP(hostName) ? canonicalIp(hostName) : null;
  let examined = 0;
  let firstName: string | null = null;
  let checkCn = true;
  let matched = false;
  for (const entry of splitSan(cert.subjectAltName ?? '')) {
    let name: string;
    let hit: boolean;
    if (entry.startsWith('DNS:')) {
      name = entry.slice(4);
      hit = nameMatches(name, hostName);
      checkCn = false;
    } else if (entry.startsWith('IP Address:')) {
      name = canonicalIp(entry.slice('IP Address:'.length));
      hit = hostIp !== null && name === hostIp;
    } else {
      continue;
    }
    examined++;
    firstName ??= name;
    if (hit) { matched = true; checkCn = false; break; }
  }
  if (checkCn) {
    const cn = /^CN=(.*)$/m.exec(cert.subject)?.[1];
    if (cn !== undefined) {
      examined++;
      firstName ??= cn;
      if (nameMatches(cn, hostName)) matched = true;
    }
  }
  if (matched) return null;
  if (examined > 1) {
    const others = examined - 1;
    return `server certificate for "${firstName}" (and ${others} other name${others === 1 ? '' : 's'}) does not match host name "${hostName}"`;
  }
  if (examined === 1) return `server certificate for "${firstName}" does not match host name "${hostName}"`;
  return "could not get server's host name from server certificate";
}

/** Node joins SAN entries with ", " and quotes entries that contain one. */
function splitSan(san: string): string[] {
  const out: string[] = [];
  const re = /(?:^|, )((?:[A-Za-z ]+):(?:"(?:[^"\\]|\\.)*"|[^,]*))/g;
  for (let m = re.exec(san); m; m = re.exec(san)) {
    let entry = m[1]!;
    const colon = entry.indexOf(':');
    const value = entry.slice(colon + 1);
    if (value.startsWith('"')) entry = entry.slice(0, colon + 1) + JSON.parse(value) as string;
    out.push(entry);
  }
  return out;
}
