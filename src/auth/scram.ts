/**
 * The server side of SCRAM-SHA-256 and SCRAM-SHA-256-PLUS as PostgreSQL 15 runs it
 * (src/backend/libpq/auth-scram.c): a synchronous state machine with no I/O. The caller frames
 * the SASL messages (auth-sasl.c) and turns a failure into auth_failed().
 *
 * Every protocol error is thrown as the FATAL PgError the backend would send, with the
 * ErrorResponse fields of PG 15.20 (F/L/R included).
 */
import { PgError } from '../errors.js';
import type { Random } from '../random.js';
import {
  SCRAM_DEFAULT_ITERATIONS, SCRAM_KEY_LEN, SCRAM_RAW_NONCE_LEN, SCRAM_SHA_256_NAME, SCRAM_SHA_256_PLUS_NAME,
  hmacSha256, isScramPrintable, pgB64Decode, pgB64Encode, scramMockSalt, sha256, xorBuffers,
} from '../common/scram-common.js';
import { getPasswordType, parseScramSecret } from './secrets.js';

// ---------------------------------------------------------------------------
// error sites

const SQLSTATE_PROTOCOL_VIOLATION = '08P01';
const SQLSTATE_INVALID_AUTHORIZATION_SPECIFICATION = '28000';
const SQLSTATE_FEATURE_NOT_SUPPORTED = '0A000';
const SQLSTATE_INTERNAL_ERROR = 'XX000';

const MALFORMED = 'malformed SCRAM message';

interface ErrorSite { sqlstate: string; message: string; routine: string; line: number }

/**
 * Each ereport() in auth-scram.c that a client can reach. The line numbers are those PG 15.20
 * put in the L field, captured from a live server (see spec/auth/scram.spec.ts).
 */
