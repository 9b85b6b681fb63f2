/**
 * The password family: `password` (cleartext), `md5` (MD5 challenge, or SCRAM
 * when the stored secret is SCRAM) and `scram-sha-256` (CheckSASLAuth).
 */
import { PgError } from '../errors.js';
import type { ClientConnection } from '../connection.js';
import { STATUS_EOF, STATUS_ERROR, STATUS_OK } from '../hooks/status.js';
import { getRolePassword } from '../roles/index.js';
import { getPasswordType, plainCryptVerify, md5CryptVerify } from './secrets.js';
import { checkSASLAuth } from './sasl.js';
import type { AuthResult } from './result.js';
import { recvAuthMessage } from './recv.js';
import { parsePasswordPacket, PG_MAX_AUTH_TOKEN_LENGTH } from '../wire/codec.js';

/**
 * recv_password_packet(): the client's `p` message as the bytes it sent (no encoding is
 * assumed: the `password` method hands them to SASLprep or MD5, md5 compares them), or null
 * when it hung up or the framing broke.
 */
export async function recvPasswordPacket(be: ClientConnection): Promise<Buffer | null> {
  const read = await recvAuthMessage(be, PG_MAX_AUTH_TOKEN_LENGTH, (type) => new PgError({
    severity: 'FATAL', sqlstate: '08P01',
    message: `expected password response, got message type ${type}`,
    file: 'auth.c', line: 718, routine: 'recv_password_packet',
  }));
  if (read.kind !== 'body') return null;
  be.emit({ type: 'auth-response', message: 'PasswordMessage' });
  return parsePasswordPacket(read.body);
}

/** CheckPasswordAuth: ask for the cleartext password, then compare it with whatever secret is stored. */
export async function checkPasswordAuth(be: ClientConnection): Promise<AuthResult> {
  be.sendAuthRequest({ type: 'AuthenticationCleartextPassword' });
  const passwd = await recvPasswordPacket(be);
  if (passwd === null) return { status: STATUS_EOF };
  const user = be.port.user_name;
  const role = getRolePassword(be.ctx.roles, user, be.ctx.clock.now());
  if (role.secret === null) return { status: STATUS_ERROR, logdetail: role.logdetail };
  const verdict = plainCryptVerify(user, role.secret, passwd);
  if (!verdict.ok) return { status: STATUS_ERROR, logdetail: verdict.logdetail };
  be.setAuthnId(user);
  return { status: STATUS_OK };
}

/**
 * CheckPWChallengeAuth: md5 only when the line says md5 and the secret is an
 * MD5 hash; SCRAM otherwise. A missing or unusable secret still runs the
 * exchange the stored type (or password_encryption) implies, so an outsider
 * cannot tell the difference, and the result is forced to ERROR unless the
 * client hung up.
 */
export async function checkPWChallengeAuth(be: ClientConnection, method: 'md5' | 'scram-sha-256'): Promise<AuthResult> {
  const user = be.port.user_name;
  const role = getRolePassword(be.ctx.roles, user, be.ctx.clock.now());
  const pwtype = role.secret === null ? be.settings.passwordEncryption : getPasswordType(role.secret);
  const result = method === 'md5' && pwtype === 'md5'
    ? await checkMD5Auth(be, role.secret)
    : await checkSASLAuth(be, role.secret);
  // A doomed exchange still reports the client hanging up as EOF (observed on 15.20); otherwise it fails with the lookup's reason.
  if (role.secret === null) return result.status === STATUS_EOF ? result : { status: STATUS_ERROR, logdetail: role.logdetail };
  if (result.status === STATUS_OK) be.setAuthnId(user);
  return result;
}

async function checkMD5Auth(be: ClientConnection, secret: string | null): Promise<AuthResult> {
  const salt = be.ctx.random.bytes(4);
  be.sendAuthRequest({ type: 'AuthenticationMD5Password', salt });
  const passwd = await recvPasswordPacket(be);
  if (passwd === null) return { status: STATUS_EOF };
  if (secret === null) return { status: STATUS_ERROR };
  const verdict = md5CryptVerify(be.port.user_name, secret, passwd, salt);
  return verdict.ok ? { status: STATUS_OK } : { status: STATUS_ERROR, logdetail: verdict.logdetail };
}
