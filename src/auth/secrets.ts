/**
 * Stored password secrets as PostgreSQL 15 keeps them in pg_authid.rolpassword, and the checks
 * that use them (src/backend/libpq/crypt.c, the secret parts of auth-scram.c, common/md5_common.c).
 */
import { stringToBytes } from '../bytes.js';
import type { Random } from '../random.js';
import {
  SCRAM_DEFAULT_ITERATIONS, SCRAM_DEFAULT_SALT_LEN, SCRAM_KEY_LEN,
  pgB64Decode, pgB64Encode, scramClientKey, scramPreparePassword, scramSaltedPasswordCached,
  scramServerKey, sha256,
} from '../common/scram-common.js';
import { pgMd5Encrypt, md5ClientResponse } from '../common/md5.js';

export { pgMd5Encrypt, md5ClientResponse };

export type PasswordType = 'md5' | 'scram-sha-256' | 'plaintext';
/** The password_encryption GUC values PG 15 accepts. */
export type PasswordEncryption = 'md5' | 'scram-sha-256';

/** "md5" plus 32 lower-case hex digits. */
export const MD5_PASSWD_LEN = 35;
const MD5_PASSWD_CHARSET = /^[0-9a-f]*$/;

export type VerifyResult = { ok: true } | { ok: false; logdetail: string };

/** A role name or password given as a string stands for its bytes (src/bytes.ts): a client's name may not be UTF-8. */
function toBytes(s: string | Buffer): Buffer {
  return typeof s === 'string' ? stringToBytes(s) : s;
}

// ---------------------------------------------------------------------------
// md5


/** The md5 secret CREATE ROLE stores: the role name is the salt. */
export function md5Secret(user: string, password: string | Buffer): string {
  return pgMd5Encrypt(password, user);
}

/** The answer to AuthenticationMD5Password, computed from a stored md5 secret and the 4-byte salt. */
export function md5ChallengeResponse(secret: string, salt: Buffer): string {
  return pgMd5Encrypt(secret.slice(3), salt);
}


// ---------------------------------------------------------------------------
// SCRAM secrets

export interface ScramSecret {
  iterations: number;
  /** The salt exactly as written in the secret (base64). */
  salt: string;
  saltBytes: Buffer;
  storedKey: Buffer;
  serverKey: Buffer;
}

/** C strtok() over a JS string, because parse_scram_secret's field splitting inherits its quirks (empty fields vanish). */
class Strtok {
  private pos = 0;
  constructor(private readonly s: string) {}
  next(delims: string): string | null {
    while (this.pos < this.s.length && delims.includes(this.s[this.pos]!)) this.pos++;
    if (this.pos >= this.s.length) return null;
    const start = this.pos;
    while (this.pos < this.s.length && !delims.includes(this.s[this.pos]!)) this.pos++;
    const token = this.s.slice(start, this.pos);
    if (this.pos < this.s.length) this.pos++; // the delimiter is overwritten by '\0'
    return token;
  }
}

/** strtol(s, &end, 10) with PG's "*end == '\0' && errno == 0" acceptance, then stored into a C int. */
function parseCInt(s: string): number | null {
  const m = /^[ \t\n\v\f\r]*([+-]?[0-9]+)$/.exec(s);
  if (!m) return null;
  const v = BigInt(m[1]!);
  if (v > 9223372036854775807n || v < -9223372036854775808n) return null; // ERANGE
  return Number(BigInt.asIntN(32, v));
}

/**
 * parse_scram_secret(): `SCRAM-SHA-256$<iterations>:<salt>$<StoredKey>:<ServerKey>`.
 * Returns null where PG returns false. The iteration count is not range-checked (PG doesn't).
 */
export function parseScramSecret(secret: string): ScramSecret | null {
  const tok = new Strtok(secret);
  const scheme = tok.next('$');
  const iterationsStr = scheme === null ? null : tok.next(':');
  const salt = iterationsStr === null ? null : tok.next('$');
  const storedKeyStr = salt === null ? null : tok.next(':');
  const serverKeyStr = storedKeyStr === null ? null : tok.next('');
  if (scheme === null || iterationsStr === null || salt === null || storedKeyStr === null || serverKeyStr === null) {
    return null;
  }
  if (scheme !== 'SCRAM-SHA-256') return null;
  const iterations = parseCInt(iterationsStr);
  if (iterations === null) return null;
  const saltBytes = pgB64Decode(salt);
  if (saltBytes === null) return null;
  const storedKey = pgB64Decode(storedKeyStr);
  if (storedKey === null || storedKey.length !== SCRAM_KEY_LEN) return null;
  const serverKey = pgB64Decode(serverKeyStr);
  if (serverKey === null || serverKey.length !== SCRAM_KEY_LEN) return null;
  return { iterations, salt, saltBytes, storedKey, serverKey };
}

