/**
 * Roles for the byte-exactness edge cases (edge-bytes-cases.ts), part of the
 * edge configuration's roles file. Role names and passwords in a UTF8
 * database are UTF-8; `rawff`'s secret was built from the single byte 0xFF,
 * which no CREATE ROLE … PASSWORD literal can carry, so it is given as a
 * verifier (both servers keep a literal verifier as is).
 */
import { buildScramSecret } from '../../src/auth/secrets.js';

/** SCRAM-SHA-256 verifier of the password bytes FF (fixed salt, 4096 iterations). */
export const RAW_FF_SECRET = buildScramSecret(Buffer.from([0xff]), { salt: Buffer.alloc(16, 0x5a) });

export const BYTES_ROLES_SQL = `CREATE ROLE "u\uFFFD" LOGIN PASSWORD 'secret';
CREATE ROLE fffd LOGIN PASSWORD '\uFFFD';
CREATE ROLE nfkc LOGIN PASSWORD '\uFB01';
CREATE ROLE rawff LOGIN PASSWORD '${RAW_FF_SECRET}';
CREATE ROLE dbbytes LOGIN;
SET password_encryption = 'md5';
CREATE ROLE md5fffd LOGIN PASSWORD '\uFFFD';
CREATE ROLE md5nfkc LOGIN PASSWORD '\uFB01';
SET password_encryption = 'scram-sha-256';
`;
