/**
 * Throwaway data directories for TestCluster, reused: a cluster takes a free directory, the
 * files it needs are (re)written only where their content changed since the last cluster that
 * used it, anything else found there is removed, and close() gives the directory back. Every
 * directory is removed when the process exits. A suite that starts a cluster per test so writes
 * three small files once instead of creating, writing and deleting a directory each time.
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';

/** What was written, and how the file looked right after: a later writer (a test, ALTER SYSTEM) changes that. */
interface Written { text: string; mtimeMs: number; size: number }
interface Slot { dir: string; files: Map<string, Written> }

const free: Slot[] = [];
const all = new Set<string>();
let exitHook = false;

/**
 * A data directory holding exactly `files` (name → text). `kept`: files the server creates
 * itself (the mock authentication nonce), left in place when the directory still holds exactly
 * that text from an earlier server, and removed otherwise, so the server creates them as on a
 * first start.
 */
export function acquireDataDirectory(files: ReadonlyArray<readonly [string, string]>, kept: ReadonlyArray<readonly [string, string]> = []): string {
  let slot = free.pop();
  if (!slot) {
    slot = { dir: mkdtempSync(path.join(tmpdir(), 'pg-authsim-cluster-')), files: new Map() };
    all.add(slot.dir);
    if (!exitHook) {
      exitHook = true;
      process.on('exit', () => { for (const d of all) rmSync(d, { recursive: true, force: true }); });
    }
  }
  const wanted = new Map(files);
  const keep = new Map(kept);
  // Whatever the last cluster (or its server) left that this one does not ask for goes.
  for (const name of readdirSync(slot.dir)) {
    if (wanted.has(name)) continue;
    const text = keep.get(name);
    if (text !== undefined && unchanged(path.join(slot.dir, name), slot.files.get(name), text)) continue;
    rmSync(path.join(slot.dir, name), { recursive: true, force: true });
    slot.files.delete(name);
  }
  for (const [name, text] of wanted) {
    const file = path.join(slot.dir, name);
    if (unchanged(file, slot.files.get(name), text)) continue;
    try {
      writeFileSync(file, text);
      const st = statSync(file);
      slot.files.set(name, { text, mtimeMs: st.mtimeMs, size: st.size });
    } catch (err) {
      slot.files.delete(name);
      free.push(slot);
      throw err;
    }
  }
  inUse.set(slot.dir, slot);
  return slot.dir;
}

const inUse = new Map<string, Slot>();

/** The file still holds `text` as we wrote it: same text asked for, and nobody wrote it since. */
function unchanged(file: string, w: Written | undefined, text: string): boolean {
  if (!w || w.text !== text) return false;
  try {
    const st = statSync(file);
    return st.mtimeMs === w.mtimeMs && st.size === w.size;
  } catch {
    return false;
  }
}

/**
 * Give a directory back for the next cluster. `created`: files the server wrote and what they
 * should hold; each is remembered (for `kept`) only if the file holds exactly that text now.
 */
export function releaseDataDirectory(dir: string, created: ReadonlyArray<readonly [string, string]> = []): void {
  const slot = inUse.get(dir);
  if (!slot) return;
  inUse.delete(dir);
  for (const [name, text] of created) {
    const file = path.join(dir, name);
    try {
      const st = statSync(file);
      if (readFileSync(file, 'utf8') === text) slot.files.set(name, { text, mtimeMs: st.mtimeMs, size: st.size });
      else slot.files.delete(name);
    } catch {
      slot.files.delete(name);
    }
  }
  free.push(slot);
}