export interface BuildScramSecretOptions {
  /** Exact salt to use (for reproducing a known secret); otherwise `random` supplies 16 bytes. */
  salt?: Buffer;
  random?: Random;
  /** ≤ 0 means the default, as in scram_build_secret. */
  iterations?: number;
}

/** pg_be_scram_build_secret(): SASLprep (raw fallback), salt, StoredKey = H(ClientKey), ServerKey. */
export function buildScramSecret(password: string | Buffer, opts: BuildScramSecretOptions = {}): string {
  let salt = opts.salt;
  if (!salt) {
    if (!opts.random) throw new Error('buildScramSecret needs either a salt or a Random');
    salt = opts.random.bytes(SCRAM_DEFAULT_SALT_LEN);
  }
  let iterations = opts.iterations ?? SCRAM_DEFAULT_ITERATIONS;
  if (iterations <= 0) iterations = SCRAM_DEFAULT_ITERATIONS;
  const saltedPassword = scramSaltedPasswordCached(scramPreparePassword(password), salt, iterations);
  const storedKey = sha256(scramClientKey(saltedPassword));
  const serverKey = scramServerKey(saltedPassword);
  return `SCRAM-SHA-256$${iterations}:${pgB64Encode(salt)}$${pgB64Encode(storedKey)}:${pgB64Encode(serverKey)}`;
}

// ---------------------------------------------------------------------------
// classification and verification (crypt.c)

/** get_password_type(): md5 first, then anything parse_scram_secret accepts, else plaintext. */
export function getPasswordType(secret: string): PasswordType {
  if (secret.startsWith('md5') && secret.length === MD5_PASSWD_LEN && MD5_PASSWD_CHARSET.test(secret.slice(3))) {
    return 'md5';
  }
  if (parseScramSecret(secret) !== null) return 'scram-sha-256';
  return 'plaintext';
}

/**
 * encrypt_password(): what CREATE/ALTER ROLE … PASSWORD stores. A value that already looks like
 * an md5 or SCRAM secret is kept as is, whatever password_encryption says.
 */
export function encryptPassword(
  target: PasswordEncryption, role: string, password: string, random: Random,
): string {
  if (getPasswordType(password) !== 'plaintext') return password;
  if (target === 'md5') return md5Secret(role, password);
  return buildScramSecret(password, { random });
}

export interface ScramPlainVerify {
  ok: boolean;
  /** Server LOG line PG would emit (only for a secret that looks like SCRAM but does not parse). */
  log?: string;
}

/** scram_verify_plain_password(): derive ServerKey from the cleartext password and compare. */
export function scramVerifyPlainPassword(user: string, password: string | Buffer, secret: string): ScramPlainVerify {
  const parsed = parseScramSecret(secret);
  if (!parsed) return { ok: false, log: `invalid SCRAM secret for user "${user}"` };
  const saltedPassword = scramSaltedPasswordCached(scramPreparePassword(password), parsed.saltBytes, parsed.iterations);
  return { ok: scramServerKey(saltedPassword).equals(parsed.serverKey) };
}

const mismatch = (role: string): VerifyResult => ({ ok: false, logdetail: `Password does not match for user "${role}".` });

/**
 * plain_crypt_verify(): the `password` method's check of a cleartext password against the stored
 * secret. A plaintext "secret" is never compared: PG 15 reports it as unrecognized.
 */
export function plainCryptVerify(role: string, secret: string, clientPassword: string | Buffer): VerifyResult {
  switch (getPasswordType(secret)) {
    case 'scram-sha-256':
      return scramVerifyPlainPassword(role, clientPassword, secret).ok ? { ok: true } : mismatch(role);
    case 'md5':
      return pgMd5Encrypt(clientPassword, role) === secret ? { ok: true } : mismatch(role);
    case 'plaintext':
      return { ok: false, logdetail: `Password of user "${role}" is in unrecognized format.` };
  }
}

/** md5_crypt_verify(): compare the client's md5 challenge response with the expected one. */
export function md5CryptVerify(role: string, secret: string, clientResponse: string | Buffer, salt: Buffer): VerifyResult {
  if (getPasswordType(secret) !== 'md5') {
    return { ok: false, logdetail: `User "${role}" has a password that cannot be used with MD5 authentication.` };
  }
  const expected = md5ChallengeResponse(secret, salt);
  return toBytes(clientResponse).equals(Buffer.from(expected, 'latin1')) ? { ok: true } : mismatch(role);
}
