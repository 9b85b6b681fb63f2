/**
 * The testing API speaks every client: TestCluster.connect() with psql, psycopg and each driver
 * profile (as the URL that driver takes), and the exported scripted wire client.
 */
import * as chai from 'chai';
import { expect } from 'chai';
import { TestCluster, WireClient, login, pgAuthsimChai, connectRequestFromUrl } from '../../src/testing/index.js';
import type { ClientTraceEvent } from '../../src/clients/trace.js';

chai.use(pgAuthsimChai);

describe('TestCluster.connect(): every client model', () => {
  let cluster: TestCluster;
  beforeEach(async () => {
    cluster = await TestCluster.start({
      postgresqlConf: { ssl: true, shared_preload_libraries: 'auth_delay', 'auth_delay.milliseconds': 2000 },
      hba: 'host all all 0.0.0.0/0 scram-sha-256',
      roles: "CREATE ROLE test LOGIN PASSWORD 'secret';",
    });
  });
  afterEach(() => cluster.close());

  it("pgjdbc with a wrong password under prefer: one connection (it retries only after 28000), the driver's error", async () => {
    const r = await cluster.connect('pgjdbc', 'jdbc:postgresql://localhost:5432/postgres?user=test&sslmode=prefer', { password: 'wrong' });
    await cluster.idle();
    expect(r.ok).to.equal(false);
    expect(r.error).to.deep.include({ code: '28P01', name: 'PSQLException' });
    expect(cluster.trace).to.have.hookCalls(['ERROR/ssl']);
  });

  it('asyncpg with its default sslmode: SSL, then a plaintext retry', async () => {
    const r = await cluster.connect('asyncpg', 'postgres://test@localhost/postgres', { password: 'wrong' });
    await cluster.idle();
    expect(r.attempts.map((a) => a.encryption)).to.deep.equal(['ssl', 'plain']);
    expect(cluster.trace).to.have.hookCalls(['ERROR/ssl', 'ERROR/plain']);
  });

  it('postgres.js and node-postgres verify the cluster certificate (verify-full) and log in', async () => {
    for (const client of ['postgres.js', 'pg'] as const) {
      const r = await cluster.connect(client, 'postgres://test:secret@localhost/postgres?sslmode=verify-full');
      expect(r.ok, `${client}: ${r.error?.message}`).to.equal(true);
    }
    await cluster.idle();
    expect(cluster.trace).to.have.hookCalls(['OK/ssl', 'OK/ssl']);
  });

  it('pgx pays twice for a wrong password under its default prefer, lib/pq once under its default require; both verify the cluster certificate', async () => {
    const x = await cluster.connect('pgx', 'postgres://test@localhost/postgres', { password: 'wrong' });
    const q = await cluster.connect('pq', 'postgres://test@localhost/postgres', { password: 'wrong' });
    expect([x.ok, q.ok]).to.deep.equal([false, false]);
    expect(x.error?.message).to.match(/failed SASL auth \(FATAL: password authentication failed for user "test" \(SQLSTATE 28P01\)\)$/);
    expect(q.error).to.deep.equal({ message: 'pq: password authentication failed for user "test"', code: '28P01' });
    for (const client of ['pgx', 'lib/pq']) {
      const r = await cluster.connect(client, 'postgres://test:secret@localhost/postgres?sslmode=verify-full');
      expect(r.ok, `${client}: ${r.error?.message}`).to.equal(true);
    }
    await cluster.idle();
    expect(cluster.trace).to.have.hookCalls(['ERROR/ssl', 'ERROR/plain', 'ERROR/ssl', 'OK/ssl', 'OK/ssl']);
  });

  it("psql and psycopg by name, with the decisions traced", async () => {
    const events: ClientTraceEvent[] = [];
    const p = await cluster.connect('psql-libpq17', 'user=test dbname=postgres', { password: 'wrong', onTrace: (e) => events.push(e) });
    expect(p.exitCode).to.equal(2);
    expect(events.filter((e) => e.decision === 'retry-new-connection')).to.have.length(1);
    const y = await cluster.connect('psycopg', 'user=test dbname=postgres sslmode=require', { password: 'secret' });
    expect(y.ok).to.equal(true);
    await cluster.idle();
    expect(cluster.trace).to.have.hookCalls(['ERROR/ssl', 'ERROR/plain', 'OK/ssl']);
  });

  it('refuses an unknown client by naming the known ones', async () => {
    let message = '';
    try { await cluster.connect('nope', 'postgres://x@localhost/db'); } catch (err) { message = (err as Error).message; }
    expect(message).to.match(/unknown client "nope": psql, .*pgjdbc, asyncpg/);
  });

  it('reads URLs as each driver writes them', () => {
    expect(connectRequestFromUrl('jdbc:postgresql://db.example:6432/app?user=u&password=p&sslmode=require')).to.deep.equal({
      host: 'db.example', port: 6432, user: 'u', database: 'app', password: 'p', options: { sslmode: 'require' },
    });
    expect(connectRequestFromUrl('postgres://u%40x:p%3A@[::1]/?sslmode=disable', null)).to.deep.equal({
      host: '::1', port: 5432, user: 'u@x', database: 'u@x', password: null, options: { sslmode: 'disable' },
    });
  });
});

describe('WireClient (pg-authsim/testing): a scripted protocol client', () => {
  it('asks for SSL and upgrades in one call, sends typed messages, reads decoded ones', async () => {
    const cluster = await TestCluster.start({ postgresqlConf: { ssl: true }, hba: 'hostssl all all 0.0.0.0/0 scram-sha-256', roles: "CREATE ROLE test LOGIN PASSWORD 'secret';" });
    try {
      const c = WireClient.memory(cluster.server);
      expect(await c.requestSsl()).to.equal('S');
      c.send({ type: 'StartupMessage', protocolVersion: { major: 3, minor: 0 }, params: [['user', 'test'], ['database', 'postgres']] });
      const sasl = await c.expect('AuthenticationSASL');
      expect(sasl).to.deep.equal({ type: 'AuthenticationSASL', mechanisms: ['SCRAM-SHA-256-PLUS', 'SCRAM-SHA-256'] });
      c.destroy();

      const session = WireClient.memory(cluster.server);
      const ok = await login(session, 'test', 'secret', { ssl: true });
      expect(ok.map((m) => m.type)).to.include.members(['AuthenticationOk', 'ReadyForQuery']);
      session.send({ type: 'Terminate' });
      session.end();
      const refused = await login(WireClient.memory(cluster.server), 'test', 'secret');
      expect(refused.at(-1)).to.deep.include({ type: 'ErrorResponse' });
      await cluster.idle();
      expect(cluster.trace.connectionCount()).to.equal(3);
    } finally {
      await cluster.close();
    }
  });
});
