/**
 * `node dist/scripts/capture-pg15-catalog.js`: read the catalog data the session answers from
 * out of a fresh real PostgreSQL 15 cluster (initdb'd by spec/support/real-pg.ts) and write it
 * as TypeScript data:
 *
 * - src/config/pg15-settings.ts — every row of pg_settings (type, context, boot value, bounds,
 *   enum values, unit) and which ones a non-superuser cannot see (GUC_SUPERUSER_ONLY);
 * - src/sql/catalog/pg15-pg-type.ts — pg_type of a fresh database (what postgres.js's type
 *   fetch reads), with the catalog relations' OIDs;
 * - src/sql/catalog/asyncpg-introspection.ts — asyncpg's type introspection query (from the
 *   installed asyncpg) and what PostgreSQL 15 answers it for every built-in type.
 *
 * Run as root (the cluster runs as the `postgres` OS user). The output is checked in; rerun
 * only to refresh it from a newer PostgreSQL 15.
 */
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import pg from 'pg';
import * as path from 'node:path';
import { RealPg } from '../spec/support/real-pg.js';
import { ROOT } from '../spec/support/fixtures.js';

const HEADER = (what: string) => `/**
 * ${what}
 * Captured from a fresh PostgreSQL 15 cluster by scripts/capture-pg15-catalog.ts; do not edit by hand.
 */
/* eslint-disable */
`;

async function json<T>(pg: RealPg, sql: string): Promise<T> {
  return JSON.parse((await pg15.sql(`SELECT coalesce(json_agg(t), '[]') FROM (${sql}) t`)).trim()) as T;
}

