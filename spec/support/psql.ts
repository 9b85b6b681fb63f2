/** Run the real psql (libpq 15 from Debian) the way the oracle did. */
import { spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { tempDir } from './temp.js';

export const PSQL = process.env.PSQL ?? '/usr/lib/postgresql/15/bin/psql';

export interface PsqlResult { exitCode: number; stdout: string; stderr: string; elapsedMs: number }

const emptyHome = tempDir('pg-authsim-home-');

export function runPsql(conninfo: string, opts: { password?: string; args?: string[]; timeoutMs?: number } = {}): Promise<PsqlResult> {
  const env: NodeJS.ProcessEnv = { PATH: process.env.PATH ?? '/usr/bin:/bin', LC_ALL: 'C', HOME: emptyHome };
  if (opts.password !== undefined) env.PGPASSWORD = opts.password;
  const args = opts.args ?? ['-X', '-w', '-c', 'select 1'];
  const started = performance.now();
  return new Promise((resolve, reject) => {
    const child = spawn(PSQL, [...args, conninfo], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => { stdout += d; });
    child.stderr.on('data', (d) => { stderr += d; });
    const timer = setTimeout(() => { child.kill('SIGKILL'); reject(new Error(`psql timed out: ${conninfo}`)); }, opts.timeoutMs ?? 15000);
    child.on('error', (e) => { clearTimeout(timer); reject(e); });
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ exitCode: code ?? -1, stdout, stderr, elapsedMs: performance.now() - started });
    });
  });
}
