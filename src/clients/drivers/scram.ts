/**
 * SCRAM-SHA-256(-PLUS) the way the drivers do it, which is not quite libpq's way: each driver
 * picks its own gs2 header, user name attribute, nonce length and password preparation.
 * Synchronous, no I/O; the primitives are the server's own (scram-common.ts).
 */
import type { Random } from '../../random.js';
import {
  hmacSha256, pgB64Decode, scramClientKey, scramPreparePassword, scramSaltedPasswordCached, scramServerKey, sha256, xorBuffers,
} from '../../common/scram-common.js';

export interface DriverScramOptions {
  mechanism: string;
  /** 'n' (no binding), 'y' (client could bind, server did not offer it), 'p' (tls-server-end-point). */
  gs2: 'n' | 'y' | 'p';
  /** The n= attribute: '*' (pg, postgres.js, pgjdbc), the user name (asyncpg). */
  username: string;
  /** Raw nonce bytes before base64: 18 (pg, postgres.js, libpq) or 24 (asyncpg, ongres/pgjdbc). */
  nonceBytes: number;
  /** SASLprep the password (pgjdbc, asyncpg, pg 8.23) or use its UTF-8 bytes as they are (postgres.js). */
  saslprep: boolean;
  /** tls-server-end-point hash, for gs2 'p'. */
  channelBindingData?: Buffer;
  random: Random;
}

export class DriverScram {
  readonly clientNonce: string;
  private readonly bare: string;
  private readonly gs2Header: string;
  private serverFirstMessage = '';
  private clientFinalWithoutProof = '';
  private saltedPassword: Buffer = Buffer.alloc(0);

  constructor(private readonly o: DriverScramOptions) {
    this.clientNonce = o.random.bytes(o.nonceBytes).toString('base64');
    this.bare = `n=${o.username},r=${this.clientNonce}`;
    this.gs2Header = o.gs2 === 'p' ? 'p=tls-server-end-point,,' : `${o.gs2},,`;
  }

  /** client-first-message: the SASLInitialResponse payload. */
  clientFirst(): Buffer {
    return Buffer.from(this.gs2Header + this.bare, 'utf8');
  }

  /**
   * server-first-message in, client-final-message out. Returns a string error (the caller
   * words it the driver's way) when the server's message cannot be used.
   */
  serverFirst(data: Buffer, password: string): Buffer | { error: 'nonce' | 'malformed' } {
    const text = data.toString('utf8');
    this.serverFirstMessage = text;
    const attrs = new Map<string, string>();
    for (const part of text.split(',')) if (part.length >= 2 && part[1] === '=') attrs.set(part[0]!, part.slice(2));
    const nonce = attrs.get('r');
    const salt = pgB64Decode(attrs.get('s') ?? '');
    const iterations = Number(attrs.get('i'));
    if (nonce === undefined || salt === null || !Number.isInteger(iterations) || iterations < 1) return { error: 'malformed' };
    if (!nonce.startsWith(this.clientNonce) || nonce.length === this.clientNonce.length) return { error: 'nonce' };
    const cbindInput = this.o.gs2 === 'p'
      ? Buffer.concat([Buffer.from(this.gs2Header, 'utf8'), this.o.channelBindingData ?? Buffer.alloc(0)])
      : Buffer.from(this.gs2Header, 'utf8');
    this.clientFinalWithoutProof = `c=${cbindInput.toString('base64')},r=${nonce}`;
    const pw = this.o.saslprep ? scramPreparePassword(password) : Buffer.from(password, 'utf8');
    this.saltedPassword = scramSaltedPasswordCached(pw, salt, iterations);
    const clientKey = scramClientKey(this.saltedPassword);
    const proof = xorBuffers(clientKey, hmacSha256(sha256(clientKey), this.authMessage()));
    return Buffer.from(`${this.clientFinalWithoutProof},p=${proof.toString('base64')}`, 'utf8');
  }

  /** server-final-message: whether v= is the signature the client expects. */
  serverFinalVerifies(data: Buffer): boolean {
    const text = data.toString('utf8');
    const m = /^v=([^,]*)/.exec(text);
    if (!m) return false;
    const expected = hmacSha256(scramServerKey(this.saltedPassword), this.authMessage());
    return m[1] === expected.toString('base64');
  }

  private authMessage(): string {
    return `${this.bare},${this.serverFirstMessage},${this.clientFinalWithoutProof}`;
  }
}
