/**
 * An ordinary (non-root) account with its own copy of the built tree, for
 * specs that must show something works as hook authors run it on their own
 * machines.
 *
 * Run as root, it creates a throwaway system user (useradd), copies dist/,
 * package.json, certs/, oracle/ and examples/ into a temp dir that user owns (so the
 * keys are the user's own, mode 0600, as in their checkout) and links
 * node_modules read-only; dispose() removes both. Run as anyone else, the
 * invoking user is already the ordinary account and the tree is used in place.
 */
import { execFileSync, spawn } from 'node:child_process';
import { chmodSync, cpSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir, userInfo } from 'node:os';
import * as path from 'node:path';
import { ROOT } from './fixtures.js';

export interface RunResult {
  exitCode: number | null;
  stdout: string;
  stderr: string;
}

export interface NonRootTree {
  user: string;
  uid: number;
  /** The tree's root: dist/, certs/, oracle/, package.json, node_modules. */
  root: string;
  /** A directory the account may write to (removed by dispose()). */
  scratch: string;
  /** Run node with `args` (paths relative to root) as the account, cwd root. */
  node(args: string[], env?: Record<string, string>, timeoutMs?: number): Promise<RunResult>;
  dispose(): void;
}

const sleepSync = (ms: number) => Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);

/** useradd, retried while another process holds /etc/passwd's lock. */
function addUser(name: string): void {
  for (let attempt = 1; ; attempt++) {
    try {
      execFileSync('useradd', ['--system', '--user-group', '--no-create-home', '--shell', '/usr/sbin/nologin', name], { stdio: 'pipe' });
      return;
    } catch (e) {
      if (attempt >= 10 || !/lock/i.test(String((e as { stderr?: Buffer }).stderr ?? ''))) throw e;
      sleepSync(200 * attempt);
    }
  }
}

function delUser(name: string): void {
  for (let attempt = 1; attempt <= 10; attempt++) {
    try {
      execFileSync('userdel', [name], { stdio: 'pipe' });
      return;
    } catch {
      sleepSync(200 * attempt);
    }
  }
}

export function nonRootTree(): NonRootTree {
  const work = mkdtempSync(path.join(tmpdir(), 'pg-authsim-nonroot-'));
  const cache = path.join(work, 'probe-cache');
  let user: string;
  let root: string;
  let wrap: (argv: string[]) => [string, string[]];
  let created: string | null = null;
  if (process.getuid?.() === 0) {
    created = user = `pgas-nr-${process.pid}`;
    addUser(user);
    root = path.join(work, 'pg-authsim');
    for (const part of ['dist', 'certs', 'oracle', 'examples', 'package.json']) cpSync(path.join(ROOT, part), path.join(root, part), { recursive: true });
    symlinkSync(path.join(ROOT, 'node_modules'), path.join(root, 'node_modules'));
    chmodSync(work, 0o755);
    execFileSync('chown', ['-R', '--no-dereference', `${user}:${user}`, work]);
    wrap = (argv) => ['runuser', ['-u', user, '--', ...argv]];
  } else {
    user = userInfo().username;
    root = ROOT;
    wrap = (argv) => [argv[0]!, argv.slice(1)];
  }
  const uid = Number(execFileSync('id', ['-u', user], { encoding: 'utf8' }).trim());

  const node = (args: string[], env: Record<string, string> = {}, timeoutMs = 120_000) => new Promise<RunResult>((resolve, reject) => {
    const [cmd, argv] = wrap(['env', `HOME=${work}`, 'PATH=/usr/bin:/bin', `PG_AUTHSIM_PROBE_CACHE=${cache}`,
      ...Object.entries(env).map(([k, v]) => `${k}=${v}`), process.execPath, ...args]);
    const child = spawn(cmd, argv, { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => { stdout += d.toString('utf8'); });
    child.stderr.on('data', (d: Buffer) => { stderr += d.toString('utf8'); });
    // SIGTERM first: the child's exit hooks stop the servers it started.
    const timer = setTimeout(() => child.kill('SIGTERM'), timeoutMs);
    child.on('error', (e) => { clearTimeout(timer); reject(e); });
    child.on('close', (code) => { clearTimeout(timer); resolve({ exitCode: code, stdout, stderr }); });
  });

  return {
    user,
    uid,
    root,
    scratch: work,
    node,
    dispose() {
      rmSync(work, { recursive: true, force: true });
      if (created) delUser(created);
    },
  };
}
