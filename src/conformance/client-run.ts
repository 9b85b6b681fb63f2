/**
 * Running a real client process for one case: with its output captured, or
 * on a pseudo-terminal (script(1)) where it prompts for a password and we
 * type the answer, as a person at psql would.
 */
import { spawn } from 'node:child_process';
import * as path from 'node:path';

export interface ClientRun {
  exitCode: number | null;
  stdout: string;
  stderr: string;
}

export function spawnClient(cmd: string, args: readonly string[], env: Record<string, string>, timeoutMs = 60_000, stdin?: string): Promise<ClientRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, [...args], { env, stdio: [stdin === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout!.on('data', (d: Buffer) => { stdout += d.toString('utf8'); });
    child.stderr!.on('data', (d: Buffer) => { stderr += d.toString('utf8'); });
    if (stdin !== undefined) child.stdin!.end(stdin);
    const timer = setTimeout(() => { child.kill('SIGKILL'); reject(new Error(`${path.basename(cmd)} did not finish in ${timeoutMs} ms`)); }, timeoutMs);
    child.on('error', (e) => { clearTimeout(timer); reject(e); });
    child.on('close', (code) => { clearTimeout(timer); resolve({ exitCode: code, stdout, stderr }); });
  });
}

/** A word for sh -c. */
function shellQuote(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

/**
 * Run `cmd args` on a pty (script -qec) and type `answer` + Enter when the
 * terminal shows `prompt`. The terminal's text (both streams, CRLF made LF)
 * is `stdout`; `stderr` is empty. psql discards tty input typed before it
 * turns echo off, hence the pause after the prompt appears.
 */
export function spawnOnPty(cmd: string, args: readonly string[], env: Record<string, string>, prompt: RegExp, answer: string, timeoutMs = 60_000): Promise<ClientRun> {
  return new Promise((resolve, reject) => {
    const line = [cmd, ...args].map(shellQuote).join(' ');
    const child = spawn('script', ['-qec', line, '/dev/null'], { env: { ...env, TERM: 'dumb' }, stdio: ['pipe', 'pipe', 'pipe'] });
    let tty = '';
    let typed = false;
    child.stdout.on('data', (d: Buffer) => {
      tty += d.toString('utf8');
      if (!typed && prompt.test(tty)) {
        typed = true;
        setTimeout(() => child.stdin.write(`${answer}\n`), 100);
      }
    });
    child.stderr.on('data', (d: Buffer) => { tty += d.toString('utf8'); });
    const timer = setTimeout(() => { child.kill('SIGKILL'); reject(new Error(`${path.basename(cmd)} on a pty did not finish in ${timeoutMs} ms: ${JSON.stringify(tty)}`)); }, timeoutMs);
    child.on('error', (e) => { clearTimeout(timer); reject(e); });
    child.on('close', (code) => {
      clearTimeout(timer);
      // The typed line is not echoed (psql turns echo off), but the Enter is: keep the text as the user saw it.
      resolve({ exitCode: code, stdout: tty.replace(/\r\n/g, '\n'), stderr: '' });
    });
  });
}
