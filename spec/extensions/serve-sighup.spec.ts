/** `pg-authsim serve` re-reads its configuration on SIGHUP (what `pg_ctl reload` sends). */
import { expect } from 'chai';
import { spawn } from 'node:child_process';
import { appendFileSync, cpSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { ROOT } from '../support/fixtures.js';

describe('serve: SIGHUP', function () {
  this.timeout(30_000);
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'pg-authsim-sighup-'));
    cpSync(path.join(ROOT, 'examples', 'seed'), dir, { recursive: true });
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('logs the reload and the changed parameter, and keeps serving', async () => {
    const child = spawn(process.execPath, [path.join(ROOT, 'dist', 'src', 'cli.js'), 'serve', '-D', dir, '--port', '0', '--seed', '1'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => { stdout += d.toString(); });
    child.stderr.on('data', (d: Buffer) => { stderr += d.toString(); });
    const waitFor = async (pred: () => boolean) => {
      for (let i = 0; i < 600 && !pred(); i++) await new Promise((r) => setTimeout(r, 25));
      if (!pred()) throw new Error(`timed out; stderr so far:\n${stderr}`);
    };
    try {
      await waitFor(() => stdout.includes('listening on'));
      appendFileSync(path.join(dir, 'postgresql.conf'), 'auth_delay.milliseconds = 10\n');
      child.kill('SIGHUP');
      await waitFor(() => stderr.includes('changed to'));
      const lines = stderr.split('\n').map((l) => l.replace(/^\S+ \S+ \S+ \[\d+\] /, ''));
      expect(lines).to.include.members([
        'LOG:  received SIGHUP, reloading configuration files',
        'LOG:  parameter "auth_delay.milliseconds" changed to "10"',
      ]);
      expect(child.exitCode).to.equal(null);
    } finally {
      child.kill('SIGINT');
      await new Promise((r) => child.once('exit', r));
    }
  });
});
