/**
 * Which encryption libpq tries on a connection, and what it does when a try fails.
 *
 * libpq 15 and 16 spread this over three flags, allow_ssl_try, wait_ssl_try and
 * try_gss, reset for every server address (PQconnectPoll in fe-connect.c before the
 * 17 refactor): FlagNegotiation.
 *
 * libpq 17 replaced them with bitmasks of allowed and failed methods per address
 * (init_allowed_encryption_methods, select_next_encryption_method,
 * encryption_negotiation_failed, connection_failed) and added sslnegotiation=direct:
 * AllowedMethodsNegotiation. 18 kept that code as it was.
 */
import type { ConnOptions } from '../conninfo.js';

/** What to send first on a connection in CONNECTION_MADE. */
export type FirstPacket =
  | { kind: 'gssenc-request' }
  | { kind: 'ssl-request' }
  /** 17+, sslnegotiation=direct: a TLS ClientHello (ALPN "postgresql") with no SSLRequest before it. */
  | { kind: 'direct-ssl' }
  | { kind: 'startup' }
  | { kind: 'error'; message: string };

/** The server answered 'N' to SSLRequest. */
export type SslRefusal =
  /** Go on in plaintext (or with the next method) on this socket. */
  | { kind: 'continue' }
  /** The next method cannot reuse this socket (direct SSL): open a new one. */
  | { kind: 'reconnect' }
  | { kind: 'error'; message: string };

export interface EncryptionNegotiation {
  /** Start afresh for a new server address. */
  reset(): void;
  /**
   * CONNECTION_NEEDED, before a socket is opened. 17+ choose the method here and can fail
   * without connecting (the message then has no "connection to server" prefix, as libpq
   * has not named the server yet). ≤16 have nothing to decide at this point.
   */
  beforeConnect?(ctx: { unixSocket: boolean; haveGssCredentials: boolean }): { kind: 'ok' } | { kind: 'error'; message: string };
  /** CONNECTION_MADE. `sslInUse`: TLS is already up on this socket. */
  firstPacket(ctx: { sslInUse: boolean; unixSocket: boolean; haveGssCredentials: boolean }): FirstPacket;
  sslRefused(): SslRefusal;
  /** The TLS handshake failed (or could not start): reconnect with the next method, or give up. */
  tlsFailed(): 'reconnect' | 'fail';
  /** An ErrorResponse before AuthenticationOk (other than 57P03). */
  serverError(ctx: { sslInUse: boolean; gssInUse: boolean }): 'reconnect' | 'fail';
}

/** libpq ≤16 with GSSAPI compiled in, when gssencmode=require cannot be honoured (after connecting). */
export const GSS_REQUIRED_BUT_IMPOSSIBLE =
  'GSSAPI encryption required but was impossible (possibly no credential cache, no server support, or using a local socket)';
/** libpq 17+ with GSSAPI, gssencmode=require and no Kerberos ticket: refused before any socket is opened. */
export const GSS_REQUIRED_NO_CREDENTIAL_CACHE = 'GSSAPI encryption required but no credential cache';
/** libpq 17+ with GSSAPI, gssencmode=require on a Unix-domain socket. */
export const GSS_REQUIRED_LOCAL_SOCKET = 'GSSAPI encryption required but it is not supported over a local socket';
export const SSL_REQUIRED_BUT_REFUSED = 'server does not support SSL, but SSL was required';
export const GSS_REQUIRED_BUT_REFUSED = "server doesn't support GSSAPI encryption, but it was required";

/** The ≤16 rules, flag by flag as fe-connect.c keeps them. */
export class FlagNegotiation implements EncryptionNegotiation {
  private allowSslTry = false;
  private waitSslTry = false;
  private tryGss = false;

  constructor(private readonly o: ConnOptions) {
    this.reset();
  }

  reset(): void {
    this.allowSslTry = this.o.sslmode !== 'disable';
    this.waitSslTry = this.o.sslmode === 'allow';
    this.tryGss = this.o.gssencmode !== 'disable';
  }

