/**
 * A SCRAM-SHA-256(-PLUS) client that behaves like libpq 15 (src/interfaces/libpq/fe-auth-scram.c,
 * plus the mechanism choice of fe-auth.c/pg_SASL_init). Synchronous, no I/O; messages in and out
 * are the SASL payloads. Failures throw ScramClientError carrying libpq's message text.
 */
import type { Random } from '../../random.js';
import {
  SCRAM_KEY_LEN, SCRAM_RAW_NONCE_LEN, SCRAM_SHA_256_NAME, SCRAM_SHA_256_PLUS_NAME,
  hmacSha256, pgB64Decode, pgB64Encode, scramClientKey, scramPreparePassword, scramSaltedPasswordCached,
  scramServerKey, sha256, xorBuffers,
} from '../../common/scram-common.js';

/** libpq's channel_binding connection option. */
export type ChannelBindingMode = 'disable' | 'prefer' | 'require';

/** A libpq-side failure; `message` is the line libpq appends to conn->errorMessage (without newline). */
export class ScramClientError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ScramClientError';
  }
}

export interface MechanismChoice { sslInUse: boolean; channelBinding?: ChannelBindingMode }

/**
 * pg_SASL_init()'s choice among the server's AuthenticationSASL list: -PLUS when SSL is in use
 * and binding is not disabled, otherwise plain SCRAM-SHA-256.
 */
export function selectSaslMechanism(offered: readonly string[], opts: MechanismChoice): string {
  const channelBinding = opts.channelBinding ?? 'prefer';
  let selected: string | null = null;
  for (const mech of offered) {
    if (mech === SCRAM_SHA_256_PLUS_NAME) {
      if (!opts.sslInUse) {
        // Both sides support binding but the channel is not encrypted: SSL was stripped somewhere.
        throw new ScramClientError('server offered SCRAM-SHA-256-PLUS authentication over a non-SSL connection');
      }
      if (channelBinding !== 'disable') selected = SCRAM_SHA_256_PLUS_NAME;
    } else if (mech === SCRAM_SHA_256_NAME && selected === null) {
      selected = SCRAM_SHA_256_NAME;
    }
  }
  if (selected === null) throw new ScramClientError("none of the server's SASL authentication mechanisms are supported");
  if (channelBinding === 'require' && selected !== SCRAM_SHA_256_PLUS_NAME) {
    throw new ScramClientError('channel binding is required, but client does not support it');
  }
  return selected;
}

export interface ScramClientOptions {
  password: string | Buffer;
  /** The mechanism chosen (see selectSaslMechanism). */
  mechanism: string;
  sslInUse: boolean;
  channelBinding?: ChannelBindingMode;
  /** tls-server-end-point hash of the server certificate; required for -PLUS. */
  tlsServerEndPoint?: Buffer;
  random: Random;
  /** The n= attribute. libpq always sends it empty (the startup packet names the user); RFC vectors don't. Not escaped. */
  username?: string;
  /** Fixed client nonce instead of 18 random bytes; only for replaying published test vectors. */
  clientNonce?: string;
}

type ClientState = 'init' | 'nonce-sent' | 'proof-sent' | 'finished';

/** read_attr_value() of fe-auth-scram.c: same walk as the server's, with libpq's wording. */
function readAttrValue(input: string, pos: { i: number }, attr: string): string {
  if (input[pos.i] !== attr) throw new ScramClientError(`malformed SCRAM message (attribute "${attr}" expected)`);
  pos.i++;
  if (input[pos.i] !== '=') throw new ScramClientError(`malformed SCRAM message (expected character "=" for attribute "${attr}")`);
  pos.i++;
  const start = pos.i;
  while (pos.i < input.length && input[pos.i] !== ',') pos.i++;
  const value = input.slice(start, pos.i);
  if (pos.i < input.length) pos.i++;
  return value;
}

/** strtol() then stored into a C int, no errno check (libpq doesn't check it). */
function strtolToInt(s: string): { value: number; rest: string } {
  const m = /^([ \t\n\v\f\r]*[+-]?[0-9]+)(.*)$/s.exec(s);
  if (!m) return { value: 0, rest: s };
  let v = BigInt(m[1]!.trim());
  if (v > 9223372036854775807n) v = 9223372036854775807n;
  if (v < -9223372036854775808n) v = -9223372036854775808n;
  return { value: Number(BigInt.asIntN(32, v)), rest: m[2]! };
}

export class ScramClient {
  readonly mechanism: string;
  /** Messages libpq appends to errorMessage without failing (e.g. garbage after server-first). */
  readonly notes: string[] = [];
  private state: ClientState = 'init';
  private readonly password: Buffer;
  private readonly sslInUse: boolean;
  private readonly channelBinding: ChannelBindingMode;
  private readonly tlsServerEndPoint?: Buffer;
  private readonly random: Random;
  private readonly username: string;
  private readonly fixedClientNonce?: string;

  private nonceFromClient = '';
  private clientFirstMessageBare = '';
  private serverFirstMessage = '';
  private clientFinalMessageWithoutProof = '';
  private nonce = '';
  private saltFromServer: Buffer = Buffer.alloc(0);
  private iterationsFromServer = 0;
  private saltedPassword: Buffer = Buffer.alloc(0);
  private serverVerified = false;

  constructor(opts: ScramClientOptions) {
    this.mechanism = opts.mechanism;
    this.sslInUse = opts.sslInUse;
    this.channelBinding = opts.channelBinding ?? 'prefer';
    if (opts.tlsServerEndPoint) this.tlsServerEndPoint = opts.tlsServerEndPoint;
    this.random = opts.random;
    this.username = opts.username ?? '';
    if (opts.clientNonce !== undefined) this.fixedClientNonce = opts.clientNonce;
    this.password = scramPreparePassword(opts.password);
  }

