/**
 * SQL objects from the SqlRegistry, as an extension defines them: views and functions with
 * column types, privileges (superuser-only by default), set-returning functions, utility
 * statement handlers; read in-process with cluster.query() and by real clients over TCP
 * (psql, node-postgres, psycopg), which must render the types as they render PostgreSQL's.
 */
import { expect } from 'chai';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import pg from 'pg';
import { TestCluster, ClusterQueryError } from '../../src/testing/index.js';
import type { SqlRegistry, SqlValue } from '../../src/sql/registry.js';
import { WireClient } from '../support/wire-client.js';
import { startupMessage } from '../support/raw-login.js';
import { encodeFrontend } from '../../src/wire/codec.js';

const run = promisify(execFile);
const ROLES = "CREATE ROLE test SUPERUSER LOGIN PASSWORD 'secret';\nCREATE ROLE plain LOGIN PASSWORD 'secret';\n";
const LAST = new Date(Date.UTC(2026, 0, 2, 3, 4, 5, 678));

/** A small auth-monitor extension's SQL surface, registered as _PG_init would through ctx.sql. */
function define(sql: SqlRegistry, state: { rows: SqlValue[][]; resets: number; created: string[] }): void {
  sql.defineView({
    name: 'auth_counts',
    columns: [{ name: 'usename', type: 'name' }, { name: 'successes', type: 'int8' }, { name: 'failures', type: 'int4' }, { name: 'last_failure', type: 'timestamptz' }, { name: 'banned', type: 'bool' }],
    rows: () => state.rows,
  });
  sql.defineView({ name: 'auth_public', select: 'public', columns: [{ name: 'n', type: 'int4' }], rows: () => [[state.rows.length]] });
  sql.defineFunction({ name: 'auth_counts_reset', args: [], returns: 'void', call: (_args, ctx) => { state.resets++; ctx.notice({ severity: 'NOTICE', sqlstate: '00000', message: `reset by ${ctx.user}` }); return null; } });
  sql.defineFunction({ name: 'double_it', args: [{ type: 'int4' }], returns: 'int4', strict: true, execute: 'public', call: ([n]) => Number(n) * 2 });
  sql.defineFunction({
    name: 'auth_failures', args: [{ type: 'name' }], execute: 'public',
    returns: { setof: [{ name: 'attempt', type: 'int4' }, { name: 'who', type: 'text' }] },
    call: ([who]) => [[1, String(who)], [2, String(who)]],
  });
  sql.defineUtility('CommentStmt', (node) => {
    state.created.push(String((node as { comment: string }).comment));
    return { tag: 'COMMENT' };
  });
}

