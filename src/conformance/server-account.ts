/**
 * Which OS account a real PostgreSQL server runs as, and how the harness
 * runs commands as it.
 *
 * PostgreSQL refuses to start as root, so a root invocation switches to the
 * `postgres` OS user (runuser) and hands it the cluster's files. Anyone else
 * runs the server as themselves, as hook authors do on their own machines:
 * no runuser, no chown, nothing that needs privileges.
 */
import { execFile, execFileSync } from 'node:child_process';
import { chownSync, readdirSync, statSync } from 'node:fs';
import { userInfo } from 'node:os';
import * as path from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

export interface RunOptions {
  /** Variables the command sees (nothing else of the harness's environment is passed). */
  env?: Record<string, string>;
  timeout?: number;
}

export interface ServerAccount {
  /** The OS user name the server runs as. */
  readonly name: string;
  /** True when the harness is root and switches to `postgres` for the server. */
  readonly switches: boolean;
  run(cmd: string, args: readonly string[], opts?: RunOptions): Promise<{ stdout: string; stderr: string }>;
  /** Synchronous, output ignored: for exit and signal handlers. */
  runSync(cmd: string, args: readonly string[], opts?: RunOptions): void;
  /** Give a file or a whole tree to the account (a no-op when the server runs as the invoking user). */
  own(p: string): void;
}

const BASE_PATH = '/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin';

function chownTree(p: string, uid: number, gid: number): void {
  chownSync(p, uid, gid);
  if (statSync(p).isDirectory()) for (const f of readdirSync(p)) chownTree(path.join(p, f), uid, gid);
}

/** As root: runuser to `postgres`, the variables passed through env(1) because runuser starts from a clean slate. */
class PostgresOsUser implements ServerAccount {
  readonly name = 'postgres';
  readonly switches = true;
  constructor(private readonly uid: number, private readonly gid: number) {}

  private argv(cmd: string, args: readonly string[], env: Record<string, string>): string[] {
    return ['-u', 'postgres', '--', 'env', ...Object.entries(env).map(([k, v]) => `${k}=${v}`), cmd, ...args];
  }

  run(cmd: string, args: readonly string[], opts: RunOptions = {}) {
    const env = { PATH: BASE_PATH, LC_ALL: 'C', ...opts.env };
    return run('runuser', this.argv(cmd, args, env), { env: { PATH: BASE_PATH, LC_ALL: 'C' }, timeout: opts.timeout ?? 60_000 });
  }

  runSync(cmd: string, args: readonly string[], opts: RunOptions = {}): void {
    const env = { PATH: BASE_PATH, LC_ALL: 'C', ...opts.env };
    execFileSync('runuser', this.argv(cmd, args, env), { env: { PATH: BASE_PATH, LC_ALL: 'C' }, stdio: 'ignore', timeout: opts.timeout ?? 30_000 });
  }

  own(p: string): void {
    chownTree(p, this.uid, this.gid);
  }
}

/** Not root: the server is the invoking user's own process. */
class InvokingUser implements ServerAccount {
  readonly switches = false;
  readonly name = userInfo().username;

  run(cmd: string, args: readonly string[], opts: RunOptions = {}) {
    return run(cmd, [...args], { env: { PATH: BASE_PATH, LC_ALL: 'C', ...opts.env }, timeout: opts.timeout ?? 60_000 });
  }

  runSync(cmd: string, args: readonly string[], opts: RunOptions = {}): void {
    execFileSync(cmd, [...args], { env: { PATH: BASE_PATH, LC_ALL: 'C', ...opts.env }, stdio: 'ignore', timeout: opts.timeout ?? 30_000 });
  }

  own(): void { /* already ours */ }
}

let account: ServerAccount | null = null;

/**
 * The account for this process: `postgres` when running as root (throws if
 * there is no such OS user), the invoking user otherwise.
 */
export function serverAccount(): ServerAccount {
  if (account) return account;
  if (process.getuid?.() !== 0) return (account = new InvokingUser());
  let ids: [number, number];
  try {
    ids = [
      Number(execFileSync('id', ['-u', 'postgres'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }).trim()),
      Number(execFileSync('id', ['-g', 'postgres'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }).trim()),
    ];
  } catch {
    throw new Error('running as root, but there is no `postgres` OS user to run PostgreSQL as (PostgreSQL refuses to run as root); create one, or run as an ordinary user');
  }
  return (account = new PostgresOsUser(...ids));
}
