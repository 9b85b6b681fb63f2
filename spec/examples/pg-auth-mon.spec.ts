/**
 * examples/extensions/pg_auth_mon.ts on its own, in-process on virtual time: what it counts
 * per hook call, unknown roles under OID 0, the table written to the log at shutdown and every
 * pg_auth_mon.log_period, and separate counts per server. The rows are read with the same SQL as
 * in production (cluster.query: a real session, whose login pg_auth_mon counts like any other);
 * spec/examples/extension-differential.spec.ts reads them with psql and compares them with the
 * C original's.
 */
import { expect } from 'chai';
import { TestCluster } from 'pg-authsim/testing';
import { pgAuthMon } from '../../examples/extensions/pg_auth_mon.js';

const ROLES = "CREATE ROLE test LOGIN PASSWORD 'secret';\nCREATE ROLE other LOGIN PASSWORD 'secret';\nCREATE ROLE admin SUPERUSER LOGIN PASSWORD 'pw';\n";
const ADMIN = { user: 'admin', password: 'pw', sslmode: 'disable' };
const HOST = 'host all all 127.0.0.1/32 scram-sha-256';

function start(hba = HOST, conf: Record<string, string | number | boolean> = {}): Promise<TestCluster> {
  return TestCluster.start({ postgresqlConf: { ssl: true, ...conf }, hba, roles: ROLES, extensions: [pgAuthMon] });
}

/** `SELECT * FROM pg_auth_mon` by role name (the reading superuser's own row left out), timestamps as present/absent. */
async function view(cluster: TestCluster): Promise<Record<string, unknown[]>> {
  const r = await cluster.query('SELECT * FROM pg_auth_mon', ADMIN);
  const out: Record<string, unknown[]> = {};
  for (const [rolname, deleted, uid, ok, lastOk, conflicts, failures, lastFailed] of r.rows) {
    if (rolname === 'admin') continue;
    out[rolname!] = [deleted === 't', Number(uid), Number(ok), lastOk !== null, Number(conflicts), Number(failures), lastFailed !== null];
  }
  return out;
}

async function psql(cluster: TestCluster, conninfo: string, password?: string): Promise<void> {
  await cluster.psql(conninfo, password === undefined ? {} : { password });
  await cluster.idle();
}

describe('example extension: pg_auth_mon', () => {
  let cluster: TestCluster;
  afterEach(() => cluster?.close());

  it('counts each hook call: a success, every failed attempt (prefer retries a wrong password), no EOF', async () => {
    cluster = await start();
    await psql(cluster, 'user=test dbname=postgres sslmode=prefer', 'secret');
    await psql(cluster, 'user=test dbname=postgres sslmode=prefer', 'wrong');
    await psql(cluster, 'user=test dbname=postgres sslmode=prefer'); // psql -w: STATUS_EOF, not counted
    //                         deleted uid    ok  last_ok conflicts failures last_failed
    expect(await view(cluster)).to.deep.equal({ test: [false, 16384, 1, true, 0, 2, true] });
  });

  it('groups unknown roles under OID 0, with an empty name after one attempt and the last name after more', async () => {
    cluster = await start();
    await psql(cluster, 'user=ghost dbname=postgres sslmode=require', 'wrong');
    expect(await view(cluster)).to.deep.equal({ '': [true, 0, 0, false, 0, 1, true] });
    await psql(cluster, 'user=spectre dbname=postgres sslmode=require', 'wrong');
    expect(await view(cluster)).to.deep.equal({ spectre: [true, 0, 0, false, 0, 2, true] });
  });

  it('counts an unknown role let in by trust as a failure', async () => {
    cluster = await start('host all all 127.0.0.1/32 trust');
    await psql(cluster, 'user=ghost dbname=postgres sslmode=require');
    await psql(cluster, 'user=test dbname=postgres sslmode=require');
    expect(await view(cluster)).to.deep.equal({ '': [true, 0, 0, false, 0, 1, true], test: [false, 16384, 1, true, 0, 0, false] });
  });

  it('never sees a reject line: PostgreSQL 15 ends those connections before the hook', async () => {
    cluster = await start(`host all test 127.0.0.1/32 reject\n${HOST}`);
    await psql(cluster, 'user=test dbname=postgres sslmode=prefer', 'secret');
    await psql(cluster, 'user=other dbname=postgres sslmode=require', 'secret');
    expect(await view(cluster)).to.deep.equal({ other: [false, 16385, 1, true, 0, 0, false] });
  });

  it('shows the C view\'s columns and types, to superusers only, and pg_auth_mon() to everyone', async () => {
    cluster = await start();
    const r = await cluster.query('SELECT * FROM pg_auth_mon', ADMIN);
    // As \\d pg_auth_mon shows them on PostgreSQL 15 with pg_auth_mon 1.1.
    expect(r.columns.map((c) => `${c.name} ${c.typeOid}`)).to.deep.equal([
      'rolname 19', 'deleted 16', 'uid 26', 'successful_attempts 23', 'last_successful_ts 1184',
      'total_hba_conflicts 23', 'other_auth_failures 23', 'last_failed_ts 1184',
    ]);
    const denied = await cluster.query('SELECT * FROM pg_auth_mon', { user: 'test', password: 'secret' }).then(() => null, (e: Error & { sqlstate: string }) => e);
    expect([denied?.sqlstate, denied?.message]).to.deep.equal(['42501', 'permission denied for view pg_auth_mon']);
    const fn = await cluster.query('SELECT uid, rolename_at_last_login_attempt FROM pg_auth_mon() ORDER BY uid', { user: 'test', password: 'secret' });
    expect(fn.columns.map((c) => c.typeOid)).to.deep.equal([26, 19]);
    expect(fn.rows).to.deep.equal([['16384', 'test'], ['16386', 'admin']]);
  });

  it('writes every entry to the log when the server shuts down', async () => {
    cluster = await start();
    await psql(cluster, 'user=test dbname=postgres sslmode=require', 'secret');
    const trace = cluster.trace;
    await cluster.close();
    expect(trace.log()).to.match(/LOG: {2}pg_auth_mon entry for user oid : 16384 rolename_at_last_login_attempt: test total_successful_attempts: 1; last_successful_login_at: 2026-01-01 00:00:\d\d(\.\d+)?\+00; last_failed_attempt_at: 0; total_hba_conflicts: 0; other_auth_failures: 0\n/);
  });

  it('writes the table to the log on the first hook call pg_auth_mon.log_period minutes after the last dump', async () => {
    cluster = await start(HOST, { 'pg_auth_mon.log_period': 1 });
    const dumps = () => cluster.trace.log().split('\n').filter((l) => l.includes('pg_auth_mon entry')).length;
    await psql(cluster, 'user=test dbname=postgres sslmode=require', 'secret');
    expect(dumps()).to.equal(0);
    await cluster.clock.sleep(60_000);
    await psql(cluster, 'user=other dbname=postgres sslmode=require', 'secret');
    expect(dumps()).to.equal(2); // test and other
    await psql(cluster, 'user=other dbname=postgres sslmode=require', 'secret');
    expect(dumps()).to.equal(2);
  });

  it('keeps two servers\' counts apart', async () => {
    cluster = await start();
    const other = await start();
    try {
      await psql(cluster, 'user=test dbname=postgres sslmode=require', 'secret');
      await psql(other, 'user=other dbname=postgres sslmode=require', 'secret');
      expect(Object.keys(await view(cluster))).to.deep.equal(['test']);
      expect(Object.keys(await view(other))).to.deep.equal(['other']);
    } finally {
      await other.close();
    }
  });
});
