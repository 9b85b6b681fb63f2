/**
 * The password file (~/.pgpass): libpq's passwordFromFile() and pwdfMatchesString().
 * Lines are hostname:port:database:username:password; `*` matches anything, `\` escapes.
 */
import * as fs from 'node:fs';
import { DEFAULT_PGSOCKET_DIR, DEF_PGPORT_STR, isUnixSocketPath } from './pg-config.js';

export interface PassfileReader {
  /** null when the file does not exist (stat fails). */
  stat(path: string): { isFile: boolean; mode: number } | null;
  read(path: string): string | null;
}

export const fsPassfileReader: PassfileReader = {
  stat(path) {
    try {
      const st = fs.statSync(path);
      return { isFile: st.isFile(), mode: st.mode };
    } catch {
      return null;
    }
  },
  read(path) {
    try {
      return fs.readFileSync(path, 'utf8');
    } catch {
      return null;
    }
  },
};

/** One field against a token: returns the rest of the line after the field's ':' or null. */
function matchField(line: string, at: number, token: string): number | null {
  if (line[at] === '*' && line[at + 1] === ':') return at + 2;
  let i = at;
  let t = 0;
  let bslash = false;
  while (i < line.length) {
    if (line[i] === '\\' && !bslash) {
      i++;
      bslash = true;
    }
    if (line[i] === ':' && t === token.length && !bslash) return i + 1;
    bslash = false;
    if (t === token.length) return null;
    if (line[i] === token[t]) {
      i++;
      t++;
    } else {
      return null;
    }
  }
  return null;
}

export function passwordFromFile(
  hostname: string | null,
  port: string | null,
  dbname: string,
  username: string,
  pgpassfile: string,
  reader: PassfileReader = fsPassfileReader,
  warn: (line: string) => void = (l) => process.stderr.write(l),
): string | null {
  // 'localhost' stands for the default socket directory too.
  let host = hostname === null || hostname === '' ? 'localhost' : hostname;
  if (isUnixSocketPath(host) && host === DEFAULT_PGSOCKET_DIR) host = 'localhost';
  const portStr = port === null || port === '' ? DEF_PGPORT_STR : port;

  const st = reader.stat(pgpassfile);
  if (st === null) return null;
  if (!st.isFile) {
    warn(`WARNING: password file "${pgpassfile}" is not a plain file\n`);
    return null;
  }
  if ((st.mode & 0o077) !== 0) {
    warn(`WARNING: password file "${pgpassfile}" has group or world access; permissions should be u=rw (0600) or less\n`);
    return null;
  }
  const text = reader.read(pgpassfile);
  if (text === null) return null;
  for (const rawLine of text.split('\n')) {
    if (rawLine.startsWith('#')) continue;
    const line = rawLine.replace(/[\r\n]+$/, '');
    if (line === '') continue;
    let at: number | null = 0;
    for (const token of [host, portStr, dbname, username]) {
      at = matchField(line, at, token);
      if (at === null) break;
    }
    if (at === null) continue;
    // De-escape the password, which ends at the next unescaped ':'.
    let out = '';
    for (let i = at; i < line.length && line[i] !== ':'; i++) {
      if (line[i] === '\\' && i + 1 < line.length) i++;
      out += line[i];
    }
    return out;
  }
  return null;
}
