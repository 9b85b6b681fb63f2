/**
 * MD5 password hashing as both sides do it (src/common/md5_common.c pg_md5_encrypt): the
 * server stores md5(password ‖ user) and checks md5(that ‖ salt); the client computes both
 * from the password it has.
 */
import { createHash } from 'node:crypto';
import { stringToBytes } from '../bytes.js';

/** A role name or password given as a string stands for its bytes (src/bytes.ts). */
function toBytes(s: string | Buffer): Buffer {
  return typeof s === 'string' ? stringToBytes(s) : s;
}

/** pg_md5_encrypt(): "md5" + hex(md5(passwd ‖ salt)). */
export function pgMd5Encrypt(passwd: string | Buffer, salt: string | Buffer): string {
  return 'md5' + createHash('md5').update(toBytes(passwd)).update(toBytes(salt)).digest('hex');
}

/** What a client sends for AuthenticationMD5Password: md5(md5(password ‖ user) ‖ salt). */
export function md5ClientResponse(user: string, password: string | Buffer, salt: Buffer): string {
  return pgMd5Encrypt(pgMd5Encrypt(password, user).slice(3), salt);
}