  get clientNonce(): string { return this.nonceFromClient; }
  /** Salt and iteration count from server-first. */
  get salt(): Buffer { return this.saltFromServer; }
  get iterations(): number { return this.iterationsFromServer; }

  /** True once the server's signature verified (the exchange succeeded from the client's view). */
  get succeeded(): boolean { return this.serverVerified; }

  /** scram_channel_bound(): finished, and over -PLUS. */
  get channelBound(): boolean {
    return this.state === 'finished' && this.serverVerified && this.mechanism === SCRAM_SHA_256_PLUS_NAME;
  }

  /** The gs2 flag libpq chooses: p for -PLUS, y when it could bind over SSL but the server did not offer it, else n. */
  private gs2Flag(): 'p' | 'y' | 'n' {
    if (this.mechanism === SCRAM_SHA_256_PLUS_NAME) return 'p';
    if (this.channelBinding !== 'disable' && this.sslInUse) return 'y';
    return 'n';
  }

  /** build_client_first_message(): gs2 header + "n=,r=<nonce>" (the user name travels in the startup packet). */
  clientFirst(): Buffer {
    if (this.state !== 'init') throw new ScramClientError('invalid SCRAM exchange state');
    this.nonceFromClient = this.fixedClientNonce ?? pgB64Encode(this.random.bytes(SCRAM_RAW_NONCE_LEN));
    const flag = this.gs2Flag();
    const header = flag === 'p' ? 'p=tls-server-end-point' : flag;
    this.clientFirstMessageBare = `n=${this.username},r=${this.nonceFromClient}`;
    this.state = 'nonce-sent';
    return Buffer.from(`${header},,${this.clientFirstMessageBare}`, 'latin1');
  }

  private checkInput(data: Buffer): string {
    if (data.length === 0) throw new ScramClientError('malformed SCRAM message (empty message)');
    if (data.includes(0)) throw new ScramClientError('malformed SCRAM message (length mismatch)');
    return data.toString('latin1');
  }

  /** read_server_first_message() + build_client_final_message(): returns the client-final message. */
  serverFirst(data: Buffer): Buffer {
    if (this.state !== 'nonce-sent') throw new ScramClientError('invalid SCRAM exchange state');
    const input = this.checkInput(data);
    this.serverFirstMessage = input;
    const pos = { i: 0 };
    const nonce = readAttrValue(input, pos, 'r');
    if (!nonce.startsWith(this.nonceFromClient)) throw new ScramClientError('invalid SCRAM response (nonce mismatch)');
    this.nonce = nonce;
    const salt = pgB64Decode(readAttrValue(input, pos, 's'));
    if (salt === null) throw new ScramClientError('malformed SCRAM message (invalid salt)');
    this.saltFromServer = salt;
    const { value, rest } = strtolToInt(readAttrValue(input, pos, 'i'));
    if (rest !== '' || value < 1) throw new ScramClientError('malformed SCRAM message (invalid iteration count)');
    this.iterationsFromServer = value;
    if (pos.i < input.length) this.notes.push('malformed SCRAM message (garbage at end of server-first-message)');

    let cbind: string;
    const flag = this.gs2Flag();
    if (flag === 'p') {
      if (!this.tlsServerEndPoint) throw new ScramClientError('could not get server certificate hash');
      cbind = pgB64Encode(Buffer.concat([Buffer.from('p=tls-server-end-point,,'), this.tlsServerEndPoint]));
    } else {
      cbind = flag === 'y' ? 'eSws' : 'biws'; // base64 of "y,," / "n,,"
    }
    this.clientFinalMessageWithoutProof = `c=${cbind},r=${this.nonce}`;

    this.saltedPassword = scramSaltedPasswordCached(this.password, this.saltFromServer, this.iterationsFromServer);
    const clientKey = scramClientKey(this.saltedPassword);
    const clientSignature = hmacSha256(sha256(clientKey), this.authMessage());
    const proof = xorBuffers(clientKey, clientSignature);
    this.state = 'proof-sent';
    return Buffer.from(`${this.clientFinalMessageWithoutProof},p=${pgB64Encode(proof)}`, 'latin1');
  }

  /** read_server_final_message() + verify_server_signature(). Throws when the server cannot prove it knows the secret. */
  serverFinal(data: Buffer): void {
    if (this.state !== 'proof-sent') throw new ScramClientError('invalid SCRAM exchange state');
    const input = this.checkInput(data);
    const pos = { i: 0 };
    if (input[0] === 'e') {
      const err = readAttrValue(input, pos, 'e');
      throw new ScramClientError(`error received from server in SCRAM exchange: ${err}`);
    }
    const encoded = readAttrValue(input, pos, 'v');
    if (pos.i < input.length) this.notes.push('malformed SCRAM message (garbage at end of server-final-message)');
    const signature = pgB64Decode(encoded);
    if (signature === null || signature.length !== SCRAM_KEY_LEN) {
      throw new ScramClientError('malformed SCRAM message (invalid server signature)');
    }
    const expected = hmacSha256(scramServerKey(this.saltedPassword), this.authMessage());
    this.state = 'finished';
    if (!expected.equals(signature)) throw new ScramClientError('incorrect server signature');
    this.serverVerified = true;
  }

  private authMessage(): Buffer {
    return Buffer.from(`${this.clientFirstMessageBare},${this.serverFirstMessage},${this.clientFinalMessageWithoutProof}`, 'latin1');
  }
}