const pg15 = await RealPg.start({
  hba: 'host all all 127.0.0.1/32 trust',
  setupSql: 'CREATE ROLE plain LOGIN;',
  ssl: false,
});
try {
  const version = (await pg15.sql('SHOW server_version')).trim();
  type SettingRow = { name: string; vartype: string; context: string; boot_val: string | null; min_val: string | null; max_val: string | null; enumvals: string[] | null; unit: string | null; short_desc: string; category: string; extra_desc: string | null };
  const settings = await json<SettingRow[]>(pg15, 'SELECT name, vartype, context, boot_val, min_val, max_val, enumvals, unit, short_desc, category, extra_desc FROM pg_settings ORDER BY name');
  // What a role without pg_read_all_settings sees: the rest are GUC_SUPERUSER_ONLY.
  const visible = new Set(JSON.parse((await pg15.sql(`SET ROLE plain; SELECT json_agg(name) FROM pg_settings`)).trim().split('\n').pop()!) as string[]);
  const flags = await json<Array<{ name: string; flags: string[] }>>(pg15, 'SELECT name, pg_settings_get_flags(name) AS flags FROM pg_settings');
  const flagsByName = new Map(flags.map((f) => [f.name, f.flags]));
  const rows = settings.map((s) => ({
    ...s,
    superuser_only: !visible.has(s.name),
    no_reset_all: (flagsByName.get(s.name) ?? []).includes('NO_RESET_ALL'),
  }));
  writeFileSync(path.join(ROOT, 'src/config/pg15-settings.ts'), `${HEADER(`pg_settings of PostgreSQL ${version}, plus GUC_SUPERUSER_ONLY (hidden from a plain role) and GUC_NO_RESET_ALL.`)}
export interface Pg15Setting {
  name: string;
  vartype: 'bool' | 'integer' | 'real' | 'string' | 'enum';
  context: 'internal' | 'postmaster' | 'sighup' | 'superuser-backend' | 'backend' | 'superuser' | 'user';
  boot_val: string | null;
  min_val: string | null;
  max_val: string | null;
  enumvals: string[] | null;
  unit: string | null;
  short_desc: string;
  category: string;
  extra_desc: string | null;
  superuser_only: boolean;
  no_reset_all: boolean;
}

export const PG15_SERVER_VERSION = ${JSON.stringify(version)};

export const PG15_SETTINGS: readonly Pg15Setting[] = [
${rows.map((r) => `  ${JSON.stringify(r)},`).join('\n')}
];
`);

  const typeColumns = ['oid', 'typname', 'typnamespace', 'typowner', 'typlen', 'typbyval', 'typtype', 'typcategory', 'typispreferred',
    'typisdefined', 'typdelim', 'typrelid', 'typsubscript', 'typelem', 'typarray', 'typinput', 'typoutput', 'typreceive', 'typsend',
    'typmodin', 'typmodout', 'typanalyze', 'typalign', 'typstorage', 'typnotnull', 'typbasetype', 'typtypmod', 'typndims', 'typcollation',
    'typdefaultbin', 'typdefault', 'typacl'];
  const types = await json<Array<Record<string, unknown>>>(pg15, `SELECT ${typeColumns.map((c) => `${c}::text AS ${c}`).join(', ')} FROM pg_type ORDER BY pg_type.oid`);
  const columnTypes = await json<Array<{ attname: string; atttypid: number; attnum: number }>>(pg15,
    `SELECT attname, atttypid::int, attnum FROM pg_attribute WHERE attrelid = 'pg_type'::regclass AND attnum > 0 AND attname IN (${typeColumns.map((c) => `'${c}'`).join(', ')}) ORDER BY attnum`);
  // A bool cast to text reads true/false; its output function (what a client receives) says t/f.
  const boolColumns = new Set(columnTypes.filter((c) => c.atttypid === 16).map((c) => c.attname));
  const boolOut = (column: string, v: unknown) => (v === null ? null : boolColumns.has(column) ? String(v).slice(0, 1) : String(v));
  const relations = await json<Array<{ oid: number; relname: string }>>(pg15,
    `SELECT oid::int, relname FROM pg_class WHERE relnamespace = 'pg_catalog'::regnamespace AND relkind IN ('r', 'v') ORDER BY oid`);
  writeFileSync(path.join(ROOT, 'src/sql/catalog/pg15-pg-type.ts'), `${HEADER(`pg_type of a fresh PostgreSQL ${version} database (values as text), and pg_catalog's tables and views by OID.`)}
/** pg_type's columns: name, type OID, attnum. */
export const PG_TYPE_COLUMNS: ReadonlyArray<readonly [string, number, number]> = ${JSON.stringify(columnTypes.map((c) => [c.attname, c.atttypid, c.attnum]))};

export const PG_TYPE_ROWS: ReadonlyArray<ReadonlyArray<string | null>> = [
${types.map((t) => `  ${JSON.stringify(typeColumns.map((c) => boolOut(c, t[c])))},`).join('\n')}
];

/** pg_class OIDs of pg_catalog's tables and views: RowDescription names them as a column's origin. */
export const PG_CATALOG_RELATIONS: Readonly<Record<string, number>> = {
${relations.map((r) => `  ${r.relname}: ${r.oid},`).join('\n')}
};
`);
  // asyncpg's introspection statement, run as asyncpg runs it (one oid[] parameter), for every type at once:
  // each type's row is the same whatever else is asked, only its depth in the tree varies.
  const introQuery = execFileSync('python3', ['-c', 'import asyncpg, asyncpg.introspection as i; print(asyncpg.__version__); print(i.INTRO_LOOKUP_TYPES, end="")'], { encoding: 'utf8' });
  const [asyncpgVersion, ...queryLines] = introQuery.split('\n');
  const introSql = queryLines.join('\n');
  const client = new pg.Client({ host: '127.0.0.1', port: pg15.port, user: 'plain', database: 'postgres', types: { getTypeParser: () => (v: string) => v } });
  await client.connect();
  const allOids = types.map((t) => Number(t.oid));
  const intro = await client.query({ text: introSql, values: [allOids], rowMode: 'array' });
  await client.end();
  const byOid = new Map<string, unknown[]>();
  const depthAt = intro.fields.findIndex((f) => f.name === 'depth');
  for (const row of intro.rows as unknown[][]) if (!byOid.has(String(row[0]))) byOid.set(String(row[0]), row.filter((_, i) => i !== depthAt));
  writeFileSync(path.join(ROOT, 'src/sql/catalog/asyncpg-introspection.ts'), `${HEADER(`asyncpg ${asyncpgVersion}'s type introspection (introspection.INTRO_LOOKUP_TYPES) and PostgreSQL ${version}'s answer for each built-in type.`)}
export const ASYNCPG_VERSION = ${JSON.stringify(asyncpgVersion)};

/** The statement asyncpg prepares to learn about types it has no codec for (arrays of most types). */
export const ASYNCPG_INTROSPECTION_SQL = ${JSON.stringify(introSql)};

/** Its result columns as PostgreSQL 15 describes them: name, type OID, typlen, table OID, attnum. */
export const ASYNCPG_INTROSPECTION_COLUMNS: ReadonlyArray<readonly [string, number, number, number, number]> = ${JSON.stringify(intro.fields.map((f) => [f.name, f.dataTypeID, f.dataTypeSize, f.tableID, f.columnID]))};

/** Each type's row (text values, without depth), by OID. */
export const ASYNCPG_TYPEINFO: Readonly<Record<string, ReadonlyArray<string | null>>> = {
${[...byOid].map(([oid, row]) => `  ${oid}: ${JSON.stringify(row)},`).join('\n')}
};
`);
  console.log(`PostgreSQL ${version}: ${rows.length} settings (${rows.filter((r) => r.superuser_only).length} superuser-only), ${types.length} types, ${relations.length} catalog relations`);
} finally {
  await pg15.stop();
}
