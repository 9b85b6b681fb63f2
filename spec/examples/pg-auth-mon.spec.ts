/**
 * examples/extensions/pg_auth_mon.ts on its own, in-process on virtual time: what it counts
 * per hook call, unknown roles under OID 0, the table written to the log at shutdown and every
 * pg_auth_mon.log_period, and separate counts per server. The rows are read through the view
 * the port registers (rows()), as the session's SQL does;
 * spec/examples/extension-differential.spec.ts reads them with psql and compares them with the
 * C original's.
 */
import { expect } from 'chai';
import { TestCluster } from 'pg-authsim/testing';
import type { SqlCallContext } from 'pg-authsim';
import { pgAuthMon } from '../../examples/extensions/pg_auth_mon.js';

const ROLES = "CREATE ROLE test LOGIN PASSWORD 'secret';\nCREATE ROLE other LOGIN PASSWORD 'secret';\n";
const HOST = 'host all all 127.0.0.1/32 scram-sha-256';

function start(hba = HOST, conf: Record<string, string | number | boolean> = {}): Promise<TestCluster> {
  return TestCluster.start({ postgresqlConf: { ssl: true, ...conf }, hba, roles: ROLES, extensions: [pgAuthMon] });
}

type Row = [string, boolean, number, number, Date | null, number, number, Date | null];

/** The view's rows by role name, timestamps as present/absent. */
async function view(cluster: TestCluster): Promise<Record<string, unknown[]>> {
  const def = cluster.server.sql.lookupView('pg_auth_mon')!;
  const ctx = { user: 'postgres', userOid: 10, superuser: true, database: 'postgres', pid: 1 } as unknown as SqlCallContext;
  const out: Record<string, unknown[]> = {};
  for (const r of await def.rows(ctx) as Iterable<Row>) out[r[0]] = [r[1], r[2], r[3], r[4] !== null, r[5], r[6], r[7] !== null];
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
