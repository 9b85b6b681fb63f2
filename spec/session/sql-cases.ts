/**
 * SQL the session answers, as cases for the differential spec: each runs on a fresh
 * connection to real PostgreSQL 15 and to the simulator, and everything the server sends
 * after login must agree (message sequence, RowDescription, rows, every error field).
 */
import type { FrontendMessage } from '../../src/wire/messages.js';
import { bytesToString } from '../../src/bytes.js';

export interface SqlCase {
  /**
   * A simple Query string, or a sequence of messages (each Sync or Query ends a round); a Buffer
   * is sent as it is (a malformed message).
   */
  run: string | Array<FrontendMessage | Buffer>;
  /** Who logs in: `test` is a superuser, `plain` is not. */
  user?: 'test' | 'plain';
  /** Why the case is here, when the SQL does not say it. */
  note?: string;
}

const q = (sql: string, user?: 'test' | 'plain'): SqlCase => ({ run: sql, ...(user ? { user } : {}) });
const int4 = (n: number) => { const b = Buffer.alloc(4); b.writeInt32BE(n); return b; };
const P = (sql: string, paramTypes: number[] = [], name = ''): FrontendMessage => ({ type: 'Parse', name, sql, paramTypes });
const B = (values: Array<Buffer | null> = [], opts: { portal?: string; statement?: string; paramFormats?: number[]; resultFormats?: number[] } = {}): FrontendMessage =>
  ({ type: 'Bind', portal: opts.portal ?? '', statement: opts.statement ?? '', paramFormats: opts.paramFormats ?? [], values, resultFormats: opts.resultFormats ?? [] });
const D = (kind: 'S' | 'P', name = ''): FrontendMessage => ({ type: 'Describe', kind, name });
const E = (portal = '', maxRows = 0): FrontendMessage => ({ type: 'Execute', portal, maxRows });
const S: FrontendMessage = { type: 'Sync' };
const H: FrontendMessage = { type: 'Flush' };
const C = (kind: 'S' | 'P', name: string): FrontendMessage => ({ type: 'Close', kind, name });
const Q = (sql: string): FrontendMessage => ({ type: 'Query', sql });
/** A message of type `t` with this body, however wrong. */
const raw = (t: string, body: Buffer): Buffer => { const h = Buffer.alloc(5); h[0] = t.charCodeAt(0); h.writeInt32BE(body.length + 4, 1); return Buffer.concat([h, body]); };

/** postgres.js's type fetch, byte for byte as postgres 3.4.9 sends it. */
export const POSTGRES_JS_TYPE_QUERY = `
      select b.oid, b.typarray
      from pg_catalog.pg_type a
      left join pg_catalog.pg_type b on b.oid = a.typelem
      where a.typcategory = 'A'
      group by b.oid, b.typarray
      order by b.oid
    `;

