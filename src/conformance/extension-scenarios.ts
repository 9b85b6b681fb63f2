/**
 * Scenario files for the extension differential: what a hook author writes
 * to compare a C extension with its TypeScript port. A file names the
 * server setup both sides share (postgresql.conf, roles, pg_hba.conf
 * variants, the SQL that reads and resets the extension's state) and a list
 * of psql runs; a case whose fields are lists is a grid of every
 * combination. See README "Porting a C extension" and the files in
 * examples/extensions/.
 */
import { readFileSync } from 'node:fs';
import type { ConfValue } from './real-server.js';
import { SSLMODES, type SslMode } from './scenarios.js';

/** What psql is given: the role's password, another one, none (psql -w), or none and a prompt answered with one of them. */
export type PasswordAnswer = 'right' | 'wrong' | 'none' | 'prompt:right' | 'prompt:wrong';
export const PASSWORD_ANSWERS: readonly PasswordAnswer[] = ['right', 'wrong', 'none', 'prompt:right', 'prompt:wrong'];

/** One entry of `cases`: any of hba, user, sslmode and password may be a list, making a grid. */
export interface CaseSpec {
  /** The case's id; for a grid, the prefix of each case's id. Default: made from the values. */
  id?: string;
  /** A key of the file's `hba` (which pg_hba.conf the servers run with). */
  hba: string | string[];
  user?: string | string[];
  dbname?: string;
  /** libpq's sslmode; absent means libpq's default (prefer). */
  sslmode?: SslMode | SslMode[];
  password: PasswordAnswer | PasswordAnswer[];
  /** More conninfo, e.g. `application_name=x`. */
  options?: string;
  /** psql runs, one after another; state is read after each (default 1). */
  repeat?: number;
  /** Run the file's `reset` SQL before the case (default true). */
  reset?: boolean;
  /** SQL run by the harness superuser on both sides before the case (after reset), e.g. ALTER SYSTEM ... ; SELECT pg_reload_conf(); its output is compared. */
  before?: string;
}

export interface ExtensionScenarioFile {
  description?: string;
  /** ssl = on with the repository's test certificates (default true). */
  ssl?: boolean;
  /** postgresql.conf for both sides. shared_preload_libraries names the C libraries; on the simulator each is replaced by its port. */
  conf?: Record<string, ConfValue>;
  /** Roles as SQL, run on both sides (the subset pg-authsim's roles file takes). */
  roles: string;
  /** The passwords `right` and `wrong` stand for (default secret / not-the-password). */
  passwords?: { right?: string; wrong?: string };
  /** pg_hba.conf variants by name. The harness puts its own trust line for its role first, so yours start at line 2. */
  hba: Record<string, string>;
  /** Read after every psql run, on both sides; the rows are compared (sorted, unless the query has ORDER BY). */
  state?: string;
  /** Run before every case whose `reset` is not false. */
  reset?: string;
  /** Real server only, after the roles: default `CREATE EXTENSION name;` for each library that comes with a control file. */
  realSetup?: string;
  cases: CaseSpec[];
}

/** A case after grids are expanded and defaults applied. */
export interface ExtensionCase {
  id: string;
  hba: string;
  user: string;
  dbname: string;
  sslmode: SslMode | null;
  password: PasswordAnswer;
  options: string;
  repeat: number;
  reset: boolean;
  before: string | null;
}

export interface ExtensionScenarios {
  file: ExtensionScenarioFile;
  /** Where the file was read from ('' when given as an object). */
  path: string;
  passwords: { right: string; wrong: string };
  cases: ExtensionCase[];
}

const asList = <T>(v: T | T[] | undefined, fallback: T): T[] => (v === undefined ? [fallback] : Array.isArray(v) ? v : [v]);

function fail(where: string, message: string): never {
  throw new Error(`${where}: ${message}`);
}