export const SCRAM_ERROR_SITES = {
  invalidMechanism: { sqlstate: SQLSTATE_PROTOCOL_VIOLATION, message: 'client selected an invalid SASL authentication mechanism', routine: 'scram_init', line: 256 },
  emptyMessage: { sqlstate: SQLSTATE_PROTOCOL_VIOLATION, message: MALFORMED, routine: 'scram_exchange', line: 366 },
  lengthMismatch: { sqlstate: SQLSTATE_PROTOCOL_VIOLATION, message: MALFORMED, routine: 'scram_exchange', line: 371 },
  nonceMismatch: { sqlstate: SQLSTATE_PROTOCOL_VIOLATION, message: 'invalid SCRAM response', routine: 'scram_exchange', line: 404 },
  expectedAttribute: { sqlstate: SQLSTATE_PROTOCOL_VIOLATION, message: MALFORMED, routine: 'read_attr_value', line: 712 },
  expectedEqualsAttr: { sqlstate: SQLSTATE_PROTOCOL_VIOLATION, message: MALFORMED, routine: 'read_attr_value', line: 720 },
  anyAttrEnd: { sqlstate: SQLSTATE_PROTOCOL_VIOLATION, message: MALFORMED, routine: 'read_any_attr', line: 825 },
  anyAttrInvalid: { sqlstate: SQLSTATE_PROTOCOL_VIOLATION, message: MALFORMED, routine: 'read_any_attr', line: 838 },
  expectedEqualsAny: { sqlstate: SQLSTATE_PROTOCOL_VIOLATION, message: MALFORMED, routine: 'read_any_attr', line: 848 },
  plusWithoutDataN: { sqlstate: SQLSTATE_PROTOCOL_VIOLATION, message: MALFORMED, routine: 'read_client_first_message', line: 956 },
  commaExpectedN: { sqlstate: SQLSTATE_PROTOCOL_VIOLATION, message: MALFORMED, routine: 'read_client_first_message', line: 963 },
  plusWithoutDataY: { sqlstate: SQLSTATE_PROTOCOL_VIOLATION, message: MALFORMED, routine: 'read_client_first_message', line: 978 },
  bindingNegotiation: { sqlstate: SQLSTATE_INVALID_AUTHORIZATION_SPECIFICATION, message: 'SCRAM channel binding negotiation error', routine: 'read_client_first_message', line: 985 },
  commaExpectedY: { sqlstate: SQLSTATE_PROTOCOL_VIOLATION, message: MALFORMED, routine: 'read_client_first_message', line: 993 },
  bindingWithoutPlus: { sqlstate: SQLSTATE_PROTOCOL_VIOLATION, message: MALFORMED, routine: 'read_client_first_message', line: 1007 },
  unsupportedBindingType: { sqlstate: SQLSTATE_PROTOCOL_VIOLATION, message: 'unsupported SCRAM channel-binding type "%s"', routine: 'read_client_first_message', line: 1019 },
  unexpectedFlag: { sqlstate: SQLSTATE_PROTOCOL_VIOLATION, message: MALFORMED, routine: 'read_client_first_message', line: 1025 },
  authzid: { sqlstate: SQLSTATE_FEATURE_NOT_SUPPORTED, message: 'client uses authorization identity, but it is not supported', routine: 'read_client_first_message', line: 1036 },
  unexpectedAttribute: { sqlstate: SQLSTATE_PROTOCOL_VIOLATION, message: MALFORMED, routine: 'read_client_first_message', line: 1040 },
  extension: { sqlstate: SQLSTATE_FEATURE_NOT_SUPPORTED, message: 'client requires an unsupported SCRAM extension', routine: 'read_client_first_message', line: 1057 },
  nonPrintableNonce: { sqlstate: SQLSTATE_PROTOCOL_VIOLATION, message: 'non-printable characters in SCRAM nonce', routine: 'read_client_first_message', line: 1071 },
  bindingCheckFailed: { sqlstate: SQLSTATE_INVALID_AUTHORIZATION_SPECIFICATION, message: 'SCRAM channel binding check failed', routine: 'read_client_final_message', line: 1317 },
  unexpectedBindingAttr: { sqlstate: SQLSTATE_PROTOCOL_VIOLATION, message: 'unexpected SCRAM channel-binding attribute in client-final-message', routine: 'read_client_final_message', line: 1335 },
  malformedProof: { sqlstate: SQLSTATE_PROTOCOL_VIOLATION, message: MALFORMED, routine: 'read_client_final_message', line: 1353 },
  garbage: { sqlstate: SQLSTATE_PROTOCOL_VIOLATION, message: MALFORMED, routine: 'read_client_final_message', line: 1361 },
} satisfies Record<string, ErrorSite>;

function scramError(site: ErrorSite, detail?: string, messageArg?: string): PgError {
  return new PgError({
    severity: 'FATAL', // ereport(ERROR) is promoted: no handler is set up during authentication
    sqlstate: site.sqlstate,
    message: messageArg === undefined ? site.message : site.message.replace('%s', messageArg),
    ...(detail === undefined ? {} : { detail }),
    file: 'auth-scram.c',
    line: site.line,
    routine: site.routine,
  });
}

/** elog(ERROR) sites: internal errors with no detail. */
function internalError(message: string, routine: string): PgError {
  return new PgError({ severity: 'FATAL', sqlstate: SQLSTATE_INTERNAL_ERROR, message, file: 'auth-scram.c', routine });
}

/** sanitize_char(): printable ASCII as 'c', anything else as 0x%02x (so end of string is 0x00). */
function sanitizeChar(c: number | undefined): string {
  const b = c ?? 0;
  return b >= 0x21 && b <= 0x7e ? `'${String.fromCharCode(b)}'` : `0x${b.toString(16).padStart(2, '0')}`;
}

/** sanitize_str(): non-printable bytes become '?', at most 30 characters. */
function sanitizeStr(s: string): string {
  let out = '';
  for (let i = 0; i < s.length && i < 30; i++) {
    const c = s.charCodeAt(i);
    out += c >= 0x21 && c <= 0x7e ? s[i] : '?';
  }
  return out;
}

// ---------------------------------------------------------------------------
// mechanisms and channel binding

