/**
 * The built-in functions and views every server has (pg_catalog), registered in the server's
 * SqlRegistry before extensions load: what drivers and psql users ask right after connecting.
 * All are executable/selectable by PUBLIC, as in PostgreSQL.
 */
import { PgError } from '../errors.js';
import type { MutablePort } from '../port.js';
import type { SqlCallContext, SqlColumn, SqlRegistry, SqlValue } from './registry.js';
import { PG_TYPE_COLUMNS, PG_TYPE_ROWS, PG_CATALOG_RELATIONS } from './catalog/pg15-pg-type.js';
import { OID, pgTypeName, textIn, typeByOid } from './types.js';
import type { GucSettingRow } from '../config/guc.js';
import { PG15_SETTINGS } from '../config/pg15-settings.js';
import { ASYNCPG_INTROSPECTION_COLUMNS, ASYNCPG_INTROSPECTION_SQL, ASYNCPG_TYPEINFO } from './catalog/asyncpg-introspection.js';

/** What the session adds to a call context: its own settings, for current_setting/set_config. */
export interface SessionCallContext extends SqlCallContext {
  /** set_config(name, value, is_local): returns the new value as SHOW prints it. */
  setSetting(name: string, value: string | null, isLocal: boolean): string;
  /** current_setting(name, missing_ok): like setting(), but raising PostgreSQL's errors. */
  showSetting(name: string, missingOk: boolean): string | null;
  /** pg_settings as this session sees it: the GUC rows it may see, with their reset values. */
  settingRows(): ReadonlyArray<GucSettingRow & { resetVal: string }>;
  /** The connection, for inet_client_addr() and friends. */
  readonly port: Readonly<MutablePort>;
  /** Statement and transaction start times. */
  readonly transactionStart: Date;
  readonly statementStart: Date;
  now(): Date;
}

/** What the built-in views read from the server. */
export interface BuiltinHost {
  /** "15.20 (Debian 15.20-0+deb12u1)" */
  serverVersion(): string;
  /** Live client backends (pg_stat_ssl). */
  sessions(): ReadonlyArray<{ pid: number; port: Readonly<MutablePort>; tlsBits: number }>;
}

/** The text SELECT version() returns for a server_version. */
export function versionString(serverVersion: string): string {
  return `PostgreSQL ${serverVersion} on x86_64-pc-linux-gnu, compiled by gcc (Debian 12.2.0-14+deb12u1) 12.2.0, 64-bit`;
}

const session = (ctx: SqlCallContext) => ctx as SessionCallContext;
const PG15_BY_NAME = new Map(PG15_SETTINGS.map((s) => [s.name, s]));

/** X509_NAME_to_cstring(): "/CN=test" style, most general first (the reverse of RFC 2253). */
function x509Name(rfc2253: string | null): string | null {
  if (rfc2253 === null) return null;
  return rfc2253.split(',').reverse().map((p) => `/${p}`).join('');
}