  firstPacket(ctx: { sslInUse: boolean; unixSocket: boolean; haveGssCredentials: boolean }): FirstPacket {
    if (ctx.unixSocket) {
      // Neither SSL nor GSSAPI over a Unix-domain socket.
      this.allowSslTry = false;
      this.tryGss = false;
    }
    // GSS is only tried with a credential cache; libpq rechecks each time.
    if (this.tryGss) this.tryGss = ctx.haveGssCredentials;
    if (this.tryGss) return { kind: 'gssenc-request' };
    if (this.o.gssencmode === 'require') return { kind: 'error', message: GSS_REQUIRED_BUT_IMPOSSIBLE };
    if (this.allowSslTry && !this.waitSslTry && !ctx.sslInUse) return { kind: 'ssl-request' };
    return { kind: 'startup' };
  }

  sslRefused(): SslRefusal {
    if (this.o.sslmode === 'require' || this.o.sslmode === 'verify-ca' || this.o.sslmode === 'verify-full') {
      return { kind: 'error', message: SSL_REQUIRED_BUT_REFUSED };
    }
    this.allowSslTry = false;
    return { kind: 'continue' };
  }

  tlsFailed(): 'reconnect' | 'fail' {
    if (this.o.sslmode === 'prefer' && this.allowSslTry && !this.waitSslTry) {
      this.allowSslTry = false;
      return 'reconnect';
    }
    return 'fail';
  }

  serverError(ctx: { sslInUse: boolean; gssInUse: boolean }): 'reconnect' | 'fail' {
    if (ctx.gssInUse && this.o.gssencmode === 'prefer') {
      this.tryGss = false;
      return 'reconnect';
    }
    // allow: the plaintext try failed, so try SSL once.
    if (this.o.sslmode === 'allow' && !ctx.sslInUse && this.allowSslTry && this.waitSslTry) {
      this.waitSslTry = false;
      return 'reconnect';
    }
    // prefer: the SSL try failed, so try plaintext once.
    if (this.o.sslmode === 'prefer' && ctx.sslInUse && this.allowSslTry && !this.waitSslTry) {
      this.allowSslTry = false;
      return 'reconnect';
    }
    return 'fail';
  }
}

/** The encryption methods of libpq 17+ (ENC_PLAINTEXT, ENC_SSL, ENC_GSSAPI in libpq-int.h). */
export const ENC = { PLAINTEXT: 1, SSL: 2, GSSAPI: 4 } as const;
export type EncMethod = (typeof ENC)[keyof typeof ENC];

/**
 * The 17/18 rules. Per address libpq keeps the set of allowed methods (from sslmode and
 * gssencmode), the set that failed, and the current one. Any failure marks the current
 * method failed and moves to the next remaining one in a fixed order: GSSAPI, then SSL
 * and plaintext (plaintext first under sslmode=allow). Unlike ≤16 nothing else is
 * remembered, which is what makes sslmode=allow against an ssl=off server stop at the
 * 'N': plaintext has already failed, SSL was refused, and nothing is left.
 */
export class AllowedMethodsNegotiation implements EncryptionNegotiation {
  private allowed = 0;
  private failed = 0;
  /** null: ENC_ERROR, nothing left. */
  private current: EncMethod | null = null;
  private haveGssCredentials = false;

  /** `gssapi`: whether this libpq was built with GSSAPI (ENABLE_GSS). */
  constructor(private readonly o: ConnOptions, private readonly build: { gssapi: boolean }) {}

  /** The method being tried (for tests and tracing). */
  get currentMethod(): EncMethod | null {
    return this.current;
  }

  reset(): void {
    this.allowed = 0;
    this.failed = 0;
    this.current = null;
  }

  beforeConnect(ctx: { unixSocket: boolean; haveGssCredentials: boolean }): { kind: 'ok' } | { kind: 'error'; message: string } {
    this.haveGssCredentials = ctx.haveGssCredentials;
    // gssencmode=require is checked before anything else, and only a GSSAPI build gets this far with it.
    if (this.build.gssapi && this.o.gssencmode === 'require') {
      if (ctx.unixSocket) return { kind: 'error', message: GSS_REQUIRED_LOCAL_SOCKET };
      if (!ctx.haveGssCredentials) return { kind: 'error', message: GSS_REQUIRED_NO_CREDENTIAL_CACHE };
    }
    return this.initAllowed(ctx.unixSocket);
  }