/** scram_get_mechanisms(): the -PLUS variant first, and only over SSL. */
export function saslMechanisms(sslInUse: boolean): string[] {
  return sslInUse ? [SCRAM_SHA_256_PLUS_NAME, SCRAM_SHA_256_NAME] : [SCRAM_SHA_256_NAME];
}

export { tlsServerEndPointHash } from '../common/cert-hash.js';

// ---------------------------------------------------------------------------
// the exchange

export interface ScramServerOptions {
  /** port->user_name: the startup packet's user. The SCRAM n= attribute is ignored. */
  user: string;
  /** pg_authid.rolpassword as get_role_password() returned it; null asks for a mock exchange. */
  secret: string | null;
  mock: {
    /** The cluster's 32-byte mock authentication nonce (pg_controldata). */
    nonce: Buffer;
  };
  random: Random;
  sslInUse: boolean;
  /** The server certificate's tls-server-end-point hash; needed when -PLUS is selected. */
  tlsServerEndPoint?: Buffer;
  /** Iteration count of a mock secret (PG 15: always 4096). */
  iterations?: number;
  /** The mechanism name from SASLInitialResponse. */
  selectedMechanism: string;
  /** Receives LOG lines as they happen (they are also kept in `logs`). */
  log?: (message: string) => void;
  /** Fixed server nonce instead of 18 random bytes; only for replaying published test vectors. */
  serverNonce?: string;
}

export type ScramFinalOutcome =
  | { outcome: 'ok'; serverFinal: Buffer }
  | { outcome: 'fail'; logdetail?: string };

/**
 * The result of one pg_be_sasl_mech.exchange() call: PG_SASL_EXCHANGE_CONTINUE (send
 * AuthenticationSASLContinue), _SUCCESS (AuthenticationSASLFinal, held back until after the hook)
 * or _FAILURE (no message; auth_failed follows).
 */
export type ScramExchangeResult =
  | { outcome: 'continue'; output: Buffer }
  | { outcome: 'ok'; output: Buffer }
  | { outcome: 'fail'; logdetail?: string };

type ScramState = 'init' | 'salt-sent' | 'finished';

/** A byte cursor over a message, mirroring the char * walking in auth-scram.c. */
class Cursor {
  pos = 0;
  constructor(readonly s: string) {}
  /** The current byte; undefined at the end, where C would see the terminating NUL. A method, so TS does not narrow it across pos++. */
  ch(): number | undefined { return this.pos < this.s.length ? this.s.charCodeAt(this.pos) : undefined; }
  get atEnd(): boolean { return this.pos >= this.s.length; }
  /** Value up to the next ',' (exclusive); the cursor moves past the comma. */
  takeValue(): string {
    const start = this.pos;
    while (this.pos < this.s.length && this.s[this.pos] !== ',') this.pos++;
    const v = this.s.slice(start, this.pos);
    if (this.pos < this.s.length) this.pos++;
    return v;
  }
}

export class ScramServerExchange {
  readonly user: string;
  readonly channelBindingInUse: boolean;
  /** A mock exchange: it runs to the end and then fails. */
  readonly doomed: boolean;
  /** errdetail_log PG attaches to the failure (only for a non-SCRAM secret). */
  readonly logdetail?: string;
  /** LOG lines the exchange wrote to the server log. */
  readonly logs: string[] = [];
  readonly iterations: number;
  /** base64 salt sent in server-first. */
  readonly salt: string;

  private state: ScramState = 'init';
  private readonly storedKey: Buffer;
  private readonly serverKey: Buffer;
  private readonly random: Random;
  private readonly sslInUse: boolean;
  private readonly tlsServerEndPoint?: Buffer;
  private readonly fixedServerNonce?: string;

  private cbindFlag = 0;
  private clientFirstMessageBare = '';
  private clientNonce = '';
  private clientUsernameValue = '';
  private serverNonce = '';
  private serverFirstMessage = '';
  private clientFinalMessageWithoutProof = '';
  private clientFinalNonce = '';
  private clientProof: Buffer = Buffer.alloc(SCRAM_KEY_LEN);