export function registerBuiltins(sql: SqlRegistry, host: BuiltinHost): void {
  const fn = sql.defineFunction.bind(sql);
  const schema = 'pg_catalog';
  fn({ name: 'version', schema, args: [], returns: 'text', volatility: 'stable', execute: 'public', call: () => versionString(host.serverVersion()) });
  fn({ name: 'pg_backend_pid', schema, args: [], returns: 'int4', volatility: 'stable', execute: 'public', call: (_a, ctx) => ctx.pid });
  fn({ name: 'current_database', schema, args: [], returns: 'name', volatility: 'stable', execute: 'public', call: (_a, ctx) => ctx.database });
  fn({ name: 'current_schema', schema, args: [], returns: 'name', volatility: 'stable', execute: 'public', call: () => 'public' });
  fn({
    name: 'current_setting', schema, args: [{ type: 'text' }], returns: 'text', volatility: 'stable', strict: true, execute: 'public',
    call: ([name], ctx) => session(ctx).showSetting(String(name), false),
  });
  fn({
    name: 'current_setting', schema, args: [{ type: 'text' }, { type: 'bool' }], returns: 'text', volatility: 'stable', strict: true, execute: 'public',
    call: ([name, missingOk], ctx) => session(ctx).showSetting(String(name), missingOk === true),
  });
  fn({
    name: 'set_config', schema, args: [{ type: 'text' }, { type: 'text' }, { type: 'bool' }], returns: 'text', volatility: 'volatile', execute: 'public',
    call: ([name, value, isLocal], ctx) => {
      if (name === null) throw new PgError({ severity: 'ERROR', sqlstate: '22004', message: 'SET requires parameter name' });
      return session(ctx).setSetting(String(name), value === null ? null : String(value), isLocal === true);
    },
  });
  // Session advisory locks are never taken here, so there is nothing to release.
  fn({ name: 'pg_advisory_unlock_all', schema, args: [], returns: 'void', volatility: 'volatile', execute: 'public', call: () => null });
  fn({ name: 'pg_is_in_recovery', schema, args: [], returns: 'bool', volatility: 'volatile', execute: 'public', call: () => false });
  for (const name of ['now', 'transaction_timestamp']) {
    fn({ name, schema, args: [], returns: 'timestamptz', volatility: 'stable', execute: 'public', call: (_a, ctx) => session(ctx).transactionStart });
  }
  fn({ name: 'statement_timestamp', schema, args: [], returns: 'timestamptz', volatility: 'stable', execute: 'public', call: (_a, ctx) => session(ctx).statementStart });
  fn({ name: 'clock_timestamp', schema, args: [], returns: 'timestamptz', volatility: 'volatile', execute: 'public', call: (_a, ctx) => session(ctx).now() });
  // Unix-socket connections have no client address: NULL, as in PostgreSQL.
  const tcp = (ctx: SqlCallContext) => (session(ctx).port.remote_port === '' ? null : session(ctx).port);
  fn({ name: 'inet_client_addr', schema, args: [], returns: 'inet', volatility: 'stable', execute: 'public', call: (_a, ctx) => tcp(ctx)?.remote_host ?? null });
  fn({ name: 'inet_client_port', schema, args: [], returns: 'int4', volatility: 'stable', execute: 'public', call: (_a, ctx) => { const p = tcp(ctx); return p ? Number(p.remote_port) : null; } });
  fn({
    name: 'format_type', schema, args: [{ type: 'oid' }, { type: 'int4' }], returns: 'text', volatility: 'stable', execute: 'public',
    call: ([oid]) => (oid === null ? null : formatTypeName(Number(oid))),
  });

  for (const type of ['int4', 'int8'] as const) {
    const series = (start: number | bigint, stop: number | bigint, step: number | bigint): SqlValue[][] => {
      if (BigInt(step) === 0n) throw new PgError({ severity: 'ERROR', sqlstate: '22023', message: 'step size cannot equal zero', ...(type === 'int4' ? { file: 'int.c', line: 1555 } : { file: 'int8.c' }), routine: type === 'int4' ? 'generate_series_step_int4' : 'generate_series_step_int8' });
      const out: SqlValue[][] = [];
      const big = (x: number | bigint) => BigInt(x);
      for (let i = big(start); big(step) > 0n ? i <= big(stop) : i >= big(stop); i += big(step)) out.push([type === 'int8' ? i : Number(i)]);
      return out;
    };
    const returns = { setof: [{ name: 'generate_series', type }] } as const;
    fn({ name: 'generate_series', schema, args: [{ type }, { type }], returns, volatility: 'immutable', strict: true, execute: 'public', call: ([a, b]) => series(a as number, b as number, 1) });
    fn({ name: 'generate_series', schema, args: [{ type }, { type }, { type }], returns, volatility: 'immutable', strict: true, execute: 'public', call: ([a, b, c]) => series(a as number, b as number, c as number) });
  }

  sql.defineView({
    name: 'pg_settings', schema, oid: PG_CATALOG_RELATIONS.pg_settings!, select: 'public',
    columns: [
      { name: 'name', type: 'text' }, { name: 'setting', type: 'text' }, { name: 'unit', type: 'text' }, { name: 'category', type: 'text' },
      { name: 'short_desc', type: 'text' }, { name: 'extra_desc', type: 'text' }, { name: 'context', type: 'text' }, { name: 'vartype', type: 'text' },
      { name: 'source', type: 'text' }, { name: 'min_val', type: 'text' }, { name: 'max_val', type: 'text' }, { name: 'enumvals', type: 'text[]' },
      { name: 'boot_val', type: 'text' }, { name: 'reset_val', type: 'text' }, { name: 'sourcefile', type: 'text' }, { name: 'sourceline', type: 'int4' },
      { name: 'pending_restart', type: 'bool' },
    ],
    rows: (ctx) => session(ctx).settingRows().map((r): SqlValue[] => {
      const pg = PG15_BY_NAME.get(r.name);
      // Where a value came from is shown to superusers only (pg_read_all_settings).
      const file = ctx.superuser ? r.sourcefile : null;
      return [r.name, r.setting, r.unit, pg?.category ?? 'Customized Options', pg?.short_desc ?? null, pg?.extra_desc ?? null, r.context, r.vartype,
        r.source, r.minVal, r.maxVal, r.enumvals, r.bootVal, r.resetVal, file, ctx.superuser ? r.sourceline : null, r.pendingRestart];
    }),
  });

  sql.defineView({
    name: 'pg_stat_ssl', schema, oid: PG_CATALOG_RELATIONS.pg_stat_ssl!, select: 'public',
    columns: [
      { name: 'pid', type: 'int4' }, { name: 'ssl', type: 'bool' }, { name: 'version', type: 'text' }, { name: 'cipher', type: 'text' },
      { name: 'bits', type: 'int4' }, { name: 'client_dn', type: 'text' }, { name: 'client_serial', type: 'numeric' }, { name: 'issuer_dn', type: 'text' },
    ],
    rows: () => host.sessions().map(({ pid, port, tlsBits }): SqlValue[] => (port.ssl_in_use
      ? [pid, true, port.ssl_protocol, port.ssl_cipher, tlsBits, x509Name(port.peer_dn), null, null]
      : [pid, false, null, null, null, null, null, null])),
  });

  sql.defineStatement({
    name: 'asyncpg_introspection', sql: ASYNCPG_INTROSPECTION_SQL, params: ['oid[]'],
    columns: ASYNCPG_INTROSPECTION_COLUMNS.map(([name, oid]) => ({ name, type: pgTypeName(oid) })),
    rows: ([oids]) => asyncpgIntrospection((oids ?? []) as readonly SqlValue[]),
  });

  sql.defineView({ name: 'pg_type', schema, oid: PG_CATALOG_RELATIONS.pg_type!, select: 'public', columns: pgTypeColumns(), rows: pgTypeRows });
}

