/**
 * The real Go drivers, built on this machine: spec/support/go/<name>/main.go compiled against
 * Debian's packaged sources under /usr/share/gocode (GOPATH mode: there is no module proxy),
 * once per source hash and Go version, into node_modules/.cache/pg-authsim/go/. Each binary
 * connects once with the connection string it is given and prints one JSON line.
 *
 * Needs (Debian 12): golang-go golang-github-jackc-pgx-v4-dev golang-github-lib-pq-dev
 * (pgx 4.15.0 brings pgconn 1.11.0 and pgproto3 2.2.0 with it).
 */
import { execFile, execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, readdirSync, renameSync, rmSync } from 'node:fs';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { ROOT } from './fixtures.js';

const run = promisify(execFile);

export const GOCODE = '/usr/share/gocode';
export const GO_PACKAGES = ['golang-go', 'golang-github-jackc-pgx-v4-dev', 'golang-github-lib-pq-dev'] as const;
const CACHE = process.env.PG_AUTHSIM_GO_CACHE ?? path.join(ROOT, 'node_modules', '.cache', 'pg-authsim', 'go');

export type GoProbe = 'pgx-probe' | 'pq-probe';
/** The Go import path each probe needs; its absence under GOCODE means a -dev package is missing. */
const NEEDS: Record<GoProbe, string> = {
  'pgx-probe': 'github.com/jackc/pgx/v4',
  'pq-probe': 'github.com/lib/pq',
};

export interface GoResult {
  ok: boolean;
  /** err.Error() as the application sees it. */
  error?: string;
  /** *pgconn.PgError / *pq.Error code when the error chain has one. */
  sqlstate?: string;
}

function missing(what: string): Error {
  return new Error(`${what}: the Go driver specs need ${GO_PACKAGES.join(' ')} (apt-get install -y ${GO_PACKAGES.join(' ')})`);
}

let goVersion: string | null = null;
/** `go version`, or a clear error when Go is not installed. */
export function goToolchain(): string {
  if (goVersion === null) {
    try {
      goVersion = execFileSync('go', ['version'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }).trim();
    } catch {
      throw missing('`go` is not on PATH');
    }
  }
  return goVersion;
}

/** The Debian package version of an installed package (dpkg-query), or null. */
export function debVersion(pkg: string): string | null {
  try {
    return execFileSync('dpkg-query', ['-W', '-f=${Version}', pkg], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim() || null;
  } catch {
    return null;
  }
}

const building = new Map<GoProbe, Promise<string>>();

/** Path of the probe's binary, built if its source (or the toolchain) changed since the cached build. */
export function goProbe(name: GoProbe): Promise<string> {
  let p = building.get(name);
  if (!p) {
    p = build(name);
    building.set(name, p);
  }
  return p;
}

async function build(name: GoProbe): Promise<string> {
  const toolchain = goToolchain();
  if (!existsSync(path.join(GOCODE, 'src', NEEDS[name]))) throw missing(`${NEEDS[name]} is not under ${GOCODE}/src`);
  const src = path.join(ROOT, 'spec', 'support', 'go', name);
  const hash = createHash('sha256').update(toolchain);
  for (const f of readdirSync(src).sort()) hash.update(f).update(readFileSync(path.join(src, f)));
  const dir = path.join(CACHE, `${name}-${hash.digest('hex').slice(0, 16)}`);
  const bin = path.join(dir, name);
  if (existsSync(bin)) return bin;
  mkdirSync(dir, { recursive: true });
  const tmp = `${bin}.${process.pid}.tmp`;
  try {
    await run('go', ['build', '-o', tmp, '.'], {
      cwd: src,
      timeout: 300_000,
      env: {
        PATH: process.env.PATH ?? '/usr/bin:/bin',
        HOME: dir,
        // Offline: Debian's sources only, no modules, no proxy.
        GO111MODULE: 'off',
        GOPATH: GOCODE,
        GOFLAGS: '',
        GOPROXY: 'off',
        // Pure Go (os/user reads /etc/passwd, net resolves in Go): no C compiler needed.
        CGO_ENABLED: '0',
        GOCACHE: path.join(CACHE, 'build-cache'),
      },
    });
  } catch (err) {
    rmSync(tmp, { force: true });
    const e = err as { stderr?: string; message: string };
    throw new Error(`go build of ${name} failed: ${e.stderr?.trim() || e.message}`);
  }
  renameSync(tmp, bin);
  return bin;
}

/** Run a probe once: it connects with `connString` and reports. `env` is all the environment it gets. */
export async function runGoProbe(bin: string, connString: string, env: Record<string, string>): Promise<GoResult> {
  let stdout: string;
  try {
    ({ stdout } = await run(bin, [connString], { env, timeout: 60_000 }));
  } catch (err) {
    const e = err as { stdout?: string; stderr?: string; message: string };
    throw new Error(`${path.basename(bin)} failed: ${e.stderr?.trim() || e.stdout?.trim() || e.message}`);
  }
  const line = stdout.trim().split('\n').pop() ?? '';
  try {
    return JSON.parse(line) as GoResult;
  } catch {
    throw new Error(`${path.basename(bin)} printed no JSON result: ${stdout}`);
  }
}
