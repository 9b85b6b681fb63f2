/**
 * A scenario to explain: the server's three files (as text, so the web explorer can edit
 * them), which client connects, and how (sslmode, password, conninfo options).
 */
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { SslMode } from '../clients/conninfo.js';

export type PasswordChoice = 'right' | 'wrong' | 'none' | 'prompt';
export const PASSWORD_CHOICES: readonly PasswordChoice[] = ['right', 'wrong', 'none', 'prompt'];

/** The data directory as text: what `serve -D` would read. */
export interface ServerFiles {
  postgresqlConf: string;
  hba: string;
  roles: string;
}

export interface Scenario {
  files: ServerFiles;
  /** Where the files came from, for titles ('examples/seed', 'preset: ...'). */
  origin: string;
  /** A name from MATRIX_CLIENTS. */
  client: string;
  /** 15-18: the server_version the simulator behaves like; default: postgresql.conf's. */
  pgVersion?: string;
  /** null: left unset (each client's default: psql and psycopg prefer). */
  sslmode: SslMode | null;
  password: PasswordChoice;
  /** Default: the first role that can log in. */
  user?: string;
  /** Other conninfo options the models honour: gssencmode, sslnegotiation, channel_binding, require_auth, ... */
  options?: Record<string, string>;
  /** PIDs, nonces and salts follow from it. Default 1. */
  seed?: number;
}

/** What a user types at psql's prompt in the 'prompt' case, and the wrong password everywhere. */
export const WRONG_PASSWORD = 'not-the-password';

export const SEED_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../examples/seed');

export function readServerFiles(dir: string): ServerFiles {
  const read = (name: string) => (existsSync(path.join(dir, name)) ? readFileSync(path.join(dir, name), 'utf8') : '');
  return { postgresqlConf: read('postgresql.conf'), hba: read('pg_hba.conf'), roles: read('roles.sql') };
}

/** The quick flags of `explain`: replace pg_hba.conf, switch ssl, add a role, set auth_delay. */
export function withQuickChanges(files: ServerFiles, q: { hba?: string; ssl?: boolean; role?: string; authDelayMs?: number }): ServerFiles {
  let conf = files.postgresqlConf;
  const setConf = (name: string, value: string) => {
    const re = new RegExp(`^\\s*${name.replace(/\./g, '\\.')}\\s*=.*$`, 'm');
    conf = re.test(conf) ? conf.replace(re, `${name} = ${value}`) : `${conf.replace(/\n?$/, '\n')}${name} = ${value}\n`;
  };
  if (q.ssl !== undefined) setConf('ssl', q.ssl ? 'on' : 'off');
  if (q.authDelayMs !== undefined) {
    if (!/^\s*shared_preload_libraries\s*=.*auth_delay/m.test(conf)) setConf('shared_preload_libraries', "'auth_delay'");
    setConf('auth_delay.milliseconds', String(q.authDelayMs));
  }
  const roles = q.role ? `${files.roles.replace(/\n?$/, '\n')}CREATE ROLE ${q.role} LOGIN PASSWORD 'secret';\n` : files.roles;
  const hba = q.hba !== undefined ? `${q.hba.replace(/\\n/g, '\n').replace(/\n?$/, '\n')}` : files.hba;
  return { postgresqlConf: conf, hba, roles };
}

/** Write the files as a throwaway data directory, run `fn` on it, remove it. */
export async function withDataDirectory<T>(files: ServerFiles, fn: (dir: string) => Promise<T>): Promise<T> {
  const dir = mkdtempSync(path.join(tmpdir(), 'pg-authsim-explain-'));
  try {
    writeFileSync(path.join(dir, 'postgresql.conf'), files.postgresqlConf);
    writeFileSync(path.join(dir, 'pg_hba.conf'), files.hba);
    writeFileSync(path.join(dir, 'roles.sql'), files.roles);
    return await fn(dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
