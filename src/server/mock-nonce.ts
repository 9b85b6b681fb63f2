/**
 * The mock authentication nonce: 32 secret bytes from which a missing role's
 * SCRAM salt is derived, so probing user names gets the same fake salt every
 * time and cannot tell a missing role from a real one. PostgreSQL keeps it in
 * pg_control, written by initdb, so it survives restarts; pg-authsim keeps it
 * in the data directory, created on the first start (from the server's
 * random source: repeatable with --seed or a TestCluster's seed).
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { PgError } from '../errors.js';
import type { StartupMessage } from './datadir.js';

export const MOCK_NONCE_FILE = 'mock_authentication_nonce';

/**
 * The nonce stored in `dataDirectory`, or `fresh` after writing it there.
 * A file that does not hold 64 hex digits stops the start, as a damaged
 * pg_control would; a directory we cannot write to only costs stability
 * (a WARNING in `messages`).
 */
export function persistedMockNonce(dataDirectory: string, fresh: Buffer, messages: StartupMessage[]): Buffer {
  const file = path.join(dataDirectory, MOCK_NONCE_FILE);
  if (existsSync(file)) {
    const text = readFileSync(file, 'utf8').trim();
    if (!/^[0-9a-f]{64}$/i.test(text)) {
      throw new PgError({ severity: 'FATAL', sqlstate: 'XX001', message: `invalid mock authentication nonce in file "${file}"`, hint: 'Remove the file to have a new one created.' });
    }
    return Buffer.from(text, 'hex');
  }
  try {
    writeFileSync(file, `${fresh.toString('hex')}\n`, { mode: 0o600, flag: 'wx' });
  } catch (err) {
    messages.push({ severity: 'WARNING', message: `could not create file "${file}": ${(err as Error).message}`, hint: 'Mock SCRAM salts will change when the server restarts.' });
  }
  return fresh;
}