function checkFile(f: unknown, where: string): asserts f is ExtensionScenarioFile {
  if (typeof f !== 'object' || f === null || Array.isArray(f)) fail(where, 'a scenario file is a JSON object');
  const o = f as Record<string, unknown>;
  const known = new Set(['description', 'ssl', 'conf', 'roles', 'passwords', 'hba', 'state', 'reset', 'realSetup', 'cases', '$comment']);
  for (const k of Object.keys(o)) if (!known.has(k)) fail(where, `unknown field "${k}" (expected ${[...known].filter((x) => x !== '$comment').join(', ')})`);
  if (typeof o.roles !== 'string') fail(where, '"roles" must be SQL text');
  if (typeof o.hba !== 'object' || o.hba === null || Object.keys(o.hba).length === 0) fail(where, '"hba" must name at least one pg_hba.conf variant');
  for (const [k, v] of Object.entries(o.hba as object)) if (typeof v !== 'string') fail(where, `hba "${k}" must be pg_hba.conf text`);
  for (const k of ['state', 'reset', 'realSetup', 'description'] as const) if (o[k] !== undefined && typeof o[k] !== 'string') fail(where, `"${k}" must be text`);
  if (!Array.isArray(o.cases) || o.cases.length === 0) fail(where, '"cases" must be a non-empty list');
}

/** Every case of a file, grids expanded, ids unique. Throws naming the file and case on any mistake. */
export function expandScenarios(file: ExtensionScenarioFile, where = 'scenarios'): ExtensionScenarios {
  checkFile(file, where);
  const out: ExtensionCase[] = [];
  file.cases.forEach((spec, i) => {
    const at = `${where}: cases[${i}]${spec.id ? ` (${spec.id})` : ''}`;
    const fields = new Set(['id', 'hba', 'user', 'dbname', 'sslmode', 'password', 'options', 'repeat', 'reset', 'before', '$comment']);
    for (const k of Object.keys(spec)) if (!fields.has(k)) fail(at, `unknown field "${k}"`);
    if (spec.hba === undefined) fail(at, '"hba" is required');
    const hbas = asList(spec.hba, '');
    const users = asList(spec.user, 'test');
    const sslmodes = asList<SslMode | null>(spec.sslmode, null);
    if (spec.password === undefined) fail(at, '"password" is required (right, wrong, none, prompt:right or prompt:wrong)');
    const passwords = asList<PasswordAnswer>(spec.password, 'none');
    for (const h of hbas) if (!(h in file.hba)) fail(at, `hba "${h}" is not one of ${Object.keys(file.hba).join(', ')}`);
    for (const m of sslmodes) if (m !== null && !SSLMODES.includes(m)) fail(at, `unknown sslmode "${m}"`);
    for (const p of passwords) if (!PASSWORD_ANSWERS.includes(p)) fail(at, `unknown password "${p}" (expected ${PASSWORD_ANSWERS.join(', ')})`);
    const repeat = spec.repeat ?? 1;
    if (!Number.isInteger(repeat) || repeat < 1) fail(at, `repeat must be a positive integer, got ${spec.repeat}`);
    const grid = [spec.hba, spec.user, spec.sslmode, spec.password].some(Array.isArray);
    for (const hba of hbas) for (const user of users) for (const sslmode of sslmodes) for (const password of passwords) {
      const made = `${hba}/${user}/${sslmode ?? 'default'}/${password}`;
      out.push({
        id: spec.id === undefined ? made : grid ? `${spec.id}/${made}` : spec.id,
        hba, user, dbname: spec.dbname ?? 'postgres', sslmode, password,
        options: spec.options ?? '', repeat, reset: spec.reset ?? true, before: spec.before ?? null,
      });
    }
  });
  const seen = new Set<string>();
  for (const c of out) {
    if (seen.has(c.id)) fail(where, `two cases have the id "${c.id}"; give them ids`);
    seen.add(c.id);
  }
  return {
    file,
    path: '',
    passwords: { right: file.passwords?.right ?? 'secret', wrong: file.passwords?.wrong ?? 'not-the-password' },
    cases: out,
  };
}

export function readScenarioFile(file: string): ExtensionScenarios {
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(file, 'utf8'));
  } catch (e) {
    throw new Error(`${file}: ${e instanceof Error ? e.message : String(e)}`);
  }
  return { ...expandScenarios(parsed as ExtensionScenarioFile, file), path: file };
}

/** Cases grouped by pg_hba.conf variant (one real server and one simulator each), in order of first appearance. */
export function groupByHba(cases: readonly ExtensionCase[]): ExtensionCase[][] {
  const groups = new Map<string, ExtensionCase[]>();
  for (const c of cases) {
    const g = groups.get(c.hba);
    if (g) g.push(c);
    else groups.set(c.hba, [c]);
  }
  return [...groups.values()];
}