  /** init_allowed_encryption_methods(): run before every socket; the failed set carries over. */
  private initAllowed(unixSocket: boolean): { kind: 'ok' } | { kind: 'error'; message: string } {
    if (unixSocket) {
      // Neither SSL nor GSSAPI over a Unix-domain socket, whatever sslmode says.
      this.allowed = ENC.PLAINTEXT;
      this.current = ENC.PLAINTEXT;
      return { kind: 'ok' };
    }
    const { sslmode, gssencmode } = this.o;
    this.allowed = 0;
    if (sslmode !== 'disable' && gssencmode !== 'require') this.allowed |= ENC.SSL;
    if (this.build.gssapi && gssencmode !== 'disable') this.allowed |= ENC.GSSAPI;
    if ((sslmode === 'disable' || sslmode === 'allow' || sslmode === 'prefer') && gssencmode !== 'require') this.allowed |= ENC.PLAINTEXT;
    const next = this.selectNext();
    return next.ok ? { kind: 'ok' } : { kind: 'error', message: next.message };
  }

  /** select_next_encryption_method(); a GSSAPI refusal note is the only message it can leave. */
  private selectNext(): { ok: true } | { ok: false; message: string } {
    let remaining = this.allowed & ~this.failed;
    let message = '';
    if ((remaining & ENC.GSSAPI) !== 0 && !this.haveGssCredentials) {
      // No ticket: GSSAPI is dropped silently, unless it was the only thing asked for.
      this.allowed &= ~ENC.GSSAPI;
      remaining &= ~ENC.GSSAPI;
      if (this.o.gssencmode === 'require') message = GSS_REQUIRED_NO_CREDENTIAL_CACHE;
    }
    const order: EncMethod[] = this.o.sslmode === 'allow'
      ? [ENC.GSSAPI, ENC.PLAINTEXT, ENC.SSL]
      : [ENC.GSSAPI, ENC.SSL, ENC.PLAINTEXT];
    for (const m of order) {
      if ((remaining & m) !== 0) {
        this.current = m;
        return { ok: true };
      }
    }
    this.current = null;
    return { ok: false, message };
  }

  firstPacket(ctx: { sslInUse: boolean; unixSocket: boolean; haveGssCredentials: boolean }): FirstPacket {
    if (this.current === ENC.GSSAPI) return { kind: 'gssenc-request' };
    if (this.current === ENC.SSL && !ctx.sslInUse) {
      return this.o.sslnegotiation === 'direct' ? { kind: 'direct-ssl' } : { kind: 'ssl-request' };
    }
    return { kind: 'startup' };
  }

  /** encryption_negotiation_failed() for an 'N' to SSLRequest. */
  sslRefused(): SslRefusal {
    return this.negotiationFailed(SSL_REQUIRED_BUT_REFUSED);
  }

  /** The same for an 'N' to GSSENCRequest (the connector never sends one: no ticket is modelled). */
  gssRefused(): SslRefusal {
    return this.negotiationFailed(GSS_REQUIRED_BUT_REFUSED);
  }

  private negotiationFailed(message: string): SslRefusal {
    this.markFailed();
    if (!this.selectNext().ok) return { kind: 'error', message };
    // A direct handshake cannot follow a refusal on the same socket.
    if (this.current === ENC.SSL && this.o.sslnegotiation === 'direct') return { kind: 'reconnect' };
    return { kind: 'continue' };
  }

  /** connection_failed(): a failed handshake. */
  tlsFailed(): 'reconnect' | 'fail' {
    return this.connectionFailed();
  }

  /** connection_failed(): any ErrorResponse before AuthenticationOk, whatever the method was. */
  serverError(): 'reconnect' | 'fail' {
    return this.connectionFailed();
  }

  private connectionFailed(): 'reconnect' | 'fail' {
    this.markFailed();
    return this.selectNext().ok ? 'reconnect' : 'fail';
  }

  private markFailed(): void {
    if (this.current !== null) this.failed |= this.current;
  }
}

/** The negotiation rules of a libpq major version; `gssapi`: a build with GSSAPI (17+ only looks). */
export function negotiationFor(o: ConnOptions, version: number, build: { gssapi: boolean } = { gssapi: true }): EncryptionNegotiation {
  if (version <= 16) return new FlagNegotiation(o);
  return new AllowedMethodsNegotiation(o, build);
}
