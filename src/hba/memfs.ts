/**
 * An in-memory file tree for pg_hba.conf and the files it includes or names with @, so a
 * configuration can be given as strings (tests, the testing API) and still go through the
 * same open/read/list failures PostgreSQL meets on disk.
 */
import { canonicalizePath, type AuthDirEntry, type ReadDirFn, type ReadFileFn } from './tokenize.js';

export interface MemoryAuthFiles {
  readFile: ReadFileFn;
  readDir: ReadDirFn;
}

function errnoError(code: string, path: string): Error {
  return Object.assign(new Error(`${code}: ${path}`), { code });
}

/**
 * `files` maps absolute paths to contents; a value of null makes an empty directory. Parent
 * directories exist implicitly. Reading a directory fails with EISDIR, listing a file with
 * ENOTDIR, anything missing with ENOENT; `errors` forces an errno for a path (e.g. EACCES).
 */
export function memoryAuthFiles(
  files: Record<string, string | Uint8Array | null>,
  errors: Record<string, string> = {},
): MemoryAuthFiles {
  const entries = new Map<string, string | Uint8Array | null>();
  const dirs = new Set<string>(['/']);
  for (const [p, content] of Object.entries(files)) {
    if (!p.startsWith('/')) throw new TypeError(`memoryAuthFiles: not an absolute path: ${p}`);
    const path = canonicalizePath(p);
    entries.set(path, content);
    if (content === null) dirs.add(path);
    for (let d = path; d !== '/';) {
      d = d.slice(0, d.lastIndexOf('/')) || '/';
      dirs.add(d);
    }
  }
  const forced = new Map(Object.entries(errors).map(([p, code]) => [canonicalizePath(p), code]));
  const isFile = (p: string): boolean => entries.has(p) && entries.get(p) !== null;

  return {
    readFile(p) {
      const path = canonicalizePath(p);
      const code = forced.get(path);
      if (code !== undefined) throw errnoError(code, path);
      if (dirs.has(path)) throw errnoError('EISDIR', path);
      if (isFile(path)) return entries.get(path)!;
      // A path through a regular file is ENOTDIR, as open() says.
      for (let d = path; d !== '/';) {
        d = d.slice(0, d.lastIndexOf('/')) || '/';
        if (isFile(d)) throw errnoError('ENOTDIR', path);
      }
      return undefined;
    },
    readDir(p) {
      const path = canonicalizePath(p);
      const code = forced.get(path);
      if (code !== undefined) throw errnoError(code, path);
      if (isFile(path)) throw errnoError('ENOTDIR', path);
      if (!dirs.has(path)) throw errnoError('ENOENT', path);
      const prefix = path === '/' ? '/' : `${path}/`;
      const names = new Map<string, AuthDirEntry>();
      for (const q of [...entries.keys(), ...dirs]) {
        if (!q.startsWith(prefix) || q === path) continue;
        const name = q.slice(prefix.length).split('/')[0]!;
        const child = prefix + name;
        names.set(name, { name, isDirectory: dirs.has(child) });
      }
      return [...names.values()];
    },
  };
}
