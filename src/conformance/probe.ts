/**
 * oracle/hook_probe, built for the real server of each major.
 *
 * The probe is a tiny C extension that logs one line per
 * ClientAuthentication_hook call. Only PostgreSQL 15's server headers are on
 * the machine (Debian's postgresql-server-dev-15), so every build uses 15's
 * pgxs; for 16, 17 and 18 the source swaps in that major's magic block and
 * touches nothing else whose ABI changed (see oracle/README.md). Builds are
 * cached by source hash, so a spec pays for gcc once.
 */
import { execFile } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { accessSync, chmodSync, constants, cpSync, existsSync, mkdirSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const run = promisify(execFile);

export type PgMajor = 15 | 16 | 17 | 18;
export const PG_MAJORS: readonly PgMajor[] = [15, 16, 17, 18];

/** The repository root (this file is dist/src/conformance/probe.js once built). */
export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
export const PROBE_SOURCE_DIR = path.join(REPO_ROOT, 'oracle', 'hook_probe');
/** pgxs comes from here: the only server headers installed. */
export const PG15_CONFIG = '/usr/lib/postgresql/15/bin/pg_config';

export interface ProbeBuildOptions {
  /** Where built probes are kept; default $PG_AUTHSIM_PROBE_CACHE or node_modules/.cache/pg-authsim/hook_probe. */
  cacheDir?: string;
  sourceDir?: string;
  pgConfig?: string;
}

/**
 * $PG_AUTHSIM_PROBE_CACHE, else node_modules/.cache/pg-authsim/hook_probe
 * when that can be written, else a per-user directory under the system temp
 * dir (pg-authsim installed where its user may not write, e.g. globally by root).
 */
export function defaultProbeCacheDir(): string {
  if (process.env.PG_AUTHSIM_PROBE_CACHE) return process.env.PG_AUTHSIM_PROBE_CACHE;
  const inTree = path.join(REPO_ROOT, 'node_modules', '.cache', 'pg-authsim', 'hook_probe');
  try {
    mkdirSync(inTree, { recursive: true });
    accessSync(inTree, constants.W_OK);
    return inTree;
  } catch {
    return path.join(tmpdir(), `pg-authsim-${process.getuid?.() ?? 'user'}`, 'hook_probe');
  }
}

// One build per cache entry per process, even when servers start in parallel.
const building = new Map<string, Promise<string>>();

/**
 * Path of hook_probe.so for `major`, compiling it first if the cache has no
 * build of the current source. Throws with the compiler's output on failure.
 */
export async function buildHookProbe(major: PgMajor, opts: ProbeBuildOptions = {}): Promise<string> {
  const sourceDir = opts.sourceDir ?? PROBE_SOURCE_DIR;
  const pgConfig = opts.pgConfig ?? PG15_CONFIG;
  const cacheDir = opts.cacheDir ?? defaultProbeCacheDir();
  if (!existsSync(pgConfig)) {
    throw new Error(`hook_probe: ${pgConfig} not found; run scripts/install-pg-versions.sh`);
  }

  const hash = createHash('sha256');
  hash.update(`major=${major}\n`);
  hash.update((await run(pgConfig, ['--version'])).stdout);
  for (const f of ['hook_probe.c', 'Makefile']) hash.update(readFileSync(path.join(sourceDir, f)));
  const dir = path.join(cacheDir, `pg${major}-${hash.digest('hex').slice(0, 16)}`);
  const so = path.join(dir, 'hook_probe.so');

  let pending = building.get(so);
  if (!pending) {
    pending = (async () => {
      if (existsSync(so)) return so;
      mkdirSync(cacheDir, { recursive: true });
      // Build beside the final place and rename, so another process never sees half a build.
      const tmp = `${dir}.tmp-${randomBytes(4).toString('hex')}`;
      try {
        cpSync(sourceDir, tmp, { recursive: true });
        const args = ['-s', '-C', tmp, `PG_CONFIG=${pgConfig}`, 'with_llvm=no', `PROBE_MAJOR=${major}`];
        try {
          await run('make', args, { timeout: 120_000 });
        } catch (e) {
          const err = e as { stderr?: string; stdout?: string; message: string };
          throw new Error(`hook_probe: make for PostgreSQL ${major} failed: ${err.stderr || err.stdout || err.message}`);
        }
        if (!existsSync(path.join(tmp, 'hook_probe.so'))) throw new Error(`hook_probe: make produced no hook_probe.so for ${major}`);
        chmodSync(tmp, 0o755);
        try {
          renameSync(tmp, dir);
        } catch (e) {
          // Another process finished first; its build is as good as ours.
          if (!existsSync(so)) throw e;
        }
        return so;
      } finally {
        rmSync(tmp, { recursive: true, force: true });
      }
    })();
    building.set(so, pending);
    pending.catch(() => building.delete(so));
  }
  return pending;
}

export type HookStatus = 'OK' | 'ERROR' | 'EOF';

export interface HookProbeCall {
  status: HookStatus;
  ssl: boolean;
  /** Only a build for the headers' own major (15) can read Port's user_name; null otherwise. */
  user: string | null;
  pid: number;
}

/** The probe's message, with or without the `LOG:  ` severity in front. */
const HOOK_PROBE_RE = /^(?:LOG: {2})?hook_probe: status=(OK|ERROR|EOF|UNKNOWN) ssl=(on|off)(?: user=(.*))? pid=(\d+)$/;

export function parseHookProbeLine(text: string): HookProbeCall | null {
  const m = HOOK_PROBE_RE.exec(text);
  if (!m) return null;
  if (m[1] === 'UNKNOWN') throw new Error(`hook_probe saw a status other than OK/ERROR/EOF: ${text}`);
  return { status: m[1] as HookStatus, ssl: m[2] === 'on', user: m[3] ?? null, pid: Number(m[4]) };
}

/** The hook calls among log messages, in order. */
export function hookCalls(messages: Iterable<{ text: string }>): HookProbeCall[] {
  const out: HookProbeCall[] = [];
  for (const { text } of messages) {
    const call = parseHookProbeLine(text);
    if (call) out.push(call);
  }
  return out;
}