export const SQL_CASES: SqlCase[] = [
  // constants, names and types of unnamed columns
  q('SELECT 1'),
  q('select 1 as x, 2'),
  q("SELECT 'a', 'b'::text, 1.5, 10000000000, true, null, -7, 2.50"),
  q('SELECT current_user, session_user, user, current_role, current_catalog, current_database(), current_schema'),
  q("SELECT 'x'::name, 'y'::varchar, 'z'::bpchar, 'q'::\"char\", '\\x6869'::bytea"),
  q("SELECT 1.5::float4, 0.1::float8, 1e15::float8, 1e14::float8, 1e-5::float8, 0.0001::float8, 123456789::float4, '-0'::float8, 'NaN'::float8, 'inf'::float8"),
  q("SELECT '1.50'::numeric, 1e3::numeric, '-0.001'::numeric, 12345678901234567890"),
  q("SELECT ARRAY[1,2], '{1,2}'::int[], ARRAY['a', 'b c', NULL], '{}'::text[]"),
  q("SELECT NULL::int, NULL::text, 1::text, '42'::int, 3::bigint, 7::smallint, 1::oid"),
  q("SELECT ARRAY['a', 'b c']::name[], '{1,2}'::text[]::int4[], ARRAY[1, 2]::int8[]"),
  q('SELECT 7/2, 7 % 3, 2 * 3 + 1, 7.0 / 2, 1 - 2, 2147483647 + 0'),
  q("SELECT 1 = 1, 1 <> 2, 'a' < 'b', 2 >= 3, 1 IS NULL, NULL IS NULL, 1 IS DISTINCT FROM NULL"),
  q("SELECT CASE WHEN true THEN 'a' ELSE 'b' END, CASE 2 WHEN 1 THEN 'one' WHEN 2 THEN 'two' END, coalesce(NULL, 2), nullif(1, 1)"),
  q("SELECT 1 IN (1, 2), 3 NOT IN (1, 2), 'abc' LIKE 'a%', 'abc' NOT LIKE '_x%', 'ABC' ILIKE 'a%', 2 BETWEEN 1 AND 3"),
  q('SELECT true AND false, true OR NULL, NOT true'),
  q('SELECT 1 WHERE false'),
  q('SELECT 1 LIMIT 0'),
  q('SELECT 1 UNION SELECT 2'),
  // errors from the grammar and from analysis, with their positions
  q('SELEC 1'),
  q('SELECT 1 +'),
  q("SELECT 'unterminated"),
  q("SELECT 'é' frm x"),
  q('SELECT * FROM nosuch'),
  q('SELECT * FROM public.nosuch'),
  q('SELECT * FROM nosuchschema.nosuch'),
  q('SELECT nosuch()'),
  q("SELECT 'é', nosuchfn(1, 'a', 2.5, true, NULL)"),
  q('SELECT pg_catalog.nosuch(1)'),
  q('SELECT x'),
  q('SELECT t.x FROM pg_type'),
  q('SELECT oid FROM pg_type a, pg_type b'),
  q('SELECT *'),
  q('SELECT $1'),
  q("SELECT 'x'::int"),
  q("SELECT 1 = 'x'"),
  q("SELECT 1 = 'a'::text"),
  q('SELECT 2147483648::int'),
  q('SELECT 1/0'),
  q("SELECT '1.5'::int"),
  q('SELECT 1.5::int, 2.5::int, (-2.5)::int, 2.5::float8::int, 3.5::float8::int'),
  q('SELECT 1::nosuchtype'),
  q('SELECT 1 WHERE 1'),
  q("SELECT 'a' || 1, 1 || 'b'"),
  q('SELECT * FROM pg_type, pg_type'),
  q("SELECT '1' + '1'"),
  q("SELECT -'1'"),
  q("SELECT typname FROM pg_type WHERE typname = ANY(ARRAY['int4', 'bool']) ORDER BY 1"),
  q("SELECT 1 = ANY('{1,2}'), 1 <> ALL(ARRAY[2,3]), 1 = ANY(NULL::int[]), 3 = ANY(ARRAY[1, NULL])"),
  q('SELECT x FROM generate_series(1, 3) x'),
  q('SELECT * FROM generate_series(1, 10, 3)'),
  q('SELECT generate_series(1::int8, 2), generate_series(5, 6)'),
  q('SELECT * FROM generate_series(1, 2, 0)'),
  // built-in functions
  q('SELECT version() = version(), pg_backend_pid() = pg_backend_pid()'),
  q('SELECT x = pg_backend_pid() FROM pg_backend_pid() AS p(x)'),
  q('SELECT * FROM current_database()'),
  q("SELECT current_setting('application_name'), set_config('application_name', 'set by set_config', false)"),
  q("SELECT current_setting('nosuch')"),
  q("SELECT current_setting('nosuch', true)"),
  q("SELECT current_setting('log_directory')", 'plain'),
  q('SELECT pg_advisory_unlock_all()'),
  q('SELECT pg_advisory_unlock_all();\nCLOSE ALL;\nUNLISTEN *;\nRESET ALL;'),
  q('SELECT pg_is_in_recovery(), inet_client_addr(), inet_client_port() > 0'),
  q("SELECT format_type(23, NULL), format_type(1043, NULL), format_type(1007, NULL), format_type(12000, NULL)"),
  // views: pg_stat_ssl, pg_type (what postgres.js reads)
  q('SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()'),
  q('SELECT ssl, version, cipher, bits, client_dn, client_serial, issuer_dn FROM pg_stat_ssl WHERE pid = pg_backend_pid()'),
  q(POSTGRES_JS_TYPE_QUERY),
  q("SELECT oid, typname, typlen, typbyval, typtype, typcategory, typelem, typarray, typinput FROM pg_type WHERE typname = 'int4'"),
  q('SELECT typname FROM pg_type WHERE oid = 23'),
  q('SELECT count(*) FROM pg_type'),
  q("SELECT count(*), min(oid), max(typname) FROM pg_type WHERE typcategory = 'N'"),
  q('SELECT typname FROM pg_type ORDER BY oid DESC LIMIT 3 OFFSET 1'),
  q("SELECT typname FROM pg_type WHERE typname LIKE 'int%' ORDER BY 1"),
  q("SELECT typcategory, count(*) FROM pg_type GROUP BY typcategory ORDER BY typcategory"),
  q('SELECT typname, count(*) FROM pg_type GROUP BY typcategory'),
  q("SELECT DISTINCT typcategory FROM pg_type WHERE typcategory IN ('B', 'S') ORDER BY typcategory DESC"),
  q("SELECT t.typname, e.typname FROM pg_type t JOIN pg_type e ON e.oid = t.typelem WHERE t.typname = '_int4'"),
  q("SELECT s.n FROM (SELECT typname AS n FROM pg_type WHERE oid < 20) s ORDER BY n"),
  q('SELECT * FROM pg_type WHERE oid = 16'),
  q("SELECT name, setting, unit, category, short_desc, extra_desc, context, vartype, source, min_val, max_val, enumvals, boot_val, reset_val, sourcefile, sourceline, pending_restart FROM pg_settings WHERE name IN ('work_mem', 'application_name', 'client_min_messages', 'server_version_num') ORDER BY name"),
  q("SET work_mem = '2MB'; SELECT setting, reset_val, source FROM pg_settings WHERE name = 'work_mem'"),
  q("SELECT count(*) FROM pg_settings WHERE name = 'ssl_ciphers'", 'plain'),
  // SHOW, SET, RESET and their errors
  q('SHOW ssl'),
  q('SHOW server_version'),
  q('SHOW server_version_num'),
  q('SHOW application_name'),
  q('SHOW DateStyle'),
  q('SHOW timezone'),
  q('SHOW TIME ZONE'),
  q('SHOW work_mem'),
  q('SHOW is_superuser', 'plain'),
  q('SHOW nosuch'),
  q('SHOW log_directory', 'plain'),
  q('SHOW log_directory', 'test'),
  q('SHOW transaction isolation level'),
  q('SET port = 5'),
  q('SET ssl = on'),
  q('SET server_version = 1'),
  q("SET work_mem = 'x'"),
  q('SET work_mem = 1'),
  q("SET work_mem = '1MB'; SHOW work_mem"),
  q("SET seq_page_cost = -1"),
  q("SET client_min_messages = 'bogus'"),
  q('SET enable_seqscan = maybe'),
  q("SET datestyle = 'german'; SHOW datestyle"),
  q("SET datestyle = 'german'; SET datestyle = 'ymd'; SHOW datestyle"),
  q("SET datestyle = 'bogus'"),
  q("SET search_path = a, 'b c', \"D\"; SHOW search_path"),
  q("SET timezone = 'nowhere'"),
  q("SET TIME ZONE 'UTC'; SHOW TimeZone"),
  q("SET application_name TO 'x;y'"),
  q('SET application_name = DEFAULT'),
  q('SET log_connections = on', 'plain'),
  q('SET log_error_verbosity = verbose', 'plain'),
  q('SET log_error_verbosity = verbose', 'test'),
  q('SET "bad..name" = 1'),
  q('SET x.y = 1; SHOW x.y'),
  q('SHOW x.nosuch'),
  q("SET LOCAL work_mem = '2MB'"),
  q('RESET work_mem'),
  q('RESET nosuch'),
  q('RESET ALL'),
  q("SET application_name = 'x'; SELECT 1/0"),
  q('SET client_encoding = LATIN1; SHOW client_encoding'),
  q("SET extra_float_digits = 0; SELECT 0.1::float8, 1.5::float4"),
  q('SET TRANSACTION ISOLATION LEVEL SERIALIZABLE'),
  q('SET SESSION CHARACTERISTICS AS TRANSACTION READ ONLY'),
  // transaction control
  q('BEGIN'),
  q('BEGIN; SELECT 1; COMMIT'),
  q('BEGIN; BEGIN; COMMIT'),
  q('START TRANSACTION ISOLATION LEVEL SERIALIZABLE; END'),
  q('COMMIT'),
  q('ROLLBACK'),
  q('ABORT'),
  q('SAVEPOINT a'),
  q('BEGIN; SAVEPOINT a; ROLLBACK TO a; RELEASE a; COMMIT'),
  q('BEGIN; RELEASE nosuch'),
  q("BEGIN; SET application_name = 'in block'; ROLLBACK; SHOW application_name"),
  q("BEGIN; SET LOCAL application_name = 'local'; SHOW application_name; COMMIT; SHOW application_name"),
  q('BEGIN; SELECT 1/0; SELECT 1'),
  q('BEGIN; SELEC; COMMIT'),
  { run: [Q('BEGIN'), Q('SELECT nosuch()'), Q('SELECT 1'), Q('COMMIT'), Q('SHOW application_name')] },
  { run: [Q('BEGIN'), Q('SAVEPOINT a'), Q('SELECT 1/0'), Q('ROLLBACK TO a'), Q('SELECT 2'), Q('COMMIT')] },
  // role DDL (the utility handlers the server registers), through the session
  q("CREATE ROLE diff_r1 LOGIN PASSWORD 'pw'; ALTER ROLE diff_r1 CONNECTION LIMIT 3; DROP ROLE diff_r1"),
  q('BEGIN; CREATE ROLE diff_r3; ROLLBACK'),
  // other utility statements
  q('DISCARD ALL'),
  q('BEGIN; DISCARD ALL'),
  q('SELECT 1; DISCARD ALL'),
  q('DISCARD PLANS'),
  q('CLOSE ALL'),
  q('CLOSE nosuch'),
  q('LISTEN x'),
  q('UNLISTEN *'),
  q('PREPARE p(int) AS SELECT $1::int + 1; EXECUTE p(41); DEALLOCATE p'),
  q("PREPARE p(int) AS SELECT $1; EXECUTE p('x')"),
  q('PREPARE p AS SELECT $1 + 1; EXECUTE p(1)'),
  q('EXECUTE nosuch'),
  q('DEALLOCATE nosuch'),
  q('DEALLOCATE ALL'),
  q(''),
  q(';'),
  q('-- only a comment'),
  q('SELECT 1; SELECT 2'),
  // client strings that are not UTF-8 (client_encoding = server_encoding = UTF8)
  q(bytesToString(Buffer.from("SELECT '\xff'", 'latin1'))),
  { run: [P(bytesToString(Buffer.from("SELECT '\xc3'", 'latin1'))), S] },
  { run: [P('SELECT $1::text'), B([Buffer.from([0x61, 0xe2, 0x28, 0xa1])]), E(), S] },
  // the extended query protocol
  { run: [P('SELECT $1::int AS a, $2 AS b', [0, 0]), D('S'), B([Buffer.from('1'), Buffer.from('x')], { paramFormats: [0] }), E(), S] },
  { run: [P('SELECT $1::int', [23]), B([int4(42)], { paramFormats: [1], resultFormats: [1] }), D('P'), E(), S] },
  { run: [P('SELECT $1::int'), D('S'), H, B([Buffer.from('7')]), E('', 1), S] },
  { run: [P('SELECT typname FROM pg_type WHERE oid < 20 ORDER BY oid', [], 's1'), B([], { statement: 's1', portal: 'p1' }), E('p1', 2), E('p1', 2), E('p1', 2), S, E('p1'), S] },
  { run: [P('SELECT 1; SELECT 2'), S] },
  { run: [P('SELECT $1'), D('S'), S] },
  { run: [P('SELECT 1 WHERE $1 IS NULL'), S] },
  { run: [P('SELECT $1::int'), B([Buffer.from('abc')]), E(), S] },
  { run: [P('SELECT $1::int'), B([Buffer.from('ab')], { paramFormats: [1] }), E(), S] },
  { run: [P('SELECT $1::int'), B([]), S] },
  { run: [P('SELECT 1'), B([], { resultFormats: [0, 0] }), S] },
  { run: [B([], { statement: 'nosuch' }), S] },
  { run: [D('P', 'nosuch'), D('S', 'nosuch'), S] },
  { run: [P('SELECT 2', [], 's1'), S, P('SELECT 3', [], 's1'), S] },
  { run: [Q('BEGIN'), P('SELEC'), B(), E(), S, P('SELECT 1'), S, P('ROLLBACK'), B(), E(), S] },
  { run: [P(''), B(), D('P'), E(), S] },
  { run: [P("SET application_name = 'ext'"), D('S'), B(), E(), S] },
  { run: [P('SHOW application_name'), D('S'), B([], { resultFormats: [1] }), D('P'), E(), S] },
  { run: [P('SELECT 1', [], 's1'), C('S', 's1'), C('P', 'zz'), S] },
  { run: [P('BEGIN'), B(), E(), P('SELECT nosuch()'), B(), E(), S, P('SELECT 1'), D('S'), S, Q('ROLLBACK')] },
  { run: [P('select * from nosuch where x = $1'), S] },
  { run: [P('SELECT $1::text, $2::bool, $3::int8, $4::float8, $5::numeric', [25, 16, 20, 701, 1700]), B([Buffer.from('t'), Buffer.from([1]), Buffer.alloc(8, 1), Buffer.from('3ff8000000000000', 'hex'), Buffer.from('000200000000000100010001', 'hex')], { paramFormats: [1] }), E(), S] },
  { run: [P("SELECT 1::int2, 2::int4, 3::int8, 'x'::text, true, 1.5::float4, 2.5::float8, '2.50'::numeric, 'n'::name, NULL::int, 23::oid"), B([], { resultFormats: [1] }), D('P'), E(), S] },
  { run: [P('SELECT $1 AS t, $2 AS b', [0, 16]), D('S'), H, B([Buffer.from('a'), Buffer.from('t')]), E(), S] },
  { run: [P('SELECT 1'), E(), S] },
  { run: [P('SELECT 1'), B(), E(), S, E(), S] },
  { run: [P('SELECT current_user', [], 'cu'), S, Q('SELECT 1'), B([], { statement: 'cu' }), E(), S] },
  // malformed extended-protocol messages: an ERROR, then everything up to Sync is skipped
  { run: [P('SELECT 1'), raw('B', Buffer.from([0, 0, 0, 1])), E(), S, Q('SELECT 2')] },
  { run: [P('SELECT 1'), raw('D', Buffer.from('X\0')), S] },
  { run: [raw('C', Buffer.from('Z\0')), S] },
  { run: [raw('P', Buffer.from('\0SELECT 1\0\0\x01')), S] },
  { run: [raw('E', Buffer.from('\0')), S] },
  { run: [raw('Q', Buffer.from('SELECT 1')), Q('SELECT 2')] },
  { run: [raw('d', Buffer.from('ignored')), raw('c', Buffer.alloc(0)), Q('SELECT 4')] },
];