let typeColumns: SqlColumn[] | null = null;
let typeRows: SqlValue[][] | null = null;

/** pg_type's columns; the same for every server, so built once per process. */
function pgTypeColumns(): SqlColumn[] {
  return typeColumns ??= PG_TYPE_COLUMNS.map(([name, oid]) => ({ name, type: (typeByOid(oid)?.typname ?? 'text') as never }));
}

/** pg_type's captured rows as values: decoded on the first read in this process (most servers never read it), then shared. */
function pgTypeRows(): SqlValue[][] {
  return typeRows ??= PG_TYPE_ROWS.map((row) => row.map((text, i) => (text === null ? null : textIn(PG_TYPE_COLUMNS[i]![1], text))));
}

/**
 * asyncpg's introspection statement, answered as its recursive CTE would: the requested types
 * at depth 0, then what they refer to (element, range subtype, attribute and base types) one
 * level deeper each, distinct rows, deepest first. Each type's row is PostgreSQL 15's, captured.
 */
function asyncpgIntrospection(oids: readonly SqlValue[]): SqlValue[][] {
  const columns = ASYNCPG_INTROSPECTION_COLUMNS.filter(([name]) => name !== 'depth');
  const depthAt = ASYNCPG_INTROSPECTION_COLUMNS.findIndex(([name]) => name === 'depth');
  const rows: SqlValue[][] = [];
  const seen = new Set<string>();
  let level = oids.filter((o): o is number => o !== null).map(String).filter((o) => ASYNCPG_TYPEINFO[o]);
  for (let depth = 0; level.length > 0; depth++) {
    const next: string[] = [];
    for (const oid of level) {
      if (seen.has(`${oid}:${depth}`)) continue;
      seen.add(`${oid}:${depth}`);
      const info = ASYNCPG_TYPEINFO[oid]!;
      const values = info.map((text, i) => (text === null ? null : textIn(columns[i]![1], text)));
      rows.push([...values.slice(0, depthAt), depth, ...values.slice(depthAt)]);
      const [,,,, basetype, elemtype,, rangeSubtype, attrtypoids] = info;
      const refs = [basetype, elemtype, rangeSubtype, ...(attrtypoids ? attrtypoids.slice(1, -1).split(',') : [])];
      for (const r of refs) if (r && r !== '0' && ASYNCPG_TYPEINFO[r]) next.push(r);
    }
    level = next;
  }
  return rows.sort((a, b) => Number(b[depthAt]) - Number(a[depthAt]));
}

/** format_type(oid, NULL) for the captured built-in types. */
function formatTypeName(oid: number): string | null {
  const known = typeByOid(oid);
  if (known) return known.display;
  const row = PG_TYPE_ROWS.find((r) => r[0] === String(oid));
  if (!row) return '???';
  const typname = row[1]!;
  return typname.startsWith('_') ? `${typname.slice(1)}[]` : typname;
}

export { OID };