  /** scram_init(). Throws the invalid-mechanism FATAL. */
  constructor(opts: ScramServerOptions) {
    this.user = opts.user;
    this.random = opts.random;
    this.sslInUse = opts.sslInUse;
    if (opts.tlsServerEndPoint) this.tlsServerEndPoint = opts.tlsServerEndPoint;
    if (opts.serverNonce !== undefined) this.fixedServerNonce = opts.serverNonce;

    if (opts.selectedMechanism === SCRAM_SHA_256_PLUS_NAME && opts.sslInUse) this.channelBindingInUse = true;
    else if (opts.selectedMechanism === SCRAM_SHA_256_NAME) this.channelBindingInUse = false;
    else throw scramError(SCRAM_ERROR_SITES.invalidMechanism);

    let parsed = null;
    if (opts.secret !== null) {
      if (getPasswordType(opts.secret) === 'scram-sha-256') {
        parsed = parseScramSecret(opts.secret);
        if (!parsed) {
          // Unreachable in PG 15 (get_password_type parses the same way), kept for fidelity.
          const line = `invalid SCRAM secret for user "${opts.user}"`;
          this.logs.push(line);
          opts.log?.(line);
        }
      } else {
        // You cannot do SCRAM with an md5 hash (or a plaintext value).
        this.logdetail = `User "${opts.user}" does not have a valid SCRAM secret.`;
      }
    }
    // A null secret is the caller's request for a dummy exchange: no logdetail of our own.
    if (parsed) {
      this.iterations = parsed.iterations;
      this.salt = parsed.salt;
      this.storedKey = parsed.storedKey;
      this.serverKey = parsed.serverKey;
      this.doomed = false;
    } else {
      this.iterations = opts.iterations ?? SCRAM_DEFAULT_ITERATIONS;
      this.salt = pgB64Encode(scramMockSalt(opts.user, opts.mock.nonce));
      this.storedKey = Buffer.alloc(SCRAM_KEY_LEN);
      this.serverKey = Buffer.alloc(SCRAM_KEY_LEN);
      this.doomed = true;
    }
  }

  get finished(): boolean { return this.state === 'finished'; }
  /** The n= attribute: kept for debugging, as PG does, and never used for authentication. */
  get clientUsername(): string { return this.clientUsernameValue; }

  /**
   * The client-first message (or null when SASLInitialResponse carried no initial response, in
   * which case the answer is an empty challenge and the exchange still waits for client-first).
   */
  clientFirst(data: Buffer | null): Buffer {
    if (this.state !== 'init') throw new Error('clientFirst() called after the client-first message');
    const r = this.exchange(data);
    if (r.outcome !== 'continue') throw new Error('unreachable: client-first never ends the exchange');
    return r.output;
  }

  /** The client-final message: the proof is checked here. */
  clientFinal(data: Buffer): ScramFinalOutcome {
    if (this.state !== 'salt-sent') throw new Error('clientFinal() called before server-first was produced');
    const r = this.exchange(data);
    if (r.outcome === 'ok') return { outcome: 'ok', serverFinal: r.output };
    if (r.outcome === 'fail') return r;
    throw new Error('unreachable: client-final always ends the exchange');
  }

  /** scram_exchange(): one step, routed by state exactly as PG does. */
  exchange(input: Buffer | null): ScramExchangeResult {
    if (input === null) {
      if (this.state !== 'init') throw internalError('invalid SCRAM exchange state', 'scram_exchange');
      return { outcome: 'continue', output: Buffer.alloc(0) };
    }
    if (input.length === 0) throw scramError(SCRAM_ERROR_SITES.emptyMessage, 'The message is empty.');
    if (input.includes(0)) throw scramError(SCRAM_ERROR_SITES.lengthMismatch, 'Message length does not match input length.');
    const text = input.toString('latin1');

    switch (this.state) {
      case 'init': {
        this.readClientFirstMessage(text);
        const output = this.buildServerFirstMessage();
        this.state = 'salt-sent';
        return { outcome: 'continue', output };
      }
      case 'salt-sent': {
        this.readClientFinalMessage(text);
        if (!this.verifyFinalNonce()) throw scramError(SCRAM_ERROR_SITES.nonceMismatch, 'Nonce does not match.');
        // The proof is computed even when doomed, so a missing role costs the same time.
        if (!this.verifyClientProof() || this.doomed) {
          return this.logdetail === undefined ? { outcome: 'fail' } : { outcome: 'fail', logdetail: this.logdetail };
        }
        const output = this.buildServerFinalMessage();
        this.state = 'finished';
        return { outcome: 'ok', output };
      }
      default:
        throw internalError('invalid SCRAM exchange state', 'scram_exchange');
    }
  }

