/**
 * Which encryption libpq tries on a connection, and what it does when a try fails.
 * libpq 15 and 16 spread this over three flags, allow_ssl_try, wait_ssl_try and
 * try_gss, reset for every server address (PQconnectPoll in fe-connect.c before the
 * 17 refactor). libpq 17 replaced them with allowed/failed method bitmasks; that
 * version plugs in here as another EncryptionNegotiation.
 */
import type { ConnOptions } from '../conninfo.js';

/** What to send first on a connection in CONNECTION_MADE. */
export type FirstPacket =
  | { kind: 'gssenc-request' }
  | { kind: 'ssl-request' }
  | { kind: 'startup' }
  | { kind: 'error'; message: string };

export interface EncryptionNegotiation {
  /** Start afresh for a new server address. */
  reset(): void;
  /** CONNECTION_MADE. `sslInUse`: TLS is already up on this socket. */
  firstPacket(ctx: { sslInUse: boolean; unixSocket: boolean; haveGssCredentials: boolean }): FirstPacket;
  /** The server answered 'N' to SSLRequest: go on in plaintext on this socket, or give up. */
  sslRefused(): { kind: 'continue' } | { kind: 'error'; message: string };
  /** The TLS handshake failed (or could not start): reconnect without SSL, or give up. */
  tlsFailed(): 'reconnect' | 'fail';
  /** An ErrorResponse before AuthenticationOk (other than 57P03). */
  serverError(ctx: { sslInUse: boolean; gssInUse: boolean }): 'reconnect' | 'fail';
}

export const GSS_REQUIRED_BUT_IMPOSSIBLE =
  'GSSAPI encryption required but was impossible (possibly no credential cache, no server support, or using a local socket)';

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

  sslRefused(): { kind: 'continue' } | { kind: 'error'; message: string } {
    if (this.o.sslmode === 'require' || this.o.sslmode === 'verify-ca' || this.o.sslmode === 'verify-full') {
      return { kind: 'error', message: 'server does not support SSL, but SSL was required' };
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

/** The negotiation rules of a libpq major version. */
export function negotiationFor(o: ConnOptions, version: number): EncryptionNegotiation {
  if (version <= 16) return new FlagNegotiation(o);
  throw new Error(`libpq ${version}'s encryption negotiation (allowed/failed method sets) is not modelled yet`);
}