describe('SQL objects from the registry', () => {
  let cluster: TestCluster;
  let state: { rows: SqlValue[][]; resets: number; created: string[] };

  beforeEach(async () => {
    state = { rows: [['alice', 3n, 2, LAST, false], ['bob', 0n, 5, null, true], ['carol', 1n, 2, LAST, false]], resets: 0, created: [] };
    cluster = await TestCluster.start({ hba: 'host all all 127.0.0.1/32 trust', roles: ROLES });
    define(cluster.server.sql, state);
  });
  afterEach(() => cluster.close());

  it('SELECT * FROM a view: its columns, their types, and the rows as text', async () => {
    const r = await cluster.query('SELECT * FROM auth_counts', { user: 'test' });
    expect(r.command).to.equal('SELECT 3');
    expect(r.columns.map((c) => `${c.name} ${c.type}`)).to.deep.equal(['usename name', 'successes bigint', 'failures integer', 'last_failure timestamp with time zone', 'banned boolean']);
    expect(r.rows[0]).to.deep.equal(['alice', '3', '2', '2026-01-02 03:04:05.678+00', 'f']);
    expect(r.rows[1]).to.deep.equal(['bob', '0', '5', null, 't']);
  });

  it('column lists, WHERE col = literal, ORDER BY col DESC; RowDescription names the view as the columns\' table', async () => {
    const r = await cluster.query("SELECT usename, failures, usename FROM auth_counts WHERE failures = '2' ORDER BY usename DESC", { user: 'test' });
    expect(r.objects).to.deep.equal([{ usename: 'alice', failures: '2' }, { usename: 'carol', failures: '2' }].reverse());
    expect(r.rows).to.deep.equal([['carol', '2', 'carol'], ['alice', '2', 'alice']]);

    const c = WireClient.memory(cluster.server);
    c.send(startupMessage('test'));
    await c.until('readyForQuery');
    c.send(encodeFrontend({ type: 'Query', sql: 'SELECT failures, banned FROM auth_counts' }));
    const msgs = await c.until('readyForQuery');
    const fields = msgs.find((m) => m.name === 'rowDescription')!.fields as Array<Record<string, unknown>>;
    const oid = cluster.server.sql.viewOid('auth_counts');
    expect(oid).to.be.at.least(16384);
    expect(fields.map((f) => [f.name, f.tableID, f.columnID, f.dataTypeID, f.dataTypeSize])).to.deep.equal([['failures', oid, 3, 23, 4], ['banned', oid, 5, 16, 1]]);
    c.end();
  });

  it('a view and a function are superuser-only by default: 42501 for others, as REVOKE ... FROM PUBLIC leaves them', async () => {
    const view = await cluster.query('SELECT * FROM auth_counts', { user: 'plain' }).catch((e: unknown) => e);
    expect(view).to.be.instanceOf(ClusterQueryError);
    expect((view as ClusterQueryError).fields).to.include({ code: '42501', message: 'permission denied for view auth_counts' });
    const fn = await cluster.query('SELECT auth_counts_reset()', { user: 'plain' }).catch((e: unknown) => e);
    expect((fn as ClusterQueryError).fields).to.include({ code: '42501', message: 'permission denied for function auth_counts_reset' });
    expect(state.resets).to.equal(0);
    expect((await cluster.query('SELECT n FROM auth_public', { user: 'plain' })).rows).to.deep.equal([['3']]);
  });

  it('SELECT f() runs the function (void is an empty string) and its NOTICE reaches the client', async () => {
    const r = await cluster.query('SELECT auth_counts_reset()', { user: 'test' });
    expect(state.resets).to.equal(1);
    expect(r.columns).to.deep.equal([{ name: 'auth_counts_reset', typeOid: 2278, type: 'void' }]);
    expect(r.rows).to.deep.equal([['']]);
    expect(r.notices.map((n) => `${n.severity} ${n.message}`)).to.deep.equal(['NOTICE reset by test']);
  });

  it('SELECT * FROM f() for a set-returning function, with an alias; SELECT f() gives one record per row', async () => {
    const r = await cluster.query("SELECT who, attempt FROM auth_failures('bob') AS f ORDER BY attempt DESC", { user: 'plain' });
    expect(r.rows).to.deep.equal([['bob', '2'], ['bob', '1']]);
    const rec = await cluster.query("SELECT auth_failures('bob')", { user: 'plain' });
    expect(rec.columns[0]).to.deep.equal({ name: 'auth_failures', typeOid: 2249, type: 'record' });
    expect(rec.rows).to.deep.equal([['(1,bob)'], ['(2,bob)']]);
  });

  it('a STRICT function gets no call for NULL; an unknown literal argument takes the parameter type', async () => {
    expect((await cluster.query("SELECT double_it(NULL), double_it('21'), double_it(4)", { user: 'plain' })).rows).to.deep.equal([[null, '42', '8']]);
    const e = await cluster.query("SELECT double_it('x')", { user: 'plain' }).catch((x: unknown) => x) as ClusterQueryError;
    expect(e.fields).to.include({ code: '22P02', message: 'invalid input syntax for type integer: "x"', position: '18' });
  });

  it('undefined objects: 42P01 with the position, 42883 with its HINT and the argument types', async () => {
    const rel = await cluster.query('SELECT * FROM auth_countz', { user: 'test' }).catch((x: unknown) => x) as ClusterQueryError;
    expect(rel.fields).to.include({ code: '42P01', message: 'relation "auth_countz" does not exist', position: '15' });
    const fn = await cluster.query("SELECT double_it(1, 'a')", { user: 'test' }).catch((x: unknown) => x) as ClusterQueryError;
    expect(fn.fields).to.include({ code: '42883', message: 'function double_it(integer, unknown) does not exist', position: '8' });
    expect(fn.fields.hint).to.equal('No function matches the given name and argument types. You might need to add explicit type casts.');
  });

  it('utility statements go to the registered handler; one without a handler is a clear 0A000', async () => {
    const r = await cluster.query("COMMENT ON ROLE plain IS 'a plain role'", { user: 'test' });
    expect(r.command).to.equal('COMMENT');
    expect(state.created).to.deep.equal(['a plain role']);
    const e = await cluster.query('CREATE TABLE t (a int)', { user: 'test' }).catch((x: unknown) => x) as ClusterQueryError;
    expect(e.fields).to.include({ code: '0A000', message: 'pg-authsim does not simulate CREATE TABLE' });
  });

  it('CREATE ROLE through the session (the role DDL the server registers): the new role can log in', async () => {
    expect((await cluster.query("CREATE ROLE newbie LOGIN PASSWORD 'pw'", { user: 'test' })).command).to.equal('CREATE ROLE');
    expect((await cluster.query('SELECT current_user, session_user', { user: 'newbie' })).rows).to.deep.equal([['newbie', 'newbie']]);
    const denied = await cluster.query('CREATE ROLE other2', { user: 'plain' }).catch((x: unknown) => x) as ClusterQueryError;
    expect(denied.sqlstate).to.equal('42501');
  });

  it('an extension that throws a plain Error gets ERROR XX000 (elog without errcode), and the session goes on', async () => {
    cluster.server.sql.defineView({ name: 'broken', select: 'public', columns: [{ name: 'x', type: 'int4' }], rows: () => { throw new Error('view exploded'); } });
    const c = WireClient.memory(cluster.server);
    c.send(startupMessage('plain'));
    await c.until('readyForQuery');
    c.send(encodeFrontend({ type: 'Query', sql: 'SELECT * FROM broken' }));
    const failed = await c.until('readyForQuery');
    expect(failed.map((m) => (m.name === 'error' ? `E ${m.code} ${m.message}` : m.name))).to.deep.equal(['rowDescription', 'E XX000 view exploded', 'readyForQuery']);
    c.send(encodeFrontend({ type: 'Query', sql: 'SELECT 1' }));
    expect((await c.until('readyForQuery')).find((m) => m.name === 'dataRow')?.fields).to.deep.equal(['1']);
    c.end();
  });

  it('ALTER SYSTEM and pg_reload_conf() through the session; a reload reaches open sessions at their next command, not what they SET', async () => {
    const c = WireClient.memory(cluster.server);
    c.send(startupMessage('test'));
    await c.until('readyForQuery');
    const q = async (sql: string) => {
      c.send(encodeFrontend({ type: 'Query', sql }));
      return (await c.until('readyForQuery')).filter((m) => m.name === 'dataRow' || m.name === 'commandComplete' || m.name === 'error')
        .map((m) => (m.name === 'dataRow' ? (m.fields as string[]).join(',') : m.name === 'error' ? `E ${m.code}` : m.text));
    };
    expect(await q("SET statement_timeout = '5s'")).to.deep.equal(['SET']);
    expect(await q("ALTER SYSTEM SET work_mem = '8MB'; ALTER SYSTEM SET statement_timeout = '7s'")).to.deep.equal(['ALTER SYSTEM', 'ALTER SYSTEM']);
    expect(await q('SELECT pg_reload_conf(); SHOW work_mem')).to.deep.equal(['t', 'SELECT 1', '4MB', 'SHOW']);
    expect(await q('SHOW work_mem; SHOW statement_timeout')).to.deep.equal(['8MB', 'SHOW', '5s', 'SHOW']);
    expect(await q('RESET statement_timeout; SHOW statement_timeout')).to.deep.equal(['RESET', '7s', 'SHOW']);
    c.end();
  });

  it('cluster.query logs in with a password where pg_hba.conf asks for one', async () => {
    const scram = await TestCluster.start({ hba: 'host all all 127.0.0.1/32 scram-sha-256', roles: ROLES });
    try {
      expect((await scram.query('SELECT current_user', { user: 'plain', password: 'secret' })).rows).to.deep.equal([['plain']]);
      const failed = await scram.query('SELECT 1', { user: 'plain', password: 'wrong' }).catch((x: unknown) => x) as Error;
      expect(failed.message).to.match(/password authentication failed for user "plain"/);
    } finally {
      await scram.close();
    }
  });

  describe('real clients over TCP render the registry\'s types', function () {
    this.timeout(30_000);
    let tcp: TestCluster;
    let port: number;
    before(async () => {
      tcp = await TestCluster.start({ clock: 'real', hba: 'host all all 127.0.0.1/32 trust', roles: ROLES });
      define(tcp.server.sql, { rows: [['alice', 3n, 2, LAST, false], ['bob', 0n, 5, null, true]], resets: 0, created: [] });
      port = await tcp.listen();
    });
    after(() => tcp.close());

    it('psql 15 prints the view in its aligned format', async () => {
      const { stdout } = await run('psql', ['-X', '-h', '127.0.0.1', '-p', String(port), '-U', 'test', '-d', 'postgres', '-c', 'SELECT usename, successes, last_failure, banned FROM auth_counts ORDER BY usename'], { env: { PATH: process.env.PATH ?? '/usr/bin', PGSSLMODE: 'disable' } });
      expect(stdout).to.equal(
        ' usename | successes |        last_failure        | banned \n' +
        '---------+-----------+----------------------------+--------\n' +
        ' alice   |         3 | 2026-01-02 03:04:05.678+00 | f\n' +
        ' bob     |         0 |                            | t\n' +
        '(2 rows)\n\n');
    });

    it('node-postgres parses int8 as a string, int4 as a number, timestamptz as a Date, bool as a boolean', async () => {
      const client = new pg.Client({ host: '127.0.0.1', port, user: 'test', database: 'postgres' });
      await client.connect();
      try {
        const r = await client.query('SELECT usename, successes, failures, last_failure, banned FROM auth_counts WHERE usename = $1', ['alice']);
        expect(r.rows).to.deep.equal([{ usename: 'alice', successes: '3', failures: 2, last_failure: LAST, banned: false }]);
      } finally {
        await client.end();
      }
    });

    it('psycopg 3 loads them as int, datetime with UTC and bool', async () => {
      const script = `
import psycopg
with psycopg.connect("host=127.0.0.1 port=${port} user=test dbname=postgres sslmode=disable") as conn:
    row = conn.execute("SELECT usename, successes, failures, last_failure, banned FROM auth_counts WHERE usename = %s", ("alice",)).fetchone()
    print(repr(row))
    print(repr(conn.execute("SELECT * FROM auth_failures(%s)", ("bob",)).fetchall()))
`;
      const { stdout } = await run('python3', ['-c', script]);
      expect(stdout.trim().split('\n')).to.deep.equal([
        "('alice', 3, 2, datetime.datetime(2026, 1, 2, 3, 4, 5, 678000, tzinfo=zoneinfo.ZoneInfo(key='Etc/UTC')), False)",
        "[(1, 'bob'), (2, 'bob')]",
      ]);
    });
  });
});
