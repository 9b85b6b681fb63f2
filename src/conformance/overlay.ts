/**
 * A private PostgreSQL installation that also holds the user's own
 * extension builds, so `shared_preload_libraries = 'credcheck'` and
 * `CREATE EXTENSION credcheck` work without `make install` into the
 * system's directories (which needs root and changes the machine for
 * everyone).
 *
 * PostgreSQL finds its share and lib directories relative to the running
 * executable when the installation has moved (make_relative_path in
 * src/port/path.c: the compiled-in bindir's tail is matched against the
 * executable's directory). So the overlay mirrors the installation's
 * layout under a temp dir: postgres, initdb and pg_ctl as hard links (a
 * copy when the file system or fs.protected_hardlinks refuses, since
 * symlinks are resolved before the match), every file of pkglibdir and
 * sharedir as a symlink, plus the extension's .so in pkglibdir and its
 * control file and SQL scripts in sharedir/extension.
 */
import { execFileSync } from 'node:child_process';
import { chmodSync, copyFileSync, existsSync, linkSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import type { PgInstallation } from './real-server.js';

export interface ExtensionBuild {
  /** The library name, e.g. `credcheck` (the .so's file name without `.so`). */
  name: string;
  /** The built shared library. */
  library: string;
  /** `<name>.control` and `<name>--*.sql` found beside the library (or below it), for CREATE EXTENSION; empty when there is no control file. */
  sqlFiles: string[];
}

/** The files an extension's build directory offers: the library, and the control file and scripts when present. */
export function extensionBuild(library: string): ExtensionBuild {
  const lib = path.resolve(library);
  if (!existsSync(lib) || !statSync(lib).isFile()) throw new Error(`${library}: no such shared library`);
  const name = path.basename(lib).replace(/\.so$/, '');
  const dir = path.dirname(lib);
  const found: string[] = [];
  const walk = (d: string, depth: number) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, e.name);
      if (e.isDirectory() && depth < 2 && !e.name.startsWith('.')) walk(p, depth + 1);
      else if (e.isFile() && (e.name === `${name}.control` || (e.name.startsWith(`${name}--`) && e.name.endsWith('.sql')))) found.push(p);
    }
  };
  walk(dir, 0);
  const hasControl = found.some((f) => path.basename(f) === `${name}.control`);
  return { name, library: lib, sqlFiles: hasControl ? found.sort() : [] };
}

interface Layout { bindir: string; sharedir: string; pkglibdir: string }

/** Where the installation keeps its parts: pg_config's answers, else the relocatable layout (bin, lib/postgresql, share/postgresql). */
function layoutOf(install: PgInstallation): Layout {
  if (install.pgConfig || install.major === 15) {
    const pgConfig = install.pgConfig ?? path.join(install.binDir, 'pg_config');
    const ask = (flag: string) => execFileSync(pgConfig, [flag], { encoding: 'utf8' }).trim();
    return { bindir: ask('--bindir'), sharedir: ask('--sharedir'), pkglibdir: ask('--pkglibdir') };
  }
  const root = path.dirname(install.binDir);
  return { bindir: install.binDir, sharedir: path.join(root, 'share', 'postgresql'), pkglibdir: install.pkglibDir };
}

function commonDir(paths: string[]): string {
  const split = paths.map((p) => path.resolve(p).split(path.sep));
  const out: string[] = [];
  for (let i = 0; split.every((s) => i < s.length && s[i] === split[0]![i]); i++) out.push(split[0]![i]!);
  return out.join(path.sep) || path.sep;
}

function linkOrCopy(from: string, to: string): void {
  try {
    linkSync(from, to);
  } catch {
    copyFileSync(from, to);
    chmodSync(to, 0o755);
  }
}

function mirrorDir(from: string, to: string, except: ReadonlySet<string> = new Set()): void {
  mkdirSync(to, { recursive: true });
  for (const e of readdirSync(from)) if (!except.has(e)) symlinkSync(path.join(from, e), path.join(to, e));
}

export interface Overlay {
  install: PgInstallation;
  /** The overlay's root directory. */
  root: string;
  dispose(): void;
}

/**
 * A copy of `install` (binaries linked, everything else symlinked) with the
 * given extension builds added. Readable by everyone, so a server run as
 * the `postgres` OS user can use it too.
 */
export function overlayInstallation(install: PgInstallation, builds: readonly ExtensionBuild[]): Overlay {
  const layout = layoutOf(install);
  const base = commonDir([layout.bindir, layout.sharedir, layout.pkglibdir]);
  const root = mkdtempSync(path.join(tmpdir(), `pg-authsim-pg${install.major}-overlay-`));
  const at = (p: string) => path.join(root, path.relative(base, p));
  try {
    const bin = at(layout.bindir);
    mkdirSync(bin, { recursive: true });
    // The real files live where install.binDir points (for Debian that is bindir itself).
    for (const tool of ['postgres', 'initdb', 'pg_ctl']) linkOrCopy(path.join(install.binDir, tool), path.join(bin, tool));
    const pkglib = at(layout.pkglibdir);
    const share = at(layout.sharedir);
    const taken = new Set(builds.map((b) => `${b.name}.so`));
    mirrorDir(install.pkglibDir, pkglib, taken);
    mirrorDir(layout.sharedir, share, new Set(['extension']));
    const extDir = path.join(share, 'extension');
    const scripts = new Set(builds.flatMap((b) => b.sqlFiles.map((f) => path.basename(f))));
    if (existsSync(path.join(layout.sharedir, 'extension'))) mirrorDir(path.join(layout.sharedir, 'extension'), extDir, scripts);
    else mkdirSync(extDir);
    for (const b of builds) {
      copyFileSync(b.library, path.join(pkglib, `${b.name}.so`));
      chmodSync(path.join(pkglib, `${b.name}.so`), 0o755);
      for (const f of b.sqlFiles) copyFileSync(f, path.join(extDir, path.basename(f)));
    }
    execFileSync('chmod', ['-R', 'a+rX', root]);
  } catch (e) {
    rmSync(root, { recursive: true, force: true });
    throw e;
  }
  return {
    root,
    install: { ...install, binDir: at(layout.bindir), pkglibDir: at(layout.pkglibdir) },
    dispose: () => rmSync(root, { recursive: true, force: true }),
  };
}