  // -- parsing ---------------------------------------------------------------

  private readAttrValue(c: Cursor, attr: string): string {
    if (c.ch() !== attr.charCodeAt(0)) {
      throw scramError(SCRAM_ERROR_SITES.expectedAttribute, `Expected attribute "${attr}" but found "${sanitizeChar(c.ch())}".`);
    }
    c.pos++;
    if (c.ch() !== 0x3d) throw scramError(SCRAM_ERROR_SITES.expectedEqualsAttr, `Expected character "=" for attribute "${attr}".`);
    c.pos++;
    return c.takeValue();
  }

  private readAnyAttr(c: Cursor): { attr: string; value: string } {
    const a = c.ch();
    if (a === undefined) throw scramError(SCRAM_ERROR_SITES.anyAttrEnd, 'Attribute expected, but found end of string.');
    if (!((a >= 0x41 && a <= 0x5a) || (a >= 0x61 && a <= 0x7a))) {
      throw scramError(SCRAM_ERROR_SITES.anyAttrInvalid, `Attribute expected, but found invalid character "${sanitizeChar(a)}".`);
    }
    const attr = String.fromCharCode(a);
    c.pos++;
    if (c.ch() !== 0x3d) throw scramError(SCRAM_ERROR_SITES.expectedEqualsAny, `Expected character "=" for attribute "${attr}".`);
    c.pos++;
    return { attr, value: c.takeValue() };
  }

  private readClientFirstMessage(input: string): void {
    const c = new Cursor(input);
    this.cbindFlag = c.ch() ?? 0;
    switch (c.ch()) {
      case 0x6e: // 'n': no channel binding
        if (this.channelBindingInUse) {
          throw scramError(SCRAM_ERROR_SITES.plusWithoutDataN,
            'The client selected SCRAM-SHA-256-PLUS, but the SCRAM message does not include channel binding data.');
        }
        c.pos++;
        if (c.ch() !== 0x2c) throw scramError(SCRAM_ERROR_SITES.commaExpectedN, `Comma expected, but found character "${sanitizeChar(c.ch())}".`);
        c.pos++;
        break;
      case 0x79: // 'y': client could bind but believes the server cannot
        if (this.channelBindingInUse) {
          throw scramError(SCRAM_ERROR_SITES.plusWithoutDataY,
            'The client selected SCRAM-SHA-256-PLUS, but the SCRAM message does not include channel binding data.');
        }
        if (this.sslInUse) {
          // We would have offered -PLUS: a downgrade attack, or a confused client.
          throw scramError(SCRAM_ERROR_SITES.bindingNegotiation,
            'The client supports SCRAM channel binding but thinks the server does not.  However, this server does support channel binding.');
        }
        c.pos++;
        if (c.ch() !== 0x2c) throw scramError(SCRAM_ERROR_SITES.commaExpectedY, `Comma expected, but found character "${sanitizeChar(c.ch())}".`);
        c.pos++;
        break;
      case 0x70: { // 'p': binding required
        if (!this.channelBindingInUse) {
          throw scramError(SCRAM_ERROR_SITES.bindingWithoutPlus,
            'The client selected SCRAM-SHA-256 without channel binding, but the SCRAM message includes channel binding data.');
        }
        const type = this.readAttrValue(c, 'p');
        if (type !== 'tls-server-end-point') {
          throw scramError(SCRAM_ERROR_SITES.unsupportedBindingType, undefined, sanitizeStr(type));
        }
        break;
      }
      default:
        throw scramError(SCRAM_ERROR_SITES.unexpectedFlag, `Unexpected channel-binding flag "${sanitizeChar(c.ch())}".`);
    }

    if (c.ch() === 0x61 /* a */) throw scramError(SCRAM_ERROR_SITES.authzid);
    if (c.ch() !== 0x2c) {
      throw scramError(SCRAM_ERROR_SITES.unexpectedAttribute, `Unexpected attribute "${sanitizeChar(c.ch())}" in client-first-message.`);
    }
    c.pos++;
    this.clientFirstMessageBare = input.slice(c.pos);

    if (c.ch() === 0x6d /* m */) throw scramError(SCRAM_ERROR_SITES.extension);
    this.clientUsernameValue = this.readAttrValue(c, 'n');
    this.clientNonce = this.readAttrValue(c, 'r');
    if (!isScramPrintable(Buffer.from(this.clientNonce, 'latin1'))) throw scramError(SCRAM_ERROR_SITES.nonPrintableNonce);
    // Optional extensions are read (and so syntax-checked) but ignored.
    while (!c.atEnd) this.readAnyAttr(c);
  }

  private readClientFinalMessage(input: string): void {
    const c = new Cursor(input);
    const channelBinding = this.readAttrValue(c, 'c');
    if (this.channelBindingInUse) {
      if (!this.tlsServerEndPoint || this.tlsServerEndPoint.length === 0) {
        throw internalError('could not get server certificate hash', 'read_client_final_message');
      }
      const expected = pgB64Encode(Buffer.concat([Buffer.from('p=tls-server-end-point,,'), this.tlsServerEndPoint]));
      if (channelBinding !== expected) throw scramError(SCRAM_ERROR_SITES.bindingCheckFailed);
    } else if (
      !(channelBinding === 'biws' && this.cbindFlag === 0x6e) && // "n,,"
      !(channelBinding === 'eSws' && this.cbindFlag === 0x79) //  "y,,"
    ) {
      throw scramError(SCRAM_ERROR_SITES.unexpectedBindingAttr);
    }

    this.clientFinalNonce = this.readAttrValue(c, 'r');

    // Skip extensions up to the proof; remember where the ",p=" starts.
    let proofStart: number;
    let attr: { attr: string; value: string };
    do {
      proofStart = c.pos - 1;
      attr = this.readAnyAttr(c);
    } while (attr.attr !== 'p');

    const proof = pgB64Decode(attr.value);
    if (proof === null || proof.length !== SCRAM_KEY_LEN) {
      throw scramError(SCRAM_ERROR_SITES.malformedProof, 'Malformed proof in client-final-message.');
    }
    this.clientProof = proof;
    if (!c.atEnd) throw scramError(SCRAM_ERROR_SITES.garbage, 'Garbage found at the end of client-final-message.');
    this.clientFinalMessageWithoutProof = input.slice(0, proofStart);
  }

  // -- building and verifying -------------------------------------------------

  private buildServerFirstMessage(): Buffer {
    this.serverNonce = this.fixedServerNonce ?? pgB64Encode(this.random.bytes(SCRAM_RAW_NONCE_LEN));
    this.serverFirstMessage = `r=${this.clientNonce}${this.serverNonce},s=${this.salt},i=${this.iterations}`;
    return Buffer.from(this.serverFirstMessage, 'latin1');
  }

  private authMessage(): Buffer {
    return Buffer.from(`${this.clientFirstMessageBare},${this.serverFirstMessage},${this.clientFinalMessageWithoutProof}`, 'latin1');
  }

  private verifyFinalNonce(): boolean {
    return this.clientFinalNonce === this.clientNonce + this.serverNonce;
  }

  private verifyClientProof(): boolean {
    const clientSignature = hmacSha256(this.storedKey, this.authMessage());
    const clientKey = xorBuffers(this.clientProof, clientSignature);
    return sha256(clientKey).equals(this.storedKey);
  }

  private buildServerFinalMessage(): Buffer {
    const serverSignature = hmacSha256(this.serverKey, this.authMessage());
    return Buffer.from(`v=${pgB64Encode(serverSignature)}`, 'latin1');
  }
}
